//! `users.*` (admin): accounts and their roles.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::role::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserSummary {
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub updated_at: String,
    pub totp_enabled: bool,
    /// Live login sessions.
    pub sessions: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserList {
    pub users: Vec<UserSummary>,
}

/// `users.create` params. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateUser {
    pub name: String,
    pub role: Role,
    pub password: String,
}

impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// `users.update` params: any of role, password reset, session revocation, TOTP reset.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateUser {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Ends every login session of the user.
    #[serde(default)]
    pub revoke_sessions: bool,
    /// Removes the user's second factor (for a lost phone).
    #[serde(default)]
    pub reset_totp: bool,
}

impl std::fmt::Debug for UpdateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateUser")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("revoke_sessions", &self.revoke_sessions)
            .finish_non_exhaustive()
    }
}

/// `users.delete` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserName {
    pub name: String,
}
