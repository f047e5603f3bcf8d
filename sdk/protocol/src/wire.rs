//! The WebSocket messages of protocol v1 (`shared/spec/protocol-v1.md` §3).
//!
//! Text frames carry one JSON object each, discriminated by `t`. One enum per direction:
//! [`ClientMsg`] (client → server) and [`ServerMsg`] (server → client). Unknown fields
//! are ignored; an unknown `t` is reported by [`decode_client`] as
//! [`DecodeError::UnknownType`] so the server can answer with a non-fatal `unsupported`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ErrorBody;
use crate::role::Role;

/// The protocol version this crate implements.
pub const PROTOCOL_VERSION: u32 = 1;
/// The WebSocket subprotocol the server selects.
pub const SUBPROTOCOL: &str = "berth.v1";

/// Client → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message of a connection.
    Hello {
        client: Peer,
        /// For clients that cannot set an `Authorization` header.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default)]
        features: Vec<String>,
    },
    /// A method call; answered by exactly one `res` or `err` with the same `id`.
    Req {
        id: String,
        method: String,
        #[serde(default = "empty_object")]
        p: Value,
    },
    /// Best-effort cancellation of an in-flight request.
    Cancel {
        id: String,
    },
    /// Opens channel `ch` (client-allocated, increasing, never reused).
    Open {
        ch: u32,
        kind: String,
        #[serde(default = "empty_object")]
        p: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<Window>,
    },
    /// Returns flow-control credit after consuming data.
    Credit {
        ch: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msgs: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<u32>,
    },
    /// Terminal size change.
    Resize {
        ch: u32,
        cols: u16,
        rows: u16,
    },
    /// Client half-close (stdin ends).
    Eof {
        ch: u32,
    },
    /// Unsubscribe / detach.
    Close {
        ch: u32,
    },
    Ping {
        ts: u64,
    },
}

/// Server → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        protocol: u32,
        server: Peer,
        /// Opaque session id.
        session: String,
        user: WelcomeUser,
        features: Vec<String>,
        heartbeat_ms: u32,
        limits: Limits,
    },
    Res {
        id: String,
        p: Value,
    },
    Err {
        /// Absent for errors not tied to a request (e.g. a malformed message).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        error: ErrorBody,
    },
    Opened {
        ch: u32,
        #[serde(default = "empty_object")]
        p: Value,
        window: Window,
    },
    Data {
        ch: u32,
        /// From 1, one more per `data` on the channel.
        seq: u64,
        p: Value,
    },
    Close {
        ch: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    Pong {
        ts: u64,
    },
    /// Sent on channel 0 before the server closes with 1001.
    Bye {
        code: String,
        reconnect_after_ms: u64,
    },
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A program at one end of the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Peer {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WelcomeUser {
    pub name: String,
    pub role: Role,
}

/// A flow-control window: messages for JSON channels, bytes for binary ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Window {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u32>,
}

/// Limits the server announces in `welcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Limits {
    pub max_channels: u32,
    pub max_text_bytes: u32,
    pub max_window_bytes: u32,
    pub max_window_msgs: u32,
}

/// Why a text frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a JSON object with a string `t`: a framing violation (close 4400).
    #[error("not a protocol message: {0}")]
    Malformed(String),
    /// A `t` this server does not know: non-fatal `unsupported`.
    #[error("unknown message type {t:?}")]
    UnknownType { t: String, id: Option<String> },
    /// A known `t` with bad fields: non-fatal `bad_request`, naming the problem.
    #[error("bad {t} message: {reason}")]
    BadFields {
        t: String,
        id: Option<String>,
        reason: String,
    },
}

const CLIENT_TYPES: &[&str] = &[
    "hello", "req", "cancel", "open", "credit", "resize", "eof", "close", "ping",
];

