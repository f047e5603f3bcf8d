//! The Berth plugin SDK.
//!
//! Plugins are WebAssembly components built for `wasm32-wasip2` against the
//! `berth:plugin` WIT package (in `wit/` of the Berth repository). This crate owns the
//! generated bindings so that every plugin uses the same ones. A plugin implements one
//! world, chosen by exactly one cargo feature:
//!
//! - `base` → module `base`: only `lifecycle` (the built-in `probe`);
//! - `storage` → module `storage`: `lifecycle` + `storage` (where backups are kept);
//! - `notifier` → module `notifier`: `lifecycle` + `notification` (where job results
//!   are sent).
//!
//! (One world per build because wit-bindgen's exported macros are crate-global: two
//! worlds in one build would define the same `lifecycle` export macro twice. Build
//! each plugin on its own, as `cargo xtask plugins` does.)
//!
//! Most plugins implement a trait and export it with one macro —
//! [`store::StorageBackend`] with `export_storage_plugin!`, [`notify::Notifier`] with
//! `export_notifier_plugin!` — and never touch the generated bindings:
//!
//! ```ignore
//! struct Local;
//! impl berth_plugin_sdk::store::StorageBackend for Local { /* new, start_upload, … */ }
//! berth_plugin_sdk::export_storage_plugin!(Local);
//! ```
//!
//! [`config`] parses the JSON configuration `init` receives into a serde type with
//! errors that name the field; [`key`] checks object keys the way the host does.

#[cfg(any(
    all(feature = "base", feature = "storage"),
    all(feature = "base", feature = "notifier"),
    all(feature = "storage", feature = "notifier"),
))]
compile_error!(
    "enable exactly one of the features base, storage, notifier (build plugins one at a time)"
);

/// The `base` world: only `lifecycle`, plus the `host` imports.
#[cfg(feature = "base")]
#[allow(missing_docs, unsafe_code, unreachable_pub, clippy::all)]
pub mod base {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "base",
        pub_export_macro: true,
        export_macro_name: "export_base",
        default_bindings_module: "berth_plugin_sdk::base",
    });
}

/// The `storage-backend` world.
#[cfg(feature = "storage")]
#[allow(missing_docs, unsafe_code, unreachable_pub, clippy::all)]
pub mod storage {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "storage-backend",
        pub_export_macro: true,
        export_macro_name: "export_storage_backend",
        default_bindings_module: "berth_plugin_sdk::storage",
    });
}

/// The `notifier` world.
#[cfg(feature = "notifier")]
#[allow(missing_docs, unsafe_code, unreachable_pub, clippy::all)]
pub mod notifier {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "notifier",
        pub_export_macro: true,
        export_macro_name: "export_notifier",
        default_bindings_module: "berth_plugin_sdk::notifier",
    });
}

/// The `berth:plugin/host` imports of the world this build implements.
#[cfg(feature = "base")]
pub use self::base::berth::plugin::host;
#[cfg(feature = "notifier")]
pub use self::notifier::berth::plugin::host;
#[cfg(feature = "storage")]
pub use self::storage::berth::plugin::host;

#[cfg(any(feature = "base", feature = "storage", feature = "notifier"))]
pub use host::LogLevel;

/// The shared types of the world this build implements.
#[cfg(feature = "base")]
pub use self::base::berth::plugin::types;
#[cfg(feature = "notifier")]
pub use self::notifier::berth::plugin::types;
#[cfg(feature = "storage")]
pub use self::storage::berth::plugin::types;

/// What the export macros answer to `health`: degraded before `init`, healthy when the
/// plugin's own check passes, `failing` with its reason when not.
#[doc(hidden)]
#[cfg(any(feature = "base", feature = "storage", feature = "notifier"))]
pub fn __health_report(
    check: Option<Result<(), String>>,
    failing: types::HealthStatus,
) -> types::HealthReport {
    use types::{HealthReport, HealthStatus};
    match check {
        None => HealthReport {
            status: HealthStatus::Degraded,
            message: "not configured".into(),
        },
        Some(Ok(())) => HealthReport {
            status: HealthStatus::Healthy,
            message: String::new(),
        },
        Some(Err(message)) => HealthReport {
            status: failing,
            message,
        },
    }
}

