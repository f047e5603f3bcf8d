//! The JSON Schema of the wire messages, committed as `docs/protocol.schema.json`.
//!
//! A test fails when the committed file differs from what the types generate; run
//! `BERTH_UPDATE_SCHEMA=1 cargo test -p berth-protocol` to rewrite it after a change.

use crate::wire::{ClientMsg, ServerMsg};

/// Both directions in one document.
pub fn protocol_schema() -> serde_json::Value {
    serde_json::json!({
        "$comment": "Generated from sdk/protocol (berth_protocol::schema); do not edit.",
        "title": "Berth WebSocket protocol v1",
        "client_to_server": schemars::schema_for!(ClientMsg),
        "server_to_client": schemars::schema_for!(ServerMsg),
    })
}

/// The schema as committed: pretty JSON with a trailing newline.
pub fn protocol_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&protocol_schema()).expect("schema serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_matches_the_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/protocol.schema.json");
        let generated = protocol_schema_text();
        if std::env::var_os("BERTH_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/protocol.schema.json is out of date with the protocol types; \
             run `BERTH_UPDATE_SCHEMA=1 cargo test -p berth-protocol` and commit it"
        );
    }
}
