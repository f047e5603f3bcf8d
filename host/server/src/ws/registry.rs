//! The method and channel registry: every method and channel kind of the catalogue
//! (`berth_protocol::api::catalogue`) bound to its handler. The role check and the
//! audit record happen here, in one place, never in handlers.

pub use crate::errors::{bad_field, internal};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use berth_protocol::api::catalogue::{
    CHANNELS, ChannelInfo, ChannelKind, METHODS, Method, MethodInfo,
};
use berth_protocol::error::{ErrorBody, ErrorCode};
use serde_json::Value;

use super::outbox::ChannelSink;
use crate::server::AppState;
use berth_identity::audit::AuditRecord;
use berth_identity::principal::Principal;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type MethodFn = dyn Fn(Call, Value) -> BoxFuture<Result<Value, ErrorBody>> + Send + Sync;
type ChannelFn = dyn Fn(Call, Value, ChannelSink) -> Result<BoxFuture<()>, ErrorBody> + Send + Sync;

/// How a channel's producer ended: the `close` payload, or an error.
pub type ChannelEnd = Result<Option<Value>, ErrorBody>;

/// One call as the registry sees it: the server's state, who calls and from where.
/// Handlers never get it whole: they name what they use ([`FromCall`]).
#[derive(Debug, Clone)]
pub struct Call {
    pub state: Arc<AppState>,
    pub principal: Principal,
    pub client: SocketAddr,
}

/// What a handler takes from its call, named in its signature the way axum handlers
/// name their extractors: the services it uses (`Arc<Hosts>`, `Arc<Engine>`,
/// `Principal`, …) rather than the whole state. A handler needing several takes a
/// tuple.
pub trait FromCall: Send + 'static {
    fn from_call(call: &Call) -> Self;
}

impl FromCall for Principal {
    fn from_call(call: &Call) -> Self {
        call.principal.clone()
    }
}

/// The caller's address.
impl FromCall for SocketAddr {
    fn from_call(call: &Call) -> Self {
        call.client
    }
}

/// `FromCall` for a handle the state holds: `$ty` from `state.$($path).+`.
macro_rules! from_state {
    ($($ty:ty => $($path:ident).+;)+) => {$(
        impl FromCall for $ty {
            fn from_call(call: &Call) -> Self {
                call.state.$($path).+.clone()
            }
        }
    )+};
}

from_state! {
    Arc<berth_engine::Engine> => engine;
    Arc<berth_docker::hosts::Hosts> => engine.hosts;
    Arc<berth_core::store::Store> => engine.store;
    Arc<berth_identity::audit::AuditLog> => audit;
    Arc<crate::api::settings::Configured> => settings;
    Arc<crate::transfers::Transfers> => transfers;
    Arc<crate::api::Staging> => staging;
    Arc<crate::hoststats::HostStats> => stats;
}

impl FromCall for crate::login::PasswordGuard {
    fn from_call(call: &Call) -> Self {
        Self::of(&call.state)
    }
}

impl FromCall for crate::api::Installer {
    fn from_call(call: &Call) -> Self {
        Self::of(&call.state)
    }
}

impl FromCall for crate::server::DataRoot {
    fn from_call(call: &Call) -> Self {
        Self(call.state.data_dir.clone())
    }
}

impl FromCall for crate::server::Uptime {
    fn from_call(call: &Call) -> Self {
        Self(call.state.started.elapsed())
    }
}

impl<A: FromCall, B: FromCall> FromCall for (A, B) {
    fn from_call(call: &Call) -> Self {
        (A::from_call(call), B::from_call(call))
    }
}

impl<A: FromCall, B: FromCall, C: FromCall> FromCall for (A, B, C) {
    fn from_call(call: &Call) -> Self {
        (A::from_call(call), B::from_call(call), C::from_call(call))
    }
}

impl<A: FromCall, B: FromCall, C: FromCall, D: FromCall> FromCall for (A, B, C, D) {
    fn from_call(call: &Call) -> Self {
        (
            A::from_call(call),
            B::from_call(call),
            C::from_call(call),
            D::from_call(call),
        )
    }
}

/// Runs blocking store work off the async threads.
pub async fn blocking<T, F>(f: F) -> Result<T, ErrorBody>
where
    F: FnOnce() -> Result<T, ErrorBody> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(&e))?
}

fn decode_params<T: serde::de::DeserializeOwned>(p: Value) -> Result<T, ErrorBody> {
    serde_json::from_value(p).map_err(|e| {
        let msg = e.to_string();
        // serde names the field in "missing field `x`" / "unknown variant ..."; pass it on.
        let field = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.starts_with("missing field"))
            .unwrap_or("p")
            .to_owned();
        bad_field(&field, format!("bad params: {msg}"))
    })
}

