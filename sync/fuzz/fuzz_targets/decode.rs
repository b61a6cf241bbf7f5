//! Fuzzes the sync decoder: any bytes from the network must decode or fail cleanly, never panic,
//! and whatever decodes must encode back to the same message. Packed frames (protocol version 3)
//! are unpacked as a version 3 reader does, bounded by `wire::MAX_UNPACKED`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yizhan_sync::proto::{self, JoinReply, JoinRequest, Msg};
use yizhan_sync::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = proto::decode_frame(data) {
        let again = proto::encode(&msg);
        assert_eq!(proto::decode_frame(&again).ok(), Some(msg.clone()));
        if let Ok(inner) = wire::unpack(msg) {
            // What unpacks packs again to something that unpacks to the same message.
            assert_eq!(wire::unpack(wire::pack(inner.clone())).ok(), Some(inner));
        }
    }
    let _ = wire::decode_frame(data);
    let _ = proto::decode::<Msg>(data);
    let _ = proto::decode::<JoinRequest>(data);
    let _ = proto::decode::<JoinReply>(data);
    if let Some(header) = data.get(..4).and_then(|h| <[u8; 4]>::try_from(h).ok()) {
        let _ = proto::check_len(header);
    }
});
