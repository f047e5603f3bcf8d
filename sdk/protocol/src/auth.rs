//! `POST /api/v1/auth/login` and the HTTP error body.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ErrorBody;
use crate::role::Role;

/// The login request. `Debug` never shows the password or the TOTP code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Second factor, when the user has enrolled one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
}

/// 200 answer; the session itself travels in the `berth_session` cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LoginResponse {
    pub user: UserInfo,
    pub role: Role,
    /// RFC 3339.
    pub expires_at: String,
    /// See `Whoami::must_change_password`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_change_password: bool,
}

/// Every HTTP error body: `{"error":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HttpError {
    pub error: ErrorBody,
}

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "berth_session";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_credentials() {
        let r = LoginRequest {
            username: "alice".into(),
            password: "s3cret-pass".into(),
            totp: Some("123456".into()),
        };
        let d = format!("{r:?}");
        assert!(
            d.contains("alice") && !d.contains("s3cret") && !d.contains("123456"),
            "{d}"
        );
    }

    #[test]
    fn totp_is_optional() {
        let r: LoginRequest = serde_json::from_str(r#"{"username":"a","password":"b"}"#).unwrap();
        assert_eq!(r.totp, None);
    }
}