/// The audit target of a call, from its params: the first of `name`, `id`, `user`,
/// `container`; else the `targets` of a backup (`container web, volume data`) or the
/// `ids` of a bulk action; with a volume path appended (`data:/etc/app.conf`).
fn target_of(p: &Value) -> Option<String> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let named = ["name", "id", "user", "container"]
        .iter()
        .find_map(|k| p.get(*k).and_then(text));
    let listed = || {
        let targets: Vec<String> = p
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some(format!(
                    "{} {}",
                    t.get("kind")?.as_str()?,
                    t.get("name")?.as_str()?
                ))
            })
            .collect();
        let ids: Vec<String> = p
            .get("ids")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default();
        [targets, ids]
            .into_iter()
            .find(|l| !l.is_empty())
            .map(|l| l.join(", "))
    };
    let mut target = named.or_else(listed)?;
    if let Some(path) = p.get("path").and_then(Value::as_str) {
        target = format!("{target}:{path}");
    }
    Some(target.chars().take(200).collect())
}

struct MethodEntry {
    info: MethodInfo,
    handler: Box<MethodFn>,
}

struct ChannelEntry {
    info: ChannelInfo,
    open: Box<ChannelFn>,
}

/// All handlers of this build.
pub struct Registry {
    methods: HashMap<&'static str, MethodEntry>,
    channels: HashMap<&'static str, ChannelEntry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("methods", &self.methods.len())
            .field("channels", &self.channels.len())
            .finish()
    }
}

fn info_of<M: Method>() -> MethodInfo {
    *METHODS
        .iter()
        .find(|m| m.name == M::NAME)
        .expect("every Method type is in METHODS")
}

impl Registry {
    fn empty() -> Self {
        Self {
            methods: HashMap::new(),
            channels: HashMap::new(),
        }
    }

    /// Binds a method of the catalogue to its handler.
    pub fn method<M, A, F, Fut>(&mut self, _: M, f: F) -> &mut Self
    where
        M: Method,
        A: FromCall,
        F: Fn(A, M::Params) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<M::Result, ErrorBody>> + Send + 'static,
    {
        let f = Arc::new(f);
        let handler: Box<MethodFn> = Box::new(move |call, p| {
            let f = Arc::clone(&f);
            Box::pin(async move {
                let params: M::Params = decode_params(p)?;
                let result = f(A::from_call(&call), params).await?;
                serde_json::to_value(result).map_err(|e| internal(&e))
            })
        });
        let prev = self.methods.insert(
            M::NAME,
            MethodEntry {
                info: info_of::<M>(),
                handler,
            },
        );
        assert!(prev.is_none(), "method {} bound twice", M::NAME);
        self
    }

    /// Binds a channel kind to its producer. `f` validates the params synchronously
    /// (errors close the channel before `opened`) and returns the producer future.
    pub fn channel<K, A, F, Fut>(&mut self, _: K, f: F) -> &mut Self
    where
        K: ChannelKind,
        A: FromCall,
        F: Fn(A, K::Params, ChannelSink) -> Result<Fut, ErrorBody> + Send + Sync + 'static,
        Fut: Future<Output = ChannelEnd> + Send + 'static,
    {
        let open: Box<ChannelFn> = Box::new(move |call: Call, p, sink: ChannelSink| {
            let params: K::Params = decode_params(p)?;
            let end = sink.clone();
            let fut = f(A::from_call(&call), params, sink)?;
            Ok(Box::pin(async move {
                match fut.await {
                    Ok(p) => end.finish(p, None),
                    Err(e) => end.finish(None, Some(e)),
                }
            }) as BoxFuture<()>)
        });
        let info = *CHANNELS
            .iter()
            .find(|c| c.name == K::NAME)
            .expect("every ChannelKind type is in CHANNELS");
        let prev = self.channels.insert(K::NAME, ChannelEntry { info, open });
        assert!(prev.is_none(), "channel kind {} bound twice", K::NAME);
        self
    }

    /// The registry of this build. Panics (at start, and in the tests) if a method or
    /// channel kind of the catalogue has no handler.
    pub fn standard() -> Self {
        let mut r = Self::empty();
        crate::api::register(&mut r);
        for m in METHODS {
            assert!(
                r.methods.contains_key(m.name),
                "method {} has no handler",
                m.name
            );
        }
        for c in CHANNELS {
            assert!(
                r.channels.contains_key(c.name),
                "channel kind {} has no handler",
                c.name
            );
        }
        r
    }

    pub fn channel_info(&self, kind: &str) -> Option<ChannelInfo> {
        self.channels.get(kind).map(|c| c.info)
    }

