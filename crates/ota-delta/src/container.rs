//! Multiplexing several independently compressed streams into one sequentially read patch.
//!
//! Why: control, difference and extra bytes compress far better as separate streams, but a
//! device reads the patch once, front to back (it may arrive over a socket), and must not
//! buffer whole streams. So each compressed stream is cut into packets of at most
//! [`PACKET_SIZE`] bytes, and the encoder orders the packets by running the real decoder
//! against a recorder: packets appear in exactly the order the decoder asks for them. A
//! decoder built against another zstd version may ask in a slightly different order; it then
//! parks a few packets, up to [`MAX_PENDING`] bytes, and fails cleanly beyond that.
//!
//! A stored stream may instead be **in place** ([`Coding::InPlace`]): it has no packets, its
//! bytes appear unframed in the packet sequence exactly where, and in exactly the amounts, the
//! decoder reads them. That costs no framing and no packet buffer, which matters for large
//! incompressible streams (3 bytes per 8 KiB packet otherwise). It relies on the decoder's
//! read order being fully determined by the data, so a table must not combine it with a
//! streaming zstd stream, whose packet requests depend on the zstd implementation.
//!
//! zstd frames are stored without their 4-byte magic number (re-added when decoding).

use crate::error::{Error, Result};
use crate::varint;
use std::collections::VecDeque;
use std::io::Read;
use zstd::zstd_safe::{self, CCtx, CParameter, DCtx, DParameter, InBuffer, OutBuffer};

/// Largest packet payload.
pub const PACKET_SIZE: usize = 8192;
/// Most bytes a decoder parks for streams it does not need yet.
pub const MAX_PENDING: usize = 128 * 1024;
/// Decompressed bytes buffered per zstd stream.
const OUT_BUF: usize = 4096;
const END: u8 = 0xFF;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// How a stream's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// Bytes as they are.
    Stored,
    /// One zstd frame (magic removed) with the given window log.
    Zstd { window_log: u8 },
    /// Independent zstd frames of at most [`ZCHUNK`] decoded bytes, each preceded by
    /// `raw_len: uvar`, `coded_len: uvar`. Decoded single-shot, so a decoder needs one zstd
    /// context at a time (created per chunk) and one chunk buffer per stream.
    ZstdChunked,
    /// Bytes as they are, without packets: they appear in the packet sequence where the
    /// decoder reads them (see the module docs).
    InPlace,
}

/// Decoded size of one chunk of a [`Coding::ZstdChunked`] stream.
pub const ZCHUNK: usize = 64 * 1024;

/// Encodes `raw` as independent zstd chunks, or stored if that is not smaller.
pub fn encode_stream_chunked(raw: &[u8], p: ZstdParams) -> Result<EncodedStream> {
    let mut out = Vec::new();
    let cp = ZstdParams {
        window_log: p.window_log.min(16),
        ..p
    };
    for c in raw.chunks(ZCHUNK) {
        let z = zstd_compress(c, cp, None)?;
        varint::put_u64(&mut out, c.len() as u64);
        varint::put_u64(&mut out, z.len() as u64);
        out.extend_from_slice(&z);
    }
    Ok(if out.len() < raw.len() {
        EncodedStream {
            coding: Coding::ZstdChunked,
            data: out,
        }
    } else {
        EncodedStream {
            coding: Coding::Stored,
            data: raw.to_vec(),
        }
    })
}

impl EncodedStream {
    /// Turns a stored stream into an in-place one (no packet framing); other codings as they are.
    pub fn in_place(mut self) -> Self {
        if self.coding == Coding::Stored {
            self.coding = Coding::InPlace;
        }
        self
    }
}

/// Memory of one zstd decompression context (created on demand by chunked streams).
pub fn dctx_memory() -> usize {
    DCtx::create().sizeof()
}

/// A stream ready for packetising.
pub struct EncodedStream {
    /// Coding of `data`.
    pub coding: Coding,
    /// Encoded bytes.
    pub data: Vec<u8>,
}

