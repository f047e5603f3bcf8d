//! `hostile`: a plugin the sandbox tests load to prove the host's limits hold. Its
//! `init` does what its configuration (a JSON string) asks:
//!
//! - `"ok"`: nothing;
//! - `"spin"`: loops forever (the epoch deadline must stop it);
//! - `"bomb"`: allocates 1 MiB after 1 MiB (the memory limit must stop it);
//! - `"panic"`: panics (the host must report it and recycle the instance);
//! - `"read:<path>"`, `"tcp:<addr>"`, `"env"`: tries to reach outside the sandbox and
//!   returns `Ok` only if it succeeded — a test expects an error;
//! - `"huge-error:<MiB>"`, `"huge-log:<MiB>"`: answers with an error message, or
//!   writes one log line, of that many MiB (the host must not pass either on whole);
//! - `"sleep-log:<seconds>"`: waits in a host call (no guest code runs, so the epoch
//!   deadline cannot stop it), then logs `hostile woke up` — a timed-out call must be
//!   dropped, so that line never appears.
//!
//! Built by `cargo xtask test` into `target/plugins-test/`, never embedded in the host.

use berth_plugin_sdk::base::berth::plugin::types::{HealthReport, HealthStatus, PluginError};
use berth_plugin_sdk::base::exports::berth::plugin::lifecycle::Guest;

struct Hostile;

impl Guest for Hostile {
    fn init(config_json: String) -> Result<(), PluginError> {
        let mode: String =
            berth_plugin_sdk::config::parse(&config_json).map_err(PluginError::InvalidConfig)?;
        match mode.as_str() {
            "ok" => Ok(()),
            "spin" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                for _ in 0..1024 {
                    hoard.push(vec![1u8; 1 << 20]);
                }
                Err(PluginError::Other(format!(
                    "allocated {} MiB unhindered",
                    std::hint::black_box(hoard).len()
                )))
            }
            "panic" => panic!("the hostile plugin panics on purpose"),
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                if vars.is_empty() {
                    Err(PluginError::Other("no environment".into()))
                } else {
                    Ok(())
                }
            }
            m if m.starts_with("huge-error:") => {
                let mib: usize = m[11..].parse().unwrap_or(1);
                Err(PluginError::Other("E".repeat(mib << 20)))
            }
            m if m.starts_with("huge-log:") => {
                let mib: usize = m[9..].parse().unwrap_or(1);
                berth_plugin_sdk::log(berth_plugin_sdk::LogLevel::Warn, &"L".repeat(mib << 20));
                Ok(())
            }
            m if m.starts_with("sleep-log:") => {
                let secs: u64 = m[10..].parse().unwrap_or(1);
                std::thread::sleep(std::time::Duration::from_secs(secs));
                berth_plugin_sdk::log(berth_plugin_sdk::LogLevel::Warn, "hostile woke up");
                Ok(())
            }
            m if m.starts_with("read:") => std::fs::read(&m[5..])
                .map(|_| ())
                .map_err(|e| PluginError::Io(e.to_string())),
            m if m.starts_with("tcp:") => std::net::TcpStream::connect(&m[4..])
                .map(|_| ())
                .map_err(|e| PluginError::Io(e.to_string())),
            other => Err(PluginError::InvalidConfig(format!(
                "unknown mode {other:?}"
            ))),
        }
    }

    fn health() -> HealthReport {
        HealthReport {
            status: HealthStatus::Healthy,
            message: String::new(),
        }
    }
}

berth_plugin_sdk::base::export_base!(Hostile);