/// Log through the host, tagged with this plugin's id by the host.
#[cfg(any(feature = "base", feature = "storage", feature = "notifier"))]
pub fn log(level: LogLevel, message: &str) {
    host::log(level, message);
}

/// Wall-clock time from the host, milliseconds since the Unix epoch.
#[cfg(any(feature = "base", feature = "storage", feature = "notifier"))]
pub fn now_ms() -> u64 {
    host::now_ms()
}

/// Object keys: what every storage backend accepts (the host checks the same rule
/// before calling a plugin; a plugin checks again because it must not trust input).
pub mod key {
    /// Longest key.
    pub const MAX_LEN: usize = 512;

    /// `Ok` for `/`-separated, non-empty segments of `[A-Za-z0-9._-]` that are not `.`
    /// or `..`; otherwise why not.
    pub fn check(key: &str) -> Result<(), String> {
        if key.is_empty() || key.len() > MAX_LEN {
            return Err(format!("a key has 1 to {MAX_LEN} characters"));
        }
        for seg in key.split('/') {
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!("{key:?}: empty, `.` or `..` segment"));
            }
            if let Some(c) = seg
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(format!("{key:?}: character {c:?} is not allowed"));
            }
        }
        Ok(())
    }
}

/// Configuration helpers.
pub mod config {
    /// Parses `init`'s JSON into `T`; the error names the offending field (serde's
    /// message), ready for `plugin-error::invalid-config`.
    pub fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        serde_json::from_str(json).map_err(|e| e.to_string())
    }
}

/// Outgoing HTTP over `wasi:http` (feature `http`). The host lets a request through only
/// to origins the manifest lists and the admin granted the instance; everything else
/// fails before any connection is made.
#[cfg(feature = "http")]
pub mod http {
    use std::time::Duration;

    use wstd::http::{Client, Request};

    /// An answer: status and up to 64 KiB of body.
    #[derive(Debug, Clone)]
    pub struct Response {
        pub status: u16,
        pub body: Vec<u8>,
    }

    /// Why a request got no answer (connection refused, denied by the host, timeout).
    #[derive(Debug, Clone)]
    pub struct SendError(pub String);

