//! Compressed messages (protocol version 3, issue #14): what every case repeats crosses a slow
//! link once per frame, not once per case.
//!
//! Automerge compresses each column of a change on its own, and not at all below 256 bytes, so
//! every case's change carries again what every other case carries: the item's name, materials
//! and departments, field names, station codes, actor ids. From version 3 on, changes travel in
//! their uncompressed Automerge form (`Change::raw_bytes`; `Change::try_from` reads both forms)
//! and a whole message is compressed with zstd instead, as one [`Msg::Packed`] frame:
//!
//! 1. [`pack`] encodes the message with postcard, compresses the encoding with zstd at
//!    [`LEVEL`] and wraps it with its uncompressed length. A message that does not shrink, or
//!    is smaller than [`PACK_MIN`], goes out as it is. A `Hello` is never packed: it is what
//!    decides whether the peer reads packed frames at all.
//! 2. [`unpack`] refuses a packed frame that announces more than [`MAX_UNPACKED`] bytes before
//!    allocating anything, decompresses into a buffer of exactly the announced size (zstd stops
//!    with an error where the output would overflow it, so a compression bomb costs at most that
//!    buffer), checks that the output is exactly as long as announced, and decodes it. A packed
//!    frame inside a packed frame is malformed.
//!
//! Each frame is compressed on its own (no shared window, no state kept between frames), so any
//! frame decodes without the ones before it and a dropped link loses at most the frame in
//! flight. A dictionary that both sides hold would help small frames (a single case pushed on a
//! continuous session) but not the batches that fill a slow link; it is not used (see the
//! README's performance section for the measurement), and [`Codec`] leaves room to add one.

use crate::proto::{self, FrameError, MAX_FRAME, Msg};
use serde::{Deserialize, Serialize};

/// The zstd level of packed frames. Level 19 gains a few per cent on the batches measured and
/// costs ten times the CPU; 9 is within 1 % of 12 and keeps a 1 MiB frame at a few ms.
pub const LEVEL: i32 = 9;
/// Messages smaller than this are sent as they are: their frame header and zstd's would eat what
/// compression saves.
pub const PACK_MIN: usize = 128;
/// The most bytes a packed frame may unpack to: the same bound as an unpacked frame.
pub const MAX_UNPACKED: usize = MAX_FRAME;

/// How a packed frame is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Codec {
    /// One zstd frame, no dictionary.
    Zstd,
}

/// A message compressed as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packed {
    /// How `bytes` is compressed.
    pub codec: Codec,
    /// The length of the postcard encoding `bytes` decompresses to.
    pub len: u32,
    /// The compressed encoding.
    pub bytes: Vec<u8>,
}

/// Compresses `body` (any encoded value) with zstd; `None` if that does not make it smaller.
pub fn compress(body: &[u8]) -> Option<Packed> {
    let len = u32::try_from(body.len()).ok()?;
    let bytes = zstd::bulk::compress(body, LEVEL).ok()?;
    (bytes.len() < body.len()).then_some(Packed {
        codec: Codec::Zstd,
        len,
        bytes,
    })
}

/// Decompresses a packed value, bounded by `max` bytes before anything is allocated.
pub fn decompress(p: &Packed, max: usize) -> Result<Vec<u8>, FrameError> {
    let len = p.len as usize;
    if len > max {
        return Err(FrameError::TooLarge(len));
    }
    let mut out = Vec::with_capacity(len);
    match p.codec {
        Codec::Zstd => {
            // `decompress_to_buffer` writes into the spare capacity only: output that would not
            // fit is an error, never a reallocation.
            let mut z = zstd::bulk::Decompressor::new()
                .map_err(|e| FrameError::Malformed(format!("zstd: {e}")))?;
            z.decompress_to_buffer(&p.bytes, &mut out).map_err(|e| {
                FrameError::Malformed(format!("packed frame does not unpack to {len} bytes: {e}"))
            })?;
        }
    }
    if out.len() != len {
        return Err(FrameError::Malformed(format!(
            "packed frame unpacks to {} bytes, announced {len}",
            out.len()
        )));
    }
    Ok(out)
}

/// The message as it goes out to a peer that reads packed frames: packed when that makes it
/// smaller, else unchanged.
pub fn pack(msg: Msg) -> Msg {
    if matches!(msg, Msg::Hello { .. } | Msg::Packed(_)) {
        return msg;
    }
    let Ok(body) = postcard::to_stdvec(&msg) else {
        return msg;
    };
    if body.len() < PACK_MIN {
        return msg;
    }
    match compress(&body) {
        Some(p) => Msg::Packed(p),
        None => msg,
    }
}

/// The message a packed frame holds (any other message is returned as it is).
pub fn unpack(msg: Msg) -> Result<Msg, FrameError> {
    let Msg::Packed(p) = msg else {
        return Ok(msg);
    };
    let body = decompress(&p, MAX_UNPACKED)?;
    match proto::decode::<Msg>(&body)? {
        Msg::Packed(_) => Err(FrameError::Malformed(
            "a packed frame inside a packed frame".into(),
        )),
        Msg::Hello { .. } => Err(FrameError::Malformed("a packed hello".into())),
        inner => Ok(inner),
    }
}