/// zstd settings for stream compression.
#[derive(Debug, Clone, Copy)]
pub struct ZstdParams {
    /// Compression level (1..=22).
    pub level: i32,
    /// log2 of the match window; also bounds the decoder's window memory.
    pub window_log: u32,
}

/// Compresses `raw` with zstd, returning the frame without its magic number.
pub fn zstd_compress(raw: &[u8], p: ZstdParams, prefix: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut cctx = CCtx::create();
    let set = |cctx: &mut CCtx, param| {
        cctx.set_parameter(param)
            .map_err(|c| Error::Io(std::io::Error::other(zstd_safe::get_error_name(c))))
    };
    set(&mut cctx, CParameter::CompressionLevel(p.level))?;
    set(&mut cctx, CParameter::WindowLog(p.window_log))?;
    set(&mut cctx, CParameter::ChecksumFlag(false))?;
    set(&mut cctx, CParameter::ContentSizeFlag(false))?;
    set(&mut cctx, CParameter::DictIdFlag(false))?;
    if p.window_log > 24 {
        set(&mut cctx, CParameter::EnableLongDistanceMatching(true))?;
    }
    if let Some(pre) = prefix {
        cctx.ref_prefix(pre)
            .map_err(|c| Error::Io(std::io::Error::other(zstd_safe::get_error_name(c))))?;
    }
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(raw.len()));
    cctx.compress2(&mut out, raw)
        .map_err(|c| Error::Io(std::io::Error::other(zstd_safe::get_error_name(c))))?;
    debug_assert_eq!(out[..4], ZSTD_MAGIC);
    out.drain(..4);
    Ok(out)
}

/// Picks the smaller of stored and zstd coding for `raw`.
pub fn encode_stream(raw: &[u8], p: ZstdParams) -> Result<EncodedStream> {
    let z = zstd_compress(raw, p, None)?;
    Ok(if z.len() < raw.len() {
        EncodedStream {
            coding: Coding::Zstd {
                window_log: p.window_log as u8,
            },
            data: z,
        }
    } else {
        EncodedStream {
            coding: Coding::Stored,
            data: raw.to_vec(),
        }
    })
}

/// Writes the stream table (count, then coding and window log per stream).
pub fn write_stream_table(out: &mut Vec<u8>, streams: &[EncodedStream]) {
    out.push(streams.len() as u8);
    for s in streams {
        match s.coding {
            Coding::Stored => out.push(0),
            Coding::Zstd { window_log } => {
                out.push(1);
                out.push(window_log);
            }
            Coding::ZstdChunked => out.push(2),
            Coding::InPlace => out.push(3),
        }
    }
}

/// Reads the stream table written by [`write_stream_table`].
pub fn read_stream_table<R: Read + ?Sized>(r: &mut R) -> Result<Vec<Coding>> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)
        .map_err(|_| Error::corrupt("truncated stream table"))?;
    read_stream_codings(r, b[0])
}

/// Reads the rest of a stream table whose count byte `count` was already read.
pub fn read_stream_codings<R: Read + ?Sized>(r: &mut R, count: u8) -> Result<Vec<Coding>> {
    let mut b = [0u8; 1];
    let n = count as usize;
    if n == 0 || n > 8 {
        return Err(Error::corrupt("bad stream count"));
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        r.read_exact(&mut b)
            .map_err(|_| Error::corrupt("truncated stream table"))?;
        v.push(match b[0] {
            0 => Coding::Stored,
            1 => {
                r.read_exact(&mut b)
                    .map_err(|_| Error::corrupt("truncated stream table"))?;
                if !(10..=31).contains(&b[0]) {
                    return Err(Error::corrupt("bad window log"));
                }
                Coding::Zstd { window_log: b[0] }
            }
            2 => Coding::ZstdChunked,
            3 => Coding::InPlace,
            c => return Err(Error::Unsupported(format!("stream coding {c}"))),
        });
    }
    let streaming = v.iter().any(|c| matches!(c, Coding::Zstd { .. }));
    if streaming && v.contains(&Coding::InPlace) {
        return Err(Error::corrupt(
            "in-place stream beside a streaming zstd stream",
        ));
    }
    Ok(v)
}

