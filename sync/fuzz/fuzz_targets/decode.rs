//! Fuzzes the sync decoder: any bytes from the network must decode or fail cleanly, never panic,
//! and whatever decodes must encode back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yizhan_sync::proto::{self, JoinReply, JoinRequest, Msg};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = proto::decode_frame(data) {
        let again = proto::encode(&msg);
        assert_eq!(proto::decode_frame(&again).ok(), Some(msg));
    }
    let _ = proto::decode::<Msg>(data);
    let _ = proto::decode::<JoinRequest>(data);
    let _ = proto::decode::<JoinReply>(data);
    if let Some(header) = data.get(..4).and_then(|h| <[u8; 4]>::try_from(h).ok()) {
        let _ = proto::check_len(header);
    }
});
