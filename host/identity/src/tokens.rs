//! API tokens: `berth_` + 256 random bits, stored only as their SHA-256, with a role at
//! most their creator's, an optional expiry and the time they were last used.

use berth_core::records::RecordTable;
use berth_protocol::api::tokens::TOKEN_PREFIX;
use berth_protocol::role::Role;
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::UserError;
use super::sessions::{new_token, token_hash};
use super::users::now_ms;
use berth_core::store::Store;

pub(crate) const TOKENS: RecordTable<ApiToken> = RecordTable::with_secret_keys("tokens", "token");

/// `last_used_ms` is written at most this often per token: authentication is a read,
/// and a busy script must not turn every connection into a store commit.
const TOUCH_EVERY_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Public id (a prefix of the secret's hash).
    pub id: String,
    pub name: String,
    pub user: String,
    pub role: Role,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    pub last_used_ms: Option<u64>,
}

impl ApiToken {
    pub fn is_live(&self, now: u64) -> bool {
        self.expires_ms.is_none_or(|e| now < e)
    }
}

fn decode(bytes: &[u8]) -> Result<ApiToken, UserError> {
    Ok(TOKENS.decode("", bytes)?)
}

pub(crate) fn belongs_to(bytes: &[u8], user: &str) -> bool {
    decode(bytes).is_ok_and(|t| t.user == user)
}

/// Token names: what a person would type, nothing that breaks a table or a log line.
pub fn validate_token_name(name: &str) -> Result<(), UserError> {
    let ok = (1..=64).contains(&name.chars().count())
        && name.chars().all(|c| !c.is_control())
        && name.trim() == name;
    if ok {
        Ok(())
    } else {
        Err(UserError::Conflict(format!(
            "invalid token name {name:?}: use 1–64 printable characters without surrounding spaces"
        )))
    }
}

pub trait TokensTable: berth_core::store::StoreAccess + crate::sessions::SessionsTable {
    /// Creates a token for `user`; returns the secret (shown once) and the record.
    fn create_token(
        &self,
        user: &str,
        name: &str,
        role: Role,
        ttl_ms: Option<u64>,
    ) -> Result<(String, ApiToken), UserError> {
        validate_token_name(name)?;
        let secret = format!("{TOKEN_PREFIX}{}", new_token());
        let hash = token_hash(&secret);
        let now = now_ms();
        let token = ApiToken {
            id: hash[..16].to_owned(),
            name: name.to_owned(),
            user: user.to_owned(),
            role,
            created_ms: now,
            expires_ms: ttl_ms.map(|t| now.saturating_add(t)),
            last_used_ms: None,
        };
        let tx = self.db().begin_write()?;
        {
            let mut t = tx.open_table(TOKENS.definition())?;
            for r in t.iter()? {
                let (_, v) = r?;
                let other = decode(v.value())?;
                if other.user == user && other.name == name {
                    return Err(UserError::Conflict(format!(
                        "you already have a token named {name:?}"
                    )));
                }
            }
            t.insert(hash.as_str(), TOKENS.encode(&token).as_slice())?;
        }
        tx.commit()?;
        Ok((secret, token))
    }

    /// The live token a secret belongs to, recording its use.
    fn token_for_secret(&self, secret: &str) -> Result<Option<ApiToken>, UserError> {
        let hash = token_hash(secret);
        let now = now_ms();
        let found = {
            let tx = self.db().begin_read()?;
            let t = tx.open_table(TOKENS.definition())?;
            match t.get(hash.as_str())? {
                Some(v) => decode(v.value())?,
                None => return Ok(None),
            }
        };
        if !found.is_live(now) {
            return Ok(None);
        }
        if found
            .last_used_ms
            .is_none_or(|t| now.saturating_sub(t) >= TOUCH_EVERY_MS)
        {
            let mut touched = found.clone();
            touched.last_used_ms = Some(now);
            let tx = self.db().begin_write()?;
            {
                let mut t = tx.open_table(TOKENS.definition())?;
                // Only if it was not revoked in between.
                if t.get(hash.as_str())?.is_some() {
                    t.insert(hash.as_str(), TOKENS.encode(&touched).as_slice())?;
                }
            }
            tx.commit()?;
            return Ok(Some(touched));
        }
        Ok(Some(found))
    }

    /// Tokens of one user, or everyone's, newest first.
    fn list_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>, UserError> {
        let tx = self.db().begin_read()?;
        let t = tx.open_table(TOKENS.definition())?;
        let mut out = Vec::new();
        for r in t.iter()? {
            let (_, v) = r?;
            let tok = decode(v.value())?;
            if user.is_none_or(|u| u == tok.user) {
                out.push(tok);
            }
        }
        out.sort_by_key(|t| std::cmp::Reverse(t.created_ms));
        Ok(out)
    }

    /// Deletes the token with public id `id` if `may` allows it; returns it.
    fn revoke_token(
        &self,
        id: &str,
        may: impl FnOnce(&ApiToken) -> bool,
    ) -> Result<Option<ApiToken>, UserError> {
        let tx = self.db().begin_write()?;
        let removed = {
            let mut t = tx.open_table(TOKENS.definition())?;
            let mut hit = None;
            for r in t.iter()? {
                let (k, v) = r?;
                let tok = decode(v.value())?;
                if tok.id == id {
                    hit = Some((k.value().to_owned(), tok));
                    break;
                }
            }
            match hit {
                Some((k, tok)) if may(&tok) => {
                    t.remove(k.as_str())?;
                    Some(tok)
                }
                _ => None,
            }
        };
        tx.commit()?;
        if removed.is_some() {
            self.identity_changed();
        }
        Ok(removed)
    }
}

impl TokensTable for Store {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_hashed_prefixed_listed_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let s = Store::open(&path, &[crate::tables]).unwrap();
        let (secret, tok) = s.create_token("alice", "ci", Role::Operator, None).unwrap();
        assert!(secret.starts_with("berth_") && secret.len() == 6 + 64);
        assert!(matches!(
            s.create_token("alice", "ci", Role::Viewer, None),
            Err(UserError::Conflict(_))
        ));
        let found = s.token_for_secret(&secret).unwrap().unwrap();
        assert_eq!(found.id, tok.id);
        assert!(found.last_used_ms.is_some(), "use is recorded");
        assert_eq!(s.token_for_secret("berth_nope").unwrap(), None);
        assert_eq!(s.list_tokens(Some("bob")).unwrap(), vec![]);
        assert_eq!(s.list_tokens(None).unwrap().len(), 1);
        assert_eq!(s.revoke_token(&tok.id, |t| t.user == "bob").unwrap(), None);
        assert!(s.revoke_token(&tok.id, |_| true).unwrap().is_some());
        assert_eq!(s.token_for_secret(&secret).unwrap(), None);

        let (expired, _) = s
            .create_token("alice", "old", Role::Viewer, Some(0))
            .unwrap();
        assert_eq!(s.token_for_secret(&expired).unwrap(), None);
        drop(s);
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_token_name("deploy bot").is_ok());
        for bad in ["", " x", "a\nb", &"x".repeat(65)] {
            assert!(validate_token_name(bad).is_err(), "{bad:?}");
        }
    }
}