/// Supplies packets of a given stream to the decoder.
pub trait PacketSource {
    /// Next packet of `stream`, or `None` when the patch has no more packets.
    fn next_packet(&mut self, stream: usize) -> Result<Option<Vec<u8>>>;

    /// Fills `buf` with the next bytes of in-place `stream` (see [`Coding::InPlace`]).
    fn read_in_place(&mut self, stream: usize, buf: &mut [u8]) -> Result<()> {
        let _ = buf;
        Err(Error::corrupt(format!(
            "stream {stream}: in-place coding not allowed here"
        )))
    }
}

/// Encoder side: hands out precomputed packets and records the order they were asked for.
pub struct Recorder {
    queues: Vec<VecDeque<Vec<u8>>>,
    /// In-place streams: data and bytes read so far (`None` for packetised streams).
    in_place: Vec<Option<(Vec<u8>, usize)>>,
    /// Serialised packets in request order.
    pub out: Vec<u8>,
}

impl Recorder {
    /// Cuts every packetised stream into packets.
    pub fn new(streams: &[EncodedStream]) -> Self {
        let packetised = |s: &&EncodedStream| s.coding != Coding::InPlace;
        let queues = streams
            .iter()
            .map(|s| match packetised(&s) {
                true => s.data.chunks(PACKET_SIZE).map(<[u8]>::to_vec).collect(),
                false => VecDeque::new(),
            })
            .collect();
        let in_place = streams
            .iter()
            .map(|s| (!packetised(&s)).then(|| (s.data.clone(), 0)))
            .collect();
        Recorder {
            queues,
            in_place,
            out: Vec::new(),
        }
    }

    /// Appends unrequested packets (normally none) and the end marker. In-place bytes the
    /// decoder never read (normally none) are dropped: no decoder would read them either.
    pub fn finish(mut self) -> Vec<u8> {
        for id in 0..self.queues.len() {
            while let Some(p) = self.queues[id].pop_front() {
                emit(&mut self.out, id, &p);
            }
        }
        self.out.push(END);
        self.out
    }
}

fn emit(out: &mut Vec<u8>, id: usize, p: &[u8]) {
    out.push(id as u8);
    varint::put_u64(out, p.len() as u64);
    out.extend_from_slice(p);
}

impl PacketSource for Recorder {
    fn next_packet(&mut self, stream: usize) -> Result<Option<Vec<u8>>> {
        match self.queues.get_mut(stream).and_then(VecDeque::pop_front) {
            Some(p) => {
                emit(&mut self.out, stream, &p);
                Ok(Some(p))
            }
            None => Ok(None),
        }
    }

    fn read_in_place(&mut self, stream: usize, buf: &mut [u8]) -> Result<()> {
        let Some(Some((data, pos))) = self.in_place.get_mut(stream) else {
            return Err(Error::corrupt(format!("stream {stream} is not in place")));
        };
        let src = data
            .get(*pos..*pos + buf.len())
            .ok_or_else(|| Error::corrupt(format!("stream {stream} ends early")))?;
        buf.copy_from_slice(src);
        self.out.extend_from_slice(src);
        *pos += buf.len();
        Ok(())
    }
}

/// Decoder side: reads packets from the patch, parking those of other streams.
pub struct Demux<R> {
    r: R,
    pending: Vec<VecDeque<Vec<u8>>>,
    pending_bytes: usize,
    /// Largest number of parked bytes seen.
    pub peak_pending: usize,
    ended: bool,
}

impl<R: Read> Demux<R> {
    /// Wraps the patch body reader (positioned at the first packet).
    pub fn new(r: R, streams: usize) -> Self {
        Demux {
            r,
            pending: vec![VecDeque::new(); streams],
            pending_bytes: 0,
            peak_pending: 0,
            ended: false,
        }
    }
}

