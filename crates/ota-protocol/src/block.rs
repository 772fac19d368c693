//! The binary reply to an MQTT block download request (spec §2.5):
//!
//! ```text
//! [u16 BE header_len][header JSON][block bytes (bSize)][u16 CRC-16/ARC of the block, LE]
//! ```
//!
//! The header is `{"id","code":200,"msg","data":{"fileToken","fileLength","bSize","bOffset"}}`.
//! The Link SDK reads the CRC trailer as a native `uint16_t`, i.e. little-endian on the MCUs
//! it runs on; the CRC is `crc_ibm` (CRC-16/ARC: reflected poly 0xA001, init 0).

use serde::{Deserialize, Serialize};

use crate::ProtocolError;
use crate::lenient::{self, opt_i64, opt_text, opt_u64};

/// CRC-16/ARC table, computed at compile time.
const CRC_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-16/ARC (a.k.a. CRC-16/IBM, `crc_ibm`): poly 0x8005 reflected, init 0, no xor-out.
pub fn crc16_arc(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc >> 8) ^ CRC_TABLE[usize::from((crc ^ u16::from(b)) as u8)]
    })
}

/// `header.data` of a successful reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockReplyData {
    /// Echo of the request's `fileToken`; optional for the SDK.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_text"
    )]
    pub file_token: Option<String>,
    /// Total file length in bytes.
    #[serde(deserialize_with = "required_u64")]
    pub file_length: u64,
    /// Bytes in this block.
    #[serde(deserialize_with = "required_u64")]
    pub b_size: u64,
    /// Offset of this block in the file.
    #[serde(deserialize_with = "required_u64")]
    pub b_offset: u64,
}

fn required_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    opt_u64(d)?.ok_or_else(|| serde::de::Error::custom("missing number"))
}

fn required_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    opt_i64(d)?.ok_or_else(|| serde::de::Error::custom("missing number"))
}

/// The JSON header of a block reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockReplyHeader {
    /// Echo of the request id.
    #[serde(default, deserialize_with = "opt_text")]
    pub id: Option<String>,
    /// `200` on success; anything else is an error the SDK reports.
    #[serde(deserialize_with = "required_i64")]
    pub code: i64,
    /// Human-readable status.
    #[serde(default)]
    pub msg: String,
    /// Present on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<BlockReplyData>,
}

/// A decoded block reply: the header and the block it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockReply<'a> {
    /// The JSON header.
    pub header: BlockReplyHeader,
    /// The block bytes (empty for an error reply).
    pub block: &'a [u8],
}

impl BlockReply<'_> {
    /// Encodes a successful reply carrying `block` at `offset` of a `file_length`-byte file.
    pub fn encode_ok(
        id: Option<&str>,
        file_token: Option<&str>,
        file_length: u64,
        offset: u64,
        block: &[u8],
    ) -> Result<Vec<u8>, ProtocolError> {
        let header = BlockReplyHeader {
            id: id.map(str::to_owned),
            code: 200,
            msg: "success".into(),
            data: Some(BlockReplyData {
                file_token: file_token.map(str::to_owned),
                file_length,
                b_size: block.len() as u64,
                b_offset: offset,
            }),
        };
        encode(&header, block)
    }

    /// Encodes an error reply: the header with `code` and `msg`, an empty block and the CRC
    /// of the empty block (0). The real platform's error form is unconfirmed; the Link SDK
    /// only checks `code == 200`.
    pub fn encode_error(id: Option<&str>, code: i64, msg: &str) -> Result<Vec<u8>, ProtocolError> {
        let header = BlockReplyHeader {
            id: id.map(str::to_owned),
            code,
            msg: msg.to_owned(),
            data: None,
        };
        encode(&header, &[])
    }

    /// Decodes a reply. For `code == 200` the total length must be
    /// `2 + header_len + bSize + 2` and the CRC must match; error replies carry no block.
    pub fn decode(payload: &[u8]) -> Result<BlockReply<'_>, ProtocolError> {
        let bad = |m: &str| ProtocolError::InvalidBlockReply(m.to_owned());
        let (len_bytes, rest) = payload
            .split_first_chunk::<2>()
            .ok_or_else(|| bad("too short"))?;
        let header_len = usize::from(u16::from_be_bytes(*len_bytes));
        if rest.len() < header_len {
            return Err(bad("header length beyond payload"));
        }
        let (header_bytes, rest) = rest.split_at(header_len);
        let header: BlockReplyHeader = lenient::from_slice(header_bytes)
            .map_err(|e| ProtocolError::InvalidBlockReply(format!("header: {e}")))?;
        if header.code != 200 {
            return Ok(BlockReply { header, block: &[] });
        }
        let data = header
            .data
            .as_ref()
            .ok_or_else(|| bad("success without data"))?;
        let b_size = usize::try_from(data.b_size).map_err(|_| bad("bSize too large"))?;
        if rest.len() != b_size.saturating_add(2) {
            return Err(ProtocolError::InvalidBlockReply(format!(
                "length {} != 2 + {header_len} + bSize {b_size} + 2",
                payload.len()
            )));
        }
        let (block, trailer) = rest.split_at(b_size);
        let trailer = u16::from_le_bytes([trailer[0], trailer[1]]);
        let computed = crc16_arc(block);
        if trailer != computed {
            return Err(ProtocolError::CrcMismatch { trailer, computed });
        }
        Ok(BlockReply { header, block })
    }
}

