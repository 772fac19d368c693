//! LZMA token round trip: decoding a stream into plaintext and decisions and re-encoding the
//! decisions must reproduce the stream byte for byte, whatever encoder made it.

mod common;

use common::noise;
use lzma_rust2::{LzmaOptions, LzmaWriter};
use ota_delta::lzma::{Props, decode::decode, encode::encode, tokens};
use std::io::Write;

fn text(n: usize) -> Vec<u8> {
    let words = [
        "alpha ",
        "beta ",
        "gamma\n",
        "delta ",
        "firmware ",
        "volume ",
        "0x1F00 ",
    ];
    let mut out = Vec::new();
    let mut i = 0usize;
    while out.len() < n {
        out.extend_from_slice(words[(i * 7 + i / 3) % words.len()].as_bytes());
        i += 1;
    }
    out.truncate(n);
    out
}

/// An LZMA-alone stream (13-byte header, known size, no end marker) by `lzma-rust2`.
fn alone(data: &[u8], preset: u32, lc: u32, lp: u32, pb: u32) -> Vec<u8> {
    let mut o = LzmaOptions::with_preset(preset);
    o.lc = lc;
    o.lp = lp;
    o.pb = pb;
    let mut out = Vec::new();
    let mut w = LzmaWriter::new_use_header(&mut out, &o, Some(data.len() as u64)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap();
    out
}

fn check_stream(stream: &[u8], plain: &[u8]) {
    let props = Props::from_byte(stream[0]).unwrap();
    let size = u64::from_le_bytes(stream[5..13].try_into().unwrap());
    assert_eq!(size, plain.len() as u64);
    let body = &stream[13..];
    let d = decode(body, props, size, 1 << 30).unwrap();
    assert_eq!(d.plain, plain);
    let back = tokens::deserialize(&tokens::serialize(&d.tokens)).unwrap();
    assert_eq!(back, d.tokens);
    let re = encode(&d.plain, &d.tokens, props).unwrap();
    assert_eq!(re.len(), d.consumed.max(re.len()));
    assert!(
        re == body,
        "re-encoding differs ({} vs {} bytes)",
        re.len(),
        body.len()
    );
}

#[test]
fn lzma_rust2_streams_round_trip() {
    let mut inputs = vec![Vec::new(), vec![7u8], noise(70_000, 1), text(200_000)];
    let mut mixed = text(50_000);
    mixed.extend_from_slice(&noise(20_000, 2));
    mixed.extend_from_slice(&text(60_000));
    inputs.push(mixed);
    for data in &inputs {
        for (preset, lc, lp, pb) in [
            (6, 3, 0, 2),
            (9, 0, 0, 0),
            (1, 4, 0, 2),
            (6, 1, 2, 2),
            (3, 3, 0, 4),
        ] {
            let s = alone(data, preset, lc, lp, pb);
            check_stream(&s, data);
        }
    }
}

#[test]
fn ovmf_streams_round_trip() {
    let dir = common::pairs_dir();
    for name in ["ovmf-code-4m-deb12u1.fd", "ovmf-code-4m-deb12u2.fd"] {
        let Ok(img) = std::fs::read(dir.join(name)) else {
            eprintln!("skipping: {name} not present");
            return;
        };
        let s = &img[168..];
        let props = Props::from_byte(s[0]).unwrap();
        let size = u64::from_le_bytes(s[5..13].try_into().unwrap());
        let d = decode(&s[13..], props, size, 1 << 30).unwrap();
        let re = encode(&d.plain, &d.tokens, props).unwrap();
        assert_eq!(&s[13..13 + re.len()], &re[..], "{name}");
        eprintln!(
            "{name}: {} plaintext, {} tokens, {} coded",
            d.plain.len(),
            d.tokens.len(),
            re.len()
        );
    }
}

#[test]
fn damaged_tokens_are_errors() {
    let data = text(30_000);
    let s = alone(&data, 6, 3, 0, 2);
    let props = Props::from_byte(s[0]).unwrap();
    let d = decode(&s[13..], props, data.len() as u64, 1 << 30).unwrap();
    let ser = tokens::serialize(&d.tokens);
    for i in (0..ser.len()).step_by(97) {
        let mut bad = ser.clone();
        bad[i] ^= 0x41;
        if let Ok(t) = tokens::deserialize(&bad)
            && let Ok(re) = encode(&data, &t, props)
        {
            // Still valid tokens for this plaintext: they must decode back to it.
            let back = decode(&re, props, data.len() as u64, 1 << 30).unwrap();
            assert_eq!(back.plain, data);
        }
    }
    assert!(tokens::deserialize(&ser[..ser.len() - 1]).is_err());
    assert!(encode(&data[1..], &d.tokens, props).is_err());
}