    /// Authorises, runs and (when the method is audited) records one call.
    pub async fn call(&self, call: Call, method: &str, p: Value) -> Result<Value, ErrorBody> {
        let Some(entry) = self.methods.get(method) else {
            call.state
                .metrics
                .observe_request("unknown", "unsupported", std::time::Duration::ZERO);
            return Err(ErrorBody::new(
                ErrorCode::Unsupported,
                format!("unknown method {method:?}"),
            )
            .with_details(serde_json::json!({ "method": method })));
        };
        let target = if entry.info.audited {
            target_of(&p)
        } else {
            None
        };
        let began = std::time::Instant::now();
        let result = if !call.principal.role.allows(entry.info.role) {
            Err(forbidden(entry.info.role))
        } else if call.principal.must_change_password && !PASSWORD_CHANGE_ALLOWS.contains(&method) {
            Err(password_change_required())
        } else {
            (entry.handler)(call.clone(), p).await
        };
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => code_str(e.code),
        };
        call.state
            .metrics
            .observe_request(entry.info.name, &outcome, began.elapsed());
        if entry.info.audited {
            record(
                &call.state,
                AuditRecord {
                    time_ms: berth_identity::users::now_ms(),
                    actor: call.principal.user.clone(),
                    token: call.principal.token_name().map(str::to_owned),
                    client: call.client.ip().to_string(),
                    method: method.to_owned(),
                    target,
                    outcome,
                    count: None,
                    detail: None,
                },
            )
            .await;
        }
        result
    }

    /// Authorises and starts a channel's producer.
    pub fn open(
        &self,
        call: Call,
        kind: &str,
        p: Value,
        sink: ChannelSink,
    ) -> Result<BoxFuture<()>, ErrorBody> {
        let Some(entry) = self.channels.get(kind) else {
            return Err(ErrorBody::new(
                ErrorCode::Unsupported,
                format!("unknown channel kind {kind:?}"),
            ));
        };
        if !call.principal.role.allows(entry.info.role) {
            return Err(forbidden(entry.info.role));
        }
        if call.principal.must_change_password {
            return Err(password_change_required());
        }
        (entry.open)(call, p, sink)
    }
}

/// What a user whose password must be changed may still call.
const PASSWORD_CHANGE_ALLOWS: &[&str] = &["auth.whoami", "auth.change_password"];

/// The answer to everything else until the generated password is changed.
pub fn password_change_required() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Forbidden,
        "choose your own password first (auth.change_password): this one was generated",
    )
    .with_details(serde_json::json!({ "reason": "password_change_required" }))
}

pub fn forbidden(need: berth_protocol::role::Role) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Forbidden,
        format!("this needs the {} role", need.as_str()),
    )
}

pub fn code_str(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Writes an audit record off the async threads (repeated failures fold into one,
/// see [`berth_identity::audit::AuditLog`]). A failure to audit is logged, not returned: the
/// action already happened.
pub async fn record(state: &Arc<AppState>, rec: AuditRecord) {
    Auditor::of(state).record(rec).await;
}

/// Writes audit records: the log and the store it persists to.
#[derive(Debug, Clone)]
pub struct Auditor {
    log: Arc<berth_identity::audit::AuditLog>,
    store: Arc<berth_core::store::Store>,
}

impl Auditor {
    pub fn of(state: &AppState) -> Self {
        Self {
            log: Arc::clone(&state.audit),
            store: Arc::clone(&state.engine.store),
        }
    }

    pub async fn record(&self, rec: AuditRecord) {
        self.log.record(Arc::clone(&self.store), rec, None).await;
    }
}

impl FromCall for Auditor {
    fn from_call(call: &Call) -> Self {
        Self::of(&call.state)
    }
}

/// For handlers that need nothing from their call.
impl FromCall for () {
    fn from_call(_: &Call) -> Self {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_entry_has_a_handler() {
        let r = Registry::standard();
        assert_eq!(r.methods.len(), METHODS.len());
        assert_eq!(r.channels.len(), CHANNELS.len());
    }

    #[test]
    fn audit_targets_name_what_was_acted_on() {
        let t = |v: Value| target_of(&v);
        assert_eq!(t(serde_json::json!({"id": "web"})).as_deref(), Some("web"));
        assert_eq!(
            t(
                serde_json::json!({"targets": [{"kind": "container", "name": "web"},
                                               {"kind": "volume", "name": "data"}]})
            )
            .as_deref(),
            Some("container web, volume data")
        );
        assert_eq!(
            t(serde_json::json!({"action": "stop", "ids": ["a", "b"]})).as_deref(),
            Some("a, b")
        );
        assert_eq!(
            t(serde_json::json!({"name": "data", "path": "/etc/x"})).as_deref(),
            Some("data:/etc/x")
        );
        assert_eq!(t(serde_json::json!({})), None);
    }

    #[test]
    fn params_errors_name_the_field() {
        let e = decode_params::<berth_protocol::api::users::UserName>(serde_json::json!({}))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert_eq!(e.details.unwrap()["field"], "name");
    }
}
