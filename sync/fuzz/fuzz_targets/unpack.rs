//! Fuzzes unpacking (protocol version 3): the input after its first four bytes is taken as a
//! zstd stream and those four bytes as the length it announces. Whatever the stream holds — a
//! compression bomb, a damaged frame, garbage — unpacking must stay within the announced length
//! (itself bounded by `wire::MAX_UNPACKED`) and fail cleanly or yield a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yizhan_sync::proto::Msg;
use yizhan_sync::wire::{self, Codec, Packed};

fuzz_target!(|data: &[u8]| {
    let Some((len, bytes)) = data.split_first_chunk::<4>() else {
        return;
    };
    // Announced lengths up to 16 MiB are allocated; keep them small so that the fuzzer runs fast
    // and spends its time in the decompressor, not in memset.
    let len = u32::from_le_bytes(*len) % (1 << 20);
    let packed = Packed {
        codec: Codec::Zstd,
        len,
        bytes: bytes.to_vec(),
    };
    if let Ok(out) = wire::decompress(&packed, wire::MAX_UNPACKED) {
        assert_eq!(out.len(), len as usize);
    }
    let _ = wire::unpack(Msg::Packed(packed));
    // A real packed message round trips.
    if let Some(p) = wire::compress(bytes) {
        assert_eq!(wire::decompress(&p, wire::MAX_UNPACKED).ok().as_deref(), Some(bytes));
    }
});
