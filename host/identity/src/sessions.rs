//! Login sessions: random bearer secrets, stored only as their SHA-256, with expiry and
//! revocation.
//!
//! The token (64 hex characters, 256 bits) goes to the browser in the `berth_session`
//! cookie or to a script as a bearer token. The store keeps `sha256(token)` as the key,
//! so a copy of the data directory does not hand out live sessions.

use berth_core::records::RecordTable;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::UserError;
use super::users::now_ms;
use berth_core::store::Store;

pub(crate) const SESSIONS: RecordTable<Session> =
    RecordTable::with_secret_keys("sessions", "session");

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Public, opaque id (a prefix of the token's hash): safe to show and to revoke by.
    pub id: String,
    pub user: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    /// Client address at login.
    pub client: String,
    pub revoked_ms: Option<u64>,
}

impl Session {
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.revoked_ms.is_none() && now_ms < self.expires_ms
    }
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    hex::encode(bytes)
}

fn decode(bytes: &[u8]) -> Result<Session, UserError> {
    Ok(SESSIONS.decode("", bytes)?)
}

/// Whether a stored session record belongs to `user` (unreadable records do not).
pub(crate) fn belongs_to(bytes: &[u8], user: &str) -> bool {
    decode(bytes).is_ok_and(|s| s.user == user)
}

pub trait SessionsTable: berth_core::store::StoreAccess {
    /// Starts a session for `user`; returns the secret token (shown to the client only).
    fn create_session(
        &self,
        user: &str,
        ttl_ms: u64,
        client: &str,
    ) -> Result<(String, Session), UserError> {
        let token = new_token();
        let hash = token_hash(&token);
        let now = now_ms();
        let session = Session {
            id: hash[..16].to_owned(),
            user: user.to_owned(),
            created_ms: now,
            expires_ms: now.saturating_add(ttl_ms),
            client: client.to_owned(),
            revoked_ms: None,
        };
        let tx = self.db().begin_write()?;
        {
            let mut t = tx.open_table(SESSIONS.definition())?;
            t.insert(hash.as_str(), SESSIONS.encode(&session).as_slice())?;
        }
        tx.commit()?;
        Ok((token, session))
    }

    /// The live session a token belongs to; `None` when unknown, expired or revoked.
    fn session_for_token(&self, token: &str) -> Result<Option<Session>, UserError> {
        let tx = self.db().begin_read()?;
        let t = tx.open_table(SESSIONS.definition())?;
        let Some(v) = t.get(token_hash(token).as_str())? else {
            return Ok(None);
        };
        let s = decode(v.value())?;
        Ok(s.is_live(now_ms()).then_some(s))
    }

    /// Revokes the session of `token`; false when there was none.
    fn revoke_session_token(&self, token: &str) -> Result<bool, UserError> {
        let hash = token_hash(token);
        let tx = self.db().begin_write()?;
        let found = {
            let mut t = tx.open_table(SESSIONS.definition())?;
            let current = t
                .get(hash.as_str())?
                .map(|v| decode(v.value()))
                .transpose()?;
            match current {
                Some(mut s) if s.revoked_ms.is_none() => {
                    s.revoked_ms = Some(now_ms());
                    t.insert(hash.as_str(), SESSIONS.encode(&s).as_slice())?;
                    true
                }
                _ => false,
            }
        };
        tx.commit()?;
        self.identity_changed();
        Ok(found)
    }

    /// Live sessions, of one user or of everyone, oldest first.
    fn list_sessions(&self, user: Option<&str>) -> Result<Vec<Session>, UserError> {
        let now = now_ms();
        let tx = self.db().begin_read()?;
        let t = tx.open_table(SESSIONS.definition())?;
        let mut out = Vec::new();
        for r in t.iter()? {
            let (_, v) = r?;
            let s = decode(v.value())?;
            if s.is_live(now) && user.is_none_or(|u| u == s.user) {
                out.push(s);
            }
        }
        out.sort_by_key(|s| s.created_ms);
        Ok(out)
    }

    /// Revokes live sessions matching `pred` (by public id, by user, …); returns how many.
    fn revoke_sessions_where(&self, pred: impl Fn(&Session) -> bool) -> Result<u32, UserError> {
        let now = now_ms();
        let tx = self.db().begin_write()?;
        let mut n = 0;
        {
            let mut t = tx.open_table(SESSIONS.definition())?;
            let mut hits = Vec::new();
            for r in t.iter()? {
                let (k, v) = r?;
                let s = decode(v.value())?;
                if s.is_live(now) && pred(&s) {
                    hits.push((k.value().to_owned(), s));
                }
            }
            for (k, mut s) in hits {
                s.revoked_ms = Some(now);
                t.insert(k.as_str(), SESSIONS.encode(&s).as_slice())?;
                n += 1;
            }
        }
        tx.commit()?;
        if n > 0 {
            self.identity_changed();
        }
        Ok(n)
    }

    /// Forgets sessions that expired or were revoked more than `keep_ms` ago.
    fn prune_sessions(&self, keep_ms: u64) -> Result<u32, UserError> {
        let cutoff = now_ms().saturating_sub(keep_ms);
        let tx = self.db().begin_write()?;
        let n = {
            let mut t = tx.open_table(SESSIONS.definition())?;
            let before = t.len()?;
            t.retain(|_, v| {
                decode(v).is_ok_and(|s| s.expires_ms.min(s.revoked_ms.unwrap_or(u64::MAX)) > cutoff)
            })?;
            before - t.len()?
        };
        tx.commit()?;
        Ok(n as u32)
    }
}

impl SessionsTable for Store {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_by_token_only_while_live() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb"), &[crate::tables]).unwrap();
        let (token, session) = s.create_session("alice", 60_000, "127.0.0.1").unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(s.session_for_token(&token).unwrap(), Some(session.clone()));
        assert_eq!(s.session_for_token("not-a-token").unwrap(), None);
        assert!(s.revoke_session_token(&token).unwrap());
        assert!(!s.revoke_session_token(&token).unwrap(), "already revoked");
        assert_eq!(s.session_for_token(&token).unwrap(), None);

        let (expired, _) = s.create_session("alice", 0, "127.0.0.1").unwrap();
        assert_eq!(s.session_for_token(&expired).unwrap(), None);
    }

    #[test]
    fn the_store_never_holds_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let token = {
            let s = Store::open(&path, &[crate::tables]).unwrap();
            s.create_session("alice", 60_000, "127.0.0.1").unwrap().0
        };
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()));
    }
}