/// Decodes one client text frame, classifying failures as the spec requires.
pub fn decode_client(text: &str) -> Result<ClientMsg, DecodeError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let Some(obj) = value.as_object() else {
        return Err(DecodeError::Malformed("expected a JSON object".to_owned()));
    };
    let Some(t) = obj.get("t").and_then(Value::as_str) else {
        return Err(DecodeError::Malformed(
            "missing string field `t`".to_owned(),
        ));
    };
    let id = obj.get("id").and_then(Value::as_str).map(str::to_owned);
    if !CLIENT_TYPES.contains(&t) {
        return Err(DecodeError::UnknownType {
            t: t.to_owned(),
            id,
        });
    }
    let t = t.to_owned();
    serde_json::from_value(value).map_err(|e| DecodeError::BadFields {
        t,
        id,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorBody, ErrorCode};
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn spec_examples_decode() {
        let hello = r#"{"t":"hello","client":{"name":"berth-web","version":"0.1.0"},"token":"optional","features":[]}"#;
        assert!(matches!(
            decode_client(hello),
            Ok(ClientMsg::Hello { token: Some(_), .. })
        ));
        let req = r#"{"t":"req","id":"42","method":"container.restart","p":{"host":"local","id":"c0ffee","timeout_s":10}}"#;
        let Ok(ClientMsg::Req { id, method, p }) = decode_client(req) else {
            panic!("req")
        };
        assert_eq!(
            (id.as_str(), method.as_str(), &p["timeout_s"]),
            ("42", "container.restart", &json!(10))
        );
        let open =
            r#"{"t":"open","ch":7,"kind":"exec","p":{"cmd":["sh"]},"window":{"bytes":262144}}"#;
        assert!(matches!(
            decode_client(open),
            Ok(ClientMsg::Open {
                ch: 7,
                window: Some(Window {
                    bytes: Some(262144),
                    msgs: None
                }),
                ..
            })
        ));
        for (text, want) in [
            (
                r#"{"t":"credit","ch":3,"msgs":100}"#,
                ClientMsg::Credit {
                    ch: 3,
                    msgs: Some(100),
                    bytes: None,
                },
            ),
            (
                r#"{"t":"resize","ch":7,"cols":160,"rows":48}"#,
                ClientMsg::Resize {
                    ch: 7,
                    cols: 160,
                    rows: 48,
                },
            ),
            (r#"{"t":"eof","ch":7}"#, ClientMsg::Eof { ch: 7 }),
            (r#"{"t":"close","ch":3}"#, ClientMsg::Close { ch: 3 }),
            (
                r#"{"t":"cancel","id":"42"}"#,
                ClientMsg::Cancel { id: "42".into() },
            ),
            (r#"{"t":"ping","ts":5}"#, ClientMsg::Ping { ts: 5 }),
        ] {
            assert_eq!(decode_client(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn missing_params_default_to_an_empty_object_and_unknown_fields_are_ignored() {
        let Ok(ClientMsg::Req { p, .. }) =
            decode_client(r#"{"t":"req","id":"1","method":"auth.whoami","extra":true}"#)
        else {
            panic!("req")
        };
        assert_eq!(p, json!({}));
    }

    #[test]
    fn failures_are_classified_as_the_spec_requires() {
        assert!(matches!(
            decode_client("not json"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode_client("[1,2]"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode_client(r#"{"id":"1"}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            decode_client(r#"{"t":"subscribe","id":"9"}"#),
            Err(DecodeError::UnknownType {
                t: "subscribe".into(),
                id: Some("9".into())
            })
        );
        let Err(DecodeError::BadFields { t, id, reason }) =
            decode_client(r#"{"t":"req","id":"3","p":{}}"#)
        else {
            panic!("bad fields")
        };
        assert_eq!((t.as_str(), id.as_deref()), ("req", Some("3")));
        assert!(
            reason.contains("method"),
            "names the missing field: {reason}"
        );
        assert!(matches!(
            decode_client(r#"{"t":"open","ch":-1,"kind":"events"}"#),
            Err(DecodeError::BadFields { .. })
        ));
    }

    #[test]
    fn server_messages_have_the_spec_shape() {
        let err = ServerMsg::Err {
            id: Some("42".into()),
            error: ErrorBody::new(ErrorCode::NotFound, "no such container: c0ffee"),
        };
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            json!({"t":"err","id":"42","error":{"code":"not_found","message":"no such container: c0ffee","retryable":false}})
        );
        let close = ServerMsg::Close {
            ch: 3,
            p: Some(json!({"cursor": "c1"})),
            error: Some(ErrorBody::new(ErrorCode::Overflow, "lost events")),
        };
        let v = serde_json::to_value(&close).unwrap();
        assert_eq!(
            (v["t"].as_str(), v["error"]["retryable"].as_bool()),
            (Some("close"), Some(true))
        );
        let bye = ServerMsg::Bye {
            code: "shutting_down".into(),
            reconnect_after_ms: 1000,
        };
        assert_eq!(
            serde_json::to_value(&bye).unwrap(),
            json!({"t":"bye","code":"shutting_down","reconnect_after_ms":1000})
        );
    }

    #[test]
    fn unknown_error_codes_from_newer_servers_still_decode() {
        let body: ErrorBody =
            serde_json::from_str(r#"{"code":"quota_exceeded","message":"m","retryable":false}"#)
                .unwrap();
        assert_eq!(body.code, ErrorCode::Unknown);
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-z_]{1,8}", arb_value(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    fn arb_window() -> impl Strategy<Value = Window> {
        (any::<Option<u32>>(), any::<Option<u32>>())
            .prop_map(|(msgs, bytes)| Window { msgs, bytes })
    }

    fn arb_error() -> impl Strategy<Value = ErrorBody> {
        let codes = [
            ErrorCode::BadRequest,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::Unavailable,
            ErrorCode::Overflow,
            ErrorCode::Internal,
        ];
        (
            prop::sample::select(codes.to_vec()),
            ".{0,20}",
            prop::option::of(arb_object()),
        )
            .prop_map(|(code, message, details)| ErrorBody {
                details,
                ..ErrorBody::new(code, message)
            })
    }

    fn arb_client() -> impl Strategy<Value = ClientMsg> {
        let s = ".{0,16}";
        prop_oneof![
            (s, s, prop::option::of(s), prop::collection::vec(s, 0..3)).prop_map(
                |(name, version, token, features)| {
                    ClientMsg::Hello {
                        client: Peer { name, version },
                        token,
                        features,
                    }
                }
            ),
            (s, "[a-z]{1,8}\\.[a-z_]{1,8}", arb_object())
                .prop_map(|(id, method, p)| ClientMsg::Req { id, method, p }),
            s.prop_map(|id| ClientMsg::Cancel { id }),
            (
                any::<u32>(),
                "[a-z.]{1,12}",
                arb_object(),
                prop::option::of(arb_window())
            )
                .prop_map(|(ch, kind, p, window)| ClientMsg::Open {
                    ch,
                    kind,
                    p,
                    window
                }),
            (any::<u32>(), any::<Option<u32>>(), any::<Option<u32>>())
                .prop_map(|(ch, msgs, bytes)| ClientMsg::Credit { ch, msgs, bytes }),
            (any::<u32>(), any::<u16>(), any::<u16>())
                .prop_map(|(ch, cols, rows)| ClientMsg::Resize { ch, cols, rows }),
            any::<u32>().prop_map(|ch| ClientMsg::Eof { ch }),
            any::<u32>().prop_map(|ch| ClientMsg::Close { ch }),
            any::<u64>().prop_map(|ts| ClientMsg::Ping { ts }),
        ]
    }

    fn arb_server() -> impl Strategy<Value = ServerMsg> {
        let s = ".{0,16}";
        let roles = prop::sample::select(Role::ALL.to_vec());
        prop_oneof![
            (s, s, s, roles, any::<u32>(), any::<[u32; 4]>()).prop_map(
                |(name, version, session, role, hb, l)| {
                    ServerMsg::Welcome {
                        protocol: PROTOCOL_VERSION,
                        server: Peer {
                            name: name.clone(),
                            version,
                        },
                        session,
                        user: WelcomeUser { name, role },
                        features: vec![],
                        heartbeat_ms: hb,
                        limits: Limits {
                            max_channels: l[0],
                            max_text_bytes: l[1],
                            max_window_bytes: l[2],
                            max_window_msgs: l[3],
                        },
                    }
                }
            ),
            (s, arb_value()).prop_map(|(id, p)| ServerMsg::Res { id, p }),
            (prop::option::of(s), arb_error()).prop_map(|(id, error)| ServerMsg::Err { id, error }),
            (any::<u32>(), arb_object(), arb_window())
                .prop_map(|(ch, p, window)| ServerMsg::Opened { ch, p, window }),
            (any::<u32>(), any::<u64>(), arb_value()).prop_map(|(ch, seq, p)| ServerMsg::Data {
                ch,
                seq,
                p
            }),
            (
                any::<u32>(),
                prop::option::of(arb_object()),
                prop::option::of(arb_error())
            )
                .prop_map(|(ch, p, error)| ServerMsg::Close { ch, p, error }),
            any::<u64>().prop_map(|ts| ServerMsg::Pong { ts }),
            (s, any::<u64>()).prop_map(|(code, reconnect_after_ms)| ServerMsg::Bye {
                code,
                reconnect_after_ms
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_client_message_round_trips(msg in arb_client()) {
            let text = serde_json::to_string(&msg).unwrap();
            prop_assert_eq!(decode_client(&text), Ok(msg));
        }

        #[test]
        fn every_server_message_round_trips(msg in arb_server()) {
            let text = serde_json::to_string(&msg).unwrap();
            let back: ServerMsg = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, msg);
        }

        #[test]
        fn arbitrary_text_never_panics_the_decoder(text in ".{0,64}") {
            let _ = decode_client(&text);
        }
    }
}