    impl std::fmt::Display for SendError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    /// Sends one request and waits for the answer (blocking the plugin's call, which is
    /// how plugin calls work). `content-length` is always set: wasi:http would send a
    /// body of unknown length chunked, which many servers and proxies reject or ignore.
    pub fn send(
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response, SendError> {
        wstd::runtime::block_on(send_async(method, url, headers, body))
    }

    /// [`send`] with a JSON body (`content-type: application/json`).
    pub fn post_json(
        url: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<Response, SendError> {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        let bytes = serde_json::to_vec(body).map_err(|e| SendError(e.to_string()))?;
        send("POST", url, &all, bytes)
    }

    async fn send_async(
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response, SendError> {
        let mut req = Request::builder()
            .method(method)
            .uri(url)
            .header("content-length", body.len().to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(body)
            .map_err(|e| SendError(format!("request: {e}")))?;
        let mut client = Client::new();
        client.set_connect_timeout(Duration::from_secs(5));
        client.set_first_byte_timeout(Duration::from_secs(10));
        let resp = client
            .send(req)
            .await
            .map_err(|e| SendError(format!("cannot send: {e}")))?;
        let status = resp.status().as_u16();
        let mut b = resp.into_body();
        let body = match b.contents().await {
            Ok(bytes) => bytes[..bytes.len().min(64 << 10)].to_vec(),
            Err(_) => Vec::new(),
        };
        Ok(Response { status, body })
    }
}

/// Write a notifier by implementing [`notify::Notifier`] and exporting it with
/// [`export_notifier_plugin!`]: the SDK parses the configuration into your type,
/// keeps the instance between calls and reports health.
#[cfg(feature = "notifier")]
pub mod notify {
    pub use crate::notifier::berth::plugin::types::{HealthReport, HealthStatus, PluginError};
    pub use crate::notifier::exports::berth::plugin::notification::{Event, Severity};

    /// A notifier plugin.
    pub trait Notifier: Sized + 'static {
        /// The configuration (the manifest's schema, as a serde type).
        type Config: serde::de::DeserializeOwned;
        /// Called once per instance with its configuration (secrets included).
        fn new(config: Self::Config) -> Result<Self, PluginError>;
        /// Sends one event. Return `PluginError::Unavailable` for failures worth
        /// retrying (the host retries with backoff); anything else is final.
        fn notify(&self, event: &Event) -> Result<(), PluginError>;
        /// A cheap self-check; `Err` reports the plugin degraded with the reason.
        fn health(&self) -> Result<(), String> {
            Ok(())
        }
    }

    /// The severity as a word (`info`, `success`, `warning`, `error`).
    pub fn severity_name(s: Severity) -> &'static str {
        match s {
            Severity::Info => "info",
            Severity::Success => "success",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// The usual reading of an HTTP status: 2xx is success; 408, 429 and 5xx are
    /// worth retrying; 401/403 are refused credentials; the rest is final.
    #[cfg(feature = "http")]
    pub fn check_status(r: &crate::http::Response) -> Result<(), PluginError> {
        if (200..300).contains(&r.status) {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&r.body[..r.body.len().min(200)]);
        let msg = format!("HTTP {}: {}", r.status, text.trim());
        Err(match r.status {
            401 | 403 => PluginError::Unauthorized(msg),
            404 => PluginError::NotFound(msg),
            408 | 429 | 500..=599 => PluginError::Unavailable(msg),
            _ => PluginError::Other(msg),
        })
    }

    #[doc(hidden)]
    pub mod __glue {
        pub use std::cell::RefCell;
    }
}

/// Write a storage backend by implementing [`store::StorageBackend`] (and its
/// [`store::ObjectWriter`] / [`store::ObjectReader`]) and exporting it with
/// [`export_storage_plugin!`]. The SDK parses the configuration, keeps the instance,
/// checks every key before your code sees it, refuses writes after `finish`/`abort`,
/// and aborts an upload that is dropped unfinished (the host gave up, or trapped).
#[cfg(feature = "storage")]
pub mod store {
    pub use crate::storage::berth::plugin::types::{
        HealthReport, HealthStatus, ObjectMeta, PluginError,
    };
    pub use crate::storage::exports::berth::plugin::storage::ObjectPage;

    /// A storage backend plugin.
    pub trait StorageBackend: Sized + 'static {
        /// The configuration (the manifest's schema, as a serde type).
        type Config: serde::de::DeserializeOwned;
        type Writer: ObjectWriter;
        type Reader: ObjectReader;
        /// Called once per instance with its configuration (secrets included).
        fn new(config: Self::Config) -> Result<Self, PluginError>;
        /// A cheap self-check; `Err` reports the plugin unhealthy with the reason.
        fn health(&self) -> Result<(), String> {
            Ok(())
        }
        /// Starts writing `key`; nothing may be visible under it before `finish`.
        fn start_upload(&self, key: &str) -> Result<Self::Writer, PluginError>;
        /// Opens `key` for reading; `PluginError::NotFound` when it does not exist.
        fn open_download(&self, key: &str) -> Result<Self::Reader, PluginError>;
        /// `PluginError::NotFound` when there is no such object.
        fn stat(&self, key: &str) -> Result<ObjectMeta, PluginError>;
        /// Objects whose key starts with `prefix`, sorted by key, at most `limit`
        /// (1–10,000) after `cursor` (the last key of the previous page).
        fn list(
            &self,
            prefix: &str,
            cursor: Option<&str>,
            limit: u32,
        ) -> Result<ObjectPage, PluginError>;
        /// Deleting a missing object is not an error.
        fn delete(&self, key: &str) -> Result<(), PluginError>;
    }

    /// An object being written.
    pub trait ObjectWriter: 'static {
        fn write(&mut self, chunk: &[u8]) -> Result<(), PluginError>;
        /// Makes the object visible; returns its size.
        fn finish(&mut self) -> Result<u64, PluginError>;
        /// Discards everything written (also called for an upload dropped unfinished).
        fn abort(&mut self) -> Result<(), PluginError>;
    }

    /// An object being read.
    pub trait ObjectReader: 'static {
        /// Up to `max` bytes; empty at the end.
        fn read(&mut self, max: usize) -> Result<Vec<u8>, PluginError>;
    }

    /// A key as every backend must accept it, or `invalid-config` naming the problem.
    pub fn checked(key: &str) -> Result<&str, PluginError> {
        crate::key::check(key).map_err(PluginError::InvalidConfig)?;
        Ok(key)
    }

    /// Reads above this are refused by the host anyway; the SDK caps `max` here.
    pub const MAX_READ: usize = 4 << 20;

    #[doc(hidden)]
    pub mod __glue {
        pub use std::cell::RefCell;

        use super::{ObjectWriter, PluginError};

        fn ended() -> PluginError {
            PluginError::Conflict("the upload has ended".into())
        }

        /// An upload that ends exactly once and aborts when dropped unfinished.
        pub struct Writer<W: ObjectWriter>(pub RefCell<Option<W>>);

        impl<W: ObjectWriter> Writer<W> {
            pub fn write(&self, chunk: &[u8]) -> Result<(), PluginError> {
                self.0.borrow_mut().as_mut().ok_or_else(ended)?.write(chunk)
            }
            pub fn finish(&self) -> Result<u64, PluginError> {
                let mut w = self.0.borrow_mut().take().ok_or_else(ended)?;
                w.finish()
            }
            pub fn abort(&self) -> Result<(), PluginError> {
                match self.0.borrow_mut().take() {
                    Some(mut w) => w.abort(),
                    None => Ok(()),
                }
            }
        }

        impl<W: ObjectWriter> Drop for Writer<W> {
            fn drop(&mut self) {
                if let Some(mut w) = self.0.get_mut().take() {
                    let _ = w.abort();
                }
            }
        }
    }
}

/// Exports a [`store::StorageBackend`] as the plugin's component exports.
///
/// ```ignore
/// struct Mine;
/// impl berth_plugin_sdk::store::StorageBackend for Mine { /* … */ }
/// berth_plugin_sdk::export_storage_plugin!(Mine);
/// ```
#[cfg(feature = "storage")]
#[macro_export]
macro_rules! export_storage_plugin {
    ($t:ty) => {
        const _: () = {
            use $crate::storage::exports::berth::plugin::storage as __s;
            use $crate::store::{
                __glue, HealthReport, HealthStatus, ObjectMeta, ObjectPage, ObjectReader as _,
                PluginError, StorageBackend as _,
            };
            ::std::thread_local! {
                static INSTANCE: __glue::RefCell<Option<$t>> =
                    const { __glue::RefCell::new(None) };
            }
            fn with<R>(f: impl FnOnce(&$t) -> Result<R, PluginError>) -> Result<R, PluginError> {
                INSTANCE.with(|i| match &*i.borrow() {
                    Some(b) => f(b),
                    None => Err(PluginError::Other("called before init".into())),
                })
            }
            struct Glue;
            struct Up(__glue::Writer<<$t as $crate::store::StorageBackend>::Writer>);
            struct Down(__glue::RefCell<<$t as $crate::store::StorageBackend>::Reader>);
            impl __s::GuestUpload for Up {
                fn write(&self, chunk: Vec<u8>) -> Result<(), PluginError> {
                    self.0.write(&chunk)
                }
                fn finish(&self) -> Result<u64, PluginError> {
                    self.0.finish()
                }
                fn abort(&self) -> Result<(), PluginError> {
                    self.0.abort()
                }
            }
            impl __s::GuestDownload for Down {
                fn read(&self, max: u32) -> Result<Vec<u8>, PluginError> {
                    self.0
                        .borrow_mut()
                        .read((max as usize).min($crate::store::MAX_READ))
                }
            }
            impl $crate::storage::exports::berth::plugin::lifecycle::Guest for Glue {
                fn init(config_json: String) -> Result<(), PluginError> {
                    let config =
                        $crate::config::parse(&config_json).map_err(PluginError::InvalidConfig)?;
                    let instance = <$t>::new(config)?;
                    INSTANCE.with(|i| *i.borrow_mut() = Some(instance));
                    Ok(())
                }
                fn health() -> HealthReport {
                    INSTANCE.with(|i| {
                        $crate::__health_report(
                            i.borrow().as_ref().map(|b| b.health()),
                            HealthStatus::Unhealthy,
                        )
                    })
                }
            }
            impl __s::Guest for Glue {
                type Upload = Up;
                type Download = Down;
                fn start_upload(key: String) -> Result<__s::Upload, PluginError> {
                    let w = with(|b| b.start_upload($crate::store::checked(&key)?))?;
                    Ok(__s::Upload::new(Up(__glue::Writer(__glue::RefCell::new(
                        Some(w),
                    )))))
                }
                fn open_download(key: String) -> Result<__s::Download, PluginError> {
                    let r = with(|b| b.open_download($crate::store::checked(&key)?))?;
                    Ok(__s::Download::new(Down(__glue::RefCell::new(r))))
                }
                fn stat(key: String) -> Result<ObjectMeta, PluginError> {
                    with(|b| b.stat($crate::store::checked(&key)?))
                }
                fn list_objects(
                    prefix: String,
                    cursor: Option<String>,
                    limit: u32,
                ) -> Result<ObjectPage, PluginError> {
                    with(|b| b.list(&prefix, cursor.as_deref(), limit.clamp(1, 10_000)))
                }
                fn delete(key: String) -> Result<(), PluginError> {
                    with(|b| b.delete($crate::store::checked(&key)?))
                }
            }
            $crate::storage::export_storage_backend!(Glue);
        };
    };
}

/// Exports a [`notify::Notifier`] as the plugin's component exports.
///
/// ```ignore
/// struct Mine { url: String }
/// impl berth_plugin_sdk::notify::Notifier for Mine { /* … */ }
/// berth_plugin_sdk::export_notifier_plugin!(Mine);
/// ```
#[cfg(feature = "notifier")]
#[macro_export]
macro_rules! export_notifier_plugin {
    ($t:ty) => {
        const _: () = {
            use $crate::notify::{HealthReport, HealthStatus, Notifier as _, PluginError};
            ::std::thread_local! {
                static INSTANCE: $crate::notify::__glue::RefCell<Option<$t>> =
                    const { $crate::notify::__glue::RefCell::new(None) };
            }
            struct Glue;
            impl $crate::notifier::exports::berth::plugin::lifecycle::Guest for Glue {
                fn init(config_json: String) -> Result<(), PluginError> {
                    let config =
                        $crate::config::parse(&config_json).map_err(PluginError::InvalidConfig)?;
                    let instance = <$t>::new(config)?;
                    INSTANCE.with(|i| *i.borrow_mut() = Some(instance));
                    Ok(())
                }
                fn health() -> HealthReport {
                    INSTANCE.with(|i| {
                        $crate::__health_report(
                            i.borrow().as_ref().map(|n| n.health()),
                            HealthStatus::Degraded,
                        )
                    })
                }
            }
            impl $crate::notifier::exports::berth::plugin::notification::Guest for Glue {
                fn notify(event: $crate::notify::Event) -> Result<(), PluginError> {
                    INSTANCE.with(|i| match &*i.borrow() {
                        Some(n) => n.notify(&event),
                        None => Err(PluginError::Other("notify before init".into())),
                    })
                }
            }
            $crate::notifier::export_notifier!(Glue);
        };
    };
}