fn encode(header: &BlockReplyHeader, block: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let json = serde_json::to_vec(header).map_err(|_| ProtocolError::TooLarge("block header"))?;
    let header_len = u16::try_from(json.len()).map_err(|_| ProtocolError::TooLarge("header"))?;
    let mut out = Vec::with_capacity(2 + json.len() + block.len() + 2);
    out.extend_from_slice(&header_len.to_be_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(block);
    out.extend_from_slice(&crc16_arc(block).to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_arc_known_vectors() {
        assert_eq!(crc16_arc(b"123456789"), 0xBB3D);
        assert_eq!(crc16_arc(b""), 0x0000);
        assert_eq!(crc16_arc(b"A"), 0x30C0);
        assert_eq!(crc16_arc(&[0xFF; 4]), 0x9401);
    }

    #[test]
    fn ok_reply_layout_and_round_trip() {
        let block = b"hello block";
        let bytes = BlockReply::encode_ok(Some("42"), Some("tok"), 1000, 5, block).unwrap();
        let header_len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        let header = std::str::from_utf8(&bytes[2..2 + header_len]).unwrap();
        assert_eq!(
            header,
            r#"{"id":"42","code":200,"msg":"success","data":{"fileToken":"tok","fileLength":1000,"bSize":11,"bOffset":5}}"#
        );
        assert_eq!(bytes.len(), 2 + header_len + block.len() + 2);
        assert_eq!(&bytes[2 + header_len..bytes.len() - 2], block);
        let crc = crc16_arc(block).to_le_bytes();
        assert_eq!(&bytes[bytes.len() - 2..], &crc);

        let reply = BlockReply::decode(&bytes).unwrap();
        assert_eq!(reply.block, block);
        assert_eq!(reply.header.id.as_deref(), Some("42"));
        let data = reply.header.data.unwrap();
        assert_eq!(
            (data.file_length, data.b_size, data.b_offset),
            (1000, 11, 5)
        );
    }

    #[test]
    fn corrupt_replies_are_rejected() {
        let mut bytes = BlockReply::encode_ok(None, None, 3, 0, b"abc").unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 1;
        assert!(matches!(
            BlockReply::decode(&bytes),
            Err(ProtocolError::CrcMismatch { .. })
        ));
        bytes.pop();
        assert!(matches!(
            BlockReply::decode(&bytes),
            Err(ProtocolError::InvalidBlockReply(_))
        ));
        assert!(BlockReply::decode(&[]).is_err());
        assert!(BlockReply::decode(&[0, 50, b'{']).is_err());
        assert!(BlockReply::decode(&[0, 2, b'{', b'}']).is_err());
    }

    #[test]
    fn error_reply_round_trip() {
        let bytes = BlockReply::encode_error(Some("7"), 404, "no such stream").unwrap();
        let reply = BlockReply::decode(&bytes).unwrap();
        assert_eq!(reply.header.code, 404);
        assert_eq!(reply.header.msg, "no such stream");
        assert!(reply.block.is_empty() && reply.header.data.is_none());
        assert_eq!(&bytes[bytes.len() - 2..], &[0, 0]);
    }
}