/// Decodes a whole frame and unpacks it, as a reader of version 3 does (the fuzz target and the
/// property tests use it).
pub fn decode_frame(frame: &[u8]) -> Result<Msg, FrameError> {
    unpack(proto::decode_frame(frame)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{DocChanges, DocSync, encode};
    use proptest::prelude::*;

    /// Bytes that look like what a frame of cases holds: the same phrases again and again.
    fn repetitive(n: usize, seed: u8) -> Vec<u8> {
        let words: [&[u8]; 4] = [
            "个体工商户设立登记".as_bytes(),
            b"materials:id-card,business-licence",
            b"dept:market-regulation",
            b"station:140105",
        ];
        let mut out = Vec::with_capacity(n);
        let mut i = usize::from(seed);
        while out.len() < n {
            out.extend_from_slice(words[i % 4]);
            out.push(seed.wrapping_add(i as u8));
            i += 1;
        }
        out.truncate(n);
        out
    }

    fn changes(docs: Vec<(String, Vec<Vec<u8>>)>) -> Msg {
        Msg::Changes {
            docs: docs
                .into_iter()
                .map(|(id, changes)| DocChanges { id, changes })
                .collect(),
        }
    }

    proptest! {
        #[test]
        fn packed_messages_round_trip(
            docs in proptest::collection::vec(
                ("[a-z0-9-]{1,36}", proptest::collection::vec((0usize..3000, any::<u8>()), 0..4)),
                0..12,
            ),
            sync in proptest::collection::vec(("[a-z0-9-]{1,36}", proptest::collection::vec(any::<u8>(), 0..300)), 0..4),
        ) {
            let m = changes(docs.into_iter().map(|(id, cs)| (id, cs.into_iter().map(|(n, s)| repetitive(n, s)).collect())).collect());
            let frame = encode(&pack(m.clone()));
            prop_assert_eq!(decode_frame(&frame), Ok(m));
            let s = Msg::Sync { docs: sync.into_iter().map(|(id, message)| DocSync { id, message }).collect() };
            let frame = encode(&pack(s.clone()));
            prop_assert_eq!(decode_frame(&frame), Ok(s));
        }

        #[test]
        fn arbitrary_packed_bytes_never_panic(
            len in any::<u32>(),
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let frame = encode(&Msg::Packed(Packed { codec: Codec::Zstd, len, bytes }));
            let _ = decode_frame(&frame);
        }

        #[test]
        fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_frame(&bytes);
        }

        #[test]
        fn a_damaged_packed_frame_is_an_error_or_the_same_length(
            n in 200usize..4000, seed in any::<u8>(), at in any::<usize>(), bit in 0u8..8,
        ) {
            let m = changes(vec![("doc".into(), vec![repetitive(n, seed)])]);
            let Msg::Packed(mut p) = pack(m) else { panic!("a repetitive change packs") };
            let i = at % p.bytes.len();
            p.bytes[i] ^= 1 << bit;
            // zstd checks nothing by default; whatever comes out is bounded and must decode or
            // fail cleanly.
            let _ = unpack(Msg::Packed(p));
        }
    }

    #[test]
    fn cases_that_repeat_each_other_compress_together() {
        let docs: Vec<(String, Vec<Vec<u8>>)> = (0..200)
            .map(|i| (format!("case-{i}"), vec![repetitive(600, (i % 7) as u8)]))
            .collect();
        let m = changes(docs);
        let plain = encode(&m).len();
        let packed = encode(&pack(m)).len();
        assert!(packed * 10 < plain, "{packed} packed vs {plain} plain");
    }

    #[test]
    fn small_messages_and_hellos_are_not_packed() {
        let idle = Msg::Idle { upto: 7 };
        assert_eq!(pack(idle.clone()), idle);
        let hello = Msg::Hello {
            version: 3,
            network_id: "n".repeat(400),
            chain: vec!["c".repeat(400)],
            seq: 1,
            since: 0,
            certs_digest: [0; 32],
            now_ms: 0,
            clock_offset_ms: None,
        };
        assert_eq!(pack(hello.clone()), hello);
        let packed_hello = Msg::Packed(
            compress(&postcard::to_stdvec(&hello).unwrap_or_default()).unwrap_or(Packed {
                codec: Codec::Zstd,
                len: 0,
                bytes: Vec::new(),
            }),
        );
        assert!(unpack(packed_hello).is_err());
    }

    #[test]
    fn a_compression_bomb_is_refused_within_its_announced_size() {
        // 64 MiB of zeros compress to a few KiB: announced honestly it is over the limit, and
        // announced small it overflows the buffer of the announced size.
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let bytes = zstd::bulk::compress(&zeros, 1).unwrap_or_default();
        assert!(bytes.len() < 64 * 1024);
        drop(zeros);
        let honest = Packed {
            codec: Codec::Zstd,
            len: 64 * 1024 * 1024,
            bytes: bytes.clone(),
        };
        assert_eq!(
            unpack(Msg::Packed(honest)),
            Err(FrameError::TooLarge(64 * 1024 * 1024))
        );
        let lying = Packed {
            codec: Codec::Zstd,
            len: 1024,
            bytes,
        };
        assert!(matches!(
            unpack(Msg::Packed(lying)),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn a_packed_frame_inside_a_packed_frame_is_refused() {
        let inner = pack(changes(vec![("d".into(), vec![repetitive(2000, 1)])]));
        assert!(matches!(inner, Msg::Packed(_)));
        let body = postcard::to_stdvec(&inner).unwrap_or_default();
        let outer = Msg::Packed(Packed {
            codec: Codec::Zstd,
            len: body.len() as u32,
            bytes: zstd::bulk::compress(&body, 1).unwrap_or_default(),
        });
        assert!(unpack(outer).is_err());
    }
}