impl<R: Read> PacketSource for Demux<R> {
    fn next_packet(&mut self, stream: usize) -> Result<Option<Vec<u8>>> {
        if let Some(p) = self.pending[stream].pop_front() {
            self.pending_bytes -= p.len();
            return Ok(Some(p));
        }
        let trunc = |_| Error::corrupt("truncated packet");
        while !self.ended {
            let mut id = [0u8; 1];
            self.r.read_exact(&mut id).map_err(trunc)?;
            if id[0] == END {
                self.ended = true;
                break;
            }
            let id = id[0] as usize;
            if id >= self.pending.len() {
                return Err(Error::corrupt("packet for unknown stream"));
            }
            let len = varint::read_u64(&mut self.r)? as usize;
            if len == 0 || len > PACKET_SIZE {
                return Err(Error::corrupt("bad packet length"));
            }
            let mut p = vec![0u8; len];
            self.r.read_exact(&mut p).map_err(trunc)?;
            if id == stream {
                return Ok(Some(p));
            }
            self.pending_bytes += len;
            self.peak_pending = self.peak_pending.max(self.pending_bytes);
            if self.pending_bytes > MAX_PENDING {
                return Err(Error::corrupt(
                    "packet order exceeds the decoder's buffer bound",
                ));
            }
            self.pending[id].push_back(p);
        }
        Ok(None)
    }

    fn read_in_place(&mut self, stream: usize, buf: &mut [u8]) -> Result<()> {
        if self.ended {
            return Err(Error::corrupt(format!("stream {stream} ends early")));
        }
        self.r
            .read_exact(buf)
            .map_err(|_| Error::corrupt("truncated in-place bytes"))
    }
}

/// Sequential reader of one stream's decoded bytes.
pub struct StreamReader {
    id: usize,
    chunked: bool,
    in_place: bool,
    coded: Vec<u8>,
    packet: Vec<u8>,
    ppos: usize,
    dctx: Option<DCtx<'static>>,
    out: Vec<u8>,
    opos: usize,
    olen: usize,
}

impl StreamReader {
    /// Prepares decoding of stream `id`.
    pub fn new(id: usize, coding: Coding) -> Result<Self> {
        let dctx = match coding {
            Coding::Stored | Coding::ZstdChunked | Coding::InPlace => None,
            Coding::Zstd { window_log } => {
                let mut d = DCtx::create();
                d.set_parameter(DParameter::WindowLogMax(u32::from(window_log)))
                    .map_err(|_| Error::corrupt("bad window log"))?;
                let mut ob = [0u8; 0];
                let mut outb = OutBuffer::around(&mut ob[..]);
                let mut inb = InBuffer::around(&ZSTD_MAGIC[..]);
                d.decompress_stream(&mut outb, &mut inb)
                    .map_err(|_| Error::corrupt("zstd init"))?;
                Some(d)
            }
        };
        let chunked = coding == Coding::ZstdChunked;
        Ok(StreamReader {
            id,
            chunked,
            in_place: coding == Coding::InPlace,
            coded: Vec::new(),
            packet: Vec::new(),
            ppos: 0,
            out: if dctx.is_some() {
                vec![0u8; OUT_BUF]
            } else {
                Vec::new()
            },
            dctx,
            opos: 0,
            olen: 0,
        })
    }

    /// Bytes of memory this reader holds (decoder context and buffers).
    pub fn memory(&self) -> usize {
        self.dctx.as_ref().map_or(0, DCtx::sizeof)
            + self.out.capacity()
            + self.coded.capacity()
            + if self.in_place { 0 } else { PACKET_SIZE }
    }

