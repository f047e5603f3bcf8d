//! The first admin. Berth never ships a default password.

use crate::prelude::*;
use berth_protocol::role::Role;

use super::{UserError, password};
use berth_core::store::Store;

/// What happened at start-up.
#[derive(PartialEq, Eq)]
pub enum Bootstrap {
    /// Users exist already; nothing was done.
    Existing,
    /// The first admin was created from the configured name and password.
    Configured { name: String },
    /// No password was configured: one was generated. It must be shown once.
    Generated { name: String, password: String },
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Existing => f.write_str("Existing"),
            Self::Configured { name } => f.debug_struct("Configured").field("name", name).finish(),
            Self::Generated { name, .. } => f
                .debug_struct("Generated")
                .field("name", name)
                .finish_non_exhaustive(),
        }
    }
}

/// Creates the first admin when the store has no users.
pub fn ensure_first_admin(
    store: &Store,
    name: Option<&str>,
    password: Option<&str>,
) -> Result<Bootstrap, UserError> {
    if store.count_users()? > 0 {
        return Ok(Bootstrap::Existing);
    }
    let name = name.unwrap_or("admin");
    match password {
        Some(p) => {
            store.create_user(name, Role::Admin, p)?;
            Ok(Bootstrap::Configured {
                name: name.to_owned(),
            })
        }
        None => {
            let generated = password::generate();
            store.create_user(name, Role::Admin, &generated)?;
            store.update_user(name, |u| {
                u.must_change_password = true;
                Ok(())
            })?;
            Ok(Bootstrap::Generated {
                name: name.to_owned(),
                password: generated,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_the_first_admin_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb"), &[crate::tables]).unwrap();
        let Bootstrap::Generated { name, password } = ensure_first_admin(&s, None, None).unwrap()
        else {
            panic!("generated")
        };
        assert_eq!(name, "admin");
        let admin = s.get_user("admin").unwrap().unwrap();
        assert_eq!(admin.role, Role::Admin);
        assert!(
            admin.must_change_password,
            "a generated password must be changed"
        );
        assert!(password::verify(&password, &admin.password_hash));
        assert_eq!(
            ensure_first_admin(&s, Some("root"), Some("configured-pass")).unwrap(),
            Bootstrap::Existing
        );
        assert!(s.get_user("root").unwrap().is_none());
    }

    #[test]
    fn uses_the_configured_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb"), &[crate::tables]).unwrap();
        let b = ensure_first_admin(&s, Some("ops"), Some("configured-pass")).unwrap();
        assert_eq!(b, Bootstrap::Configured { name: "ops".into() });
        assert!(password::verify(
            "configured-pass",
            &s.get_user("ops").unwrap().unwrap().password_hash
        ));
    }
}
