//! Fuzzes what the host decodes from untrusted clients: text frames (`decode_client`)
//! and binary frames (`DataFrame::decode`). Neither may panic, and whatever decodes must
//! re-encode to something that decodes to the same message.
#![no_main]

use berth_protocol::frame::DataFrame;
use berth_protocol::wire::decode_client;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = DataFrame::decode(data) {
        let again = frame.encode();
        assert_eq!(DataFrame::decode(&again), Ok(frame));
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(msg) = decode_client(text)
    {
        let encoded = serde_json::to_string(&msg).expect("decoded messages serialise");
        assert_eq!(decode_client(&encoded), Ok(msg), "{text}");
    }
});
