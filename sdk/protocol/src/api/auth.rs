//! `auth.*`: who am I, my password, my sessions, my second factor.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::UserInfo;
use crate::role::Role;

/// `auth.whoami` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Whoami {
    pub user: UserInfo,
    /// The role in effect on this connection: a token's role can be below its user's.
    pub role: Role,
    pub credential: Credential,
    pub totp_enabled: bool,
    /// The password was generated (the first admin's): every method but
    /// `auth.whoami` and `auth.change_password` is refused until it is changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_change_password: bool,
}

/// What authenticated the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credential {
    Session {
        id: String,
        expires_at: String,
    },
    Token {
        id: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<String>,
    },
}

/// `auth.change_password` params. `Debug` hides both passwords.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangePassword {
    pub current: String,
    pub new: String,
}

impl std::fmt::Debug for ChangePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangePassword { .. }")
    }
}

/// One login session, as `auth.sessions.list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    pub id: String,
    pub user: String,
    pub created_at: String,
    pub expires_at: String,
    /// Client address at login.
    pub client: String,
    /// The session this connection uses.
    pub current: bool,
}

/// `auth.sessions.list` params: admins may list another user's sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListSessions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
}

/// `auth.sessions.revoke` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevokeSession {
    pub id: String,
}

/// Result of a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Revoked {
    pub revoked: u32,
}

/// `auth.totp.enroll` result: a new secret, active only after `auth.totp.confirm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TotpEnrollment {
    /// Base32, for manual entry.
    pub secret: String,
    /// `otpauth://totp/...`, what the QR code encodes.
    pub uri: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
}

/// `auth.totp.confirm` params: a code from the authenticator app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TotpCode {
    pub code: String,
}

/// `auth.totp.confirm` result: single-use recovery codes, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}

/// `auth.totp.disable` params: the password, again.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfirmPassword {
    pub password: String,
}

impl std::fmt::Debug for ConfirmPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfirmPassword { .. }")
    }
}
