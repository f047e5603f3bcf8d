//! `GET /healthz` and `GET /readyz` bodies.

use serde::{Deserialize, Serialize};

/// `GET /healthz`: the process is alive and serving HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liveness {
    /// Always `"ok"`.
    pub status: String,
}

/// `GET /readyz`: whether Berth can do its work, with one entry per dependency.
///
/// The HTTP status is 200 when `ready` is true and 503 otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub ready: bool,
    pub version: String,
    pub checks: Vec<Check>,
}

/// One dependency's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `store`, `docker` or `plugin:<id>`.
    pub name: String,
    pub ok: bool,
    /// What was found: e.g. the engine and API version, or why the check failed.
    pub detail: String,
}

impl Readiness {
    /// Ready exactly when every check is.
    pub fn from_checks(version: &str, checks: Vec<Check>) -> Self {
        Self {
            ready: checks.iter().all(|c| c.ok),
            version: version.to_owned(),
            checks,
        }
    }

    /// The failing checks, for an operator-facing summary.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, ok: bool) -> Check {
        Check {
            name: name.to_owned(),
            ok,
            detail: String::new(),
        }
    }

    #[test]
    fn ready_only_when_every_check_is_ok() {
        let r = Readiness::from_checks("0", vec![check("store", true), check("docker", false)]);
        assert!(!r.ready);
        assert_eq!(
            r.failures().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["docker"]
        );
        assert!(Readiness::from_checks("0", vec![check("store", true)]).ready);
    }

    #[test]
    fn wire_shape_is_stable() {
        let r = Readiness::from_checks("1.2.3", vec![check("store", true)]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ready": true, "version": "1.2.3",
                "checks": [{"name": "store", "ok": true, "detail": ""}]})
        );
    }
}
