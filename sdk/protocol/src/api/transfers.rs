//! Transfer tickets: a method mints one, `GET /api/v1/transfers/{ticket}` streams it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A single-use, short-lived download (or, for backups later, upload) right, bound to
/// the user who asked for it: the HTTP request must carry that user's session cookie
/// or bearer token, and must start within 60 s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Ticket {
    pub ticket: String,
    /// Where to fetch it: `/api/v1/transfers/{ticket}`.
    pub url: String,
    /// The file name the download will carry.
    pub filename: String,
    /// RFC 3339; the request must start before it.
    pub expires_at: String,
}