    /// Fills `buf` completely from the stream.
    pub fn read_exact(&mut self, src: &mut dyn PacketSource, mut buf: &mut [u8]) -> Result<()> {
        if self.in_place {
            return src.read_in_place(self.id, buf);
        }
        while !buf.is_empty() {
            if self.chunked {
                if self.opos == self.olen {
                    self.next_chunk(src)?;
                }
                let n = buf.len().min(self.olen - self.opos);
                buf[..n].copy_from_slice(&self.out[self.opos..self.opos + n]);
                self.opos += n;
                buf = &mut buf[n..];
                continue;
            }
            if self.dctx.is_none() {
                if self.ppos == self.packet.len() {
                    self.fetch(src)?;
                }
                let n = buf.len().min(self.packet.len() - self.ppos);
                buf[..n].copy_from_slice(&self.packet[self.ppos..self.ppos + n]);
                self.ppos += n;
                buf = &mut buf[n..];
                continue;
            }
            if self.opos < self.olen {
                let n = buf.len().min(self.olen - self.opos);
                buf[..n].copy_from_slice(&self.out[self.opos..self.opos + n]);
                self.opos += n;
                buf = &mut buf[n..];
                continue;
            }
            self.decode_some()?;
            if self.olen == 0 {
                self.fetch(src)?;
                self.decode_some()?;
            }
        }
        Ok(())
    }

    /// Reads raw coded bytes (stored streams and chunk headers).
    fn read_coded(&mut self, src: &mut dyn PacketSource, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            if self.ppos == self.packet.len() {
                self.fetch(src)?;
            }
            let n = buf.len().min(self.packet.len() - self.ppos);
            buf[..n].copy_from_slice(&self.packet[self.ppos..self.ppos + n]);
            self.ppos += n;
            buf = &mut buf[n..];
        }
        Ok(())
    }

    fn coded_varint(&mut self, src: &mut dyn PacketSource) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let mut b = [0u8; 1];
            self.read_coded(src, &mut b)?;
            v |= u64::from(b[0] & 0x7f) << shift;
            if b[0] & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::corrupt("varint too long"))
    }

    fn next_chunk(&mut self, src: &mut dyn PacketSource) -> Result<()> {
        let raw = self.coded_varint(src)? as usize;
        let coded = self.coded_varint(src)? as usize;
        if raw == 0 || raw > ZCHUNK || coded > zstd_safe::compress_bound(ZCHUNK) {
            return Err(Error::corrupt("bad chunk header"));
        }
        self.coded.clear();
        self.coded.extend_from_slice(&ZSTD_MAGIC);
        self.coded.resize(4 + coded, 0);
        let mut tmp = std::mem::take(&mut self.coded);
        let r = self.read_coded(src, &mut tmp[4..]);
        self.coded = tmp;
        r?;
        self.out.clear();
        self.out.reserve_exact(ZCHUNK);
        let mut d = DCtx::create();
        let n = d
            .decompress(&mut self.out, &self.coded)
            .map_err(|c| Error::corrupt(format!("zstd: {}", zstd_safe::get_error_name(c))))?;
        if n != raw {
            return Err(Error::corrupt("chunk size mismatch"));
        }
        self.opos = 0;
        self.olen = n;
        Ok(())
    }

    fn fetch(&mut self, src: &mut dyn PacketSource) -> Result<()> {
        match src.next_packet(self.id)? {
            Some(p) => {
                self.packet = p;
                self.ppos = 0;
                Ok(())
            }
            None => Err(Error::corrupt(format!("stream {} ends early", self.id))),
        }
    }

    fn decode_some(&mut self) -> Result<()> {
        let dctx = self.dctx.as_mut().expect("zstd stream");
        let mut outb = OutBuffer::around(&mut self.out[..]);
        let mut inb = InBuffer::around(&self.packet[self.ppos..]);
        dctx.decompress_stream(&mut outb, &mut inb)
            .map_err(|c| Error::corrupt(format!("zstd: {}", zstd_safe::get_error_name(c))))?;
        self.ppos += inb.pos();
        self.olen = outb.pos();
        self.opos = 0;
        Ok(())
    }
}
