//! `probe`: the smallest useful plugin. It accepts an empty configuration and reports
//! healthy, so the host can prove at start that the whole plugin pipeline (build,
//! embed, compile or load the cached `.cwasm`, instantiate, call) works.

use berth_plugin_sdk::base::berth::plugin::host::LogLevel;
use berth_plugin_sdk::base::berth::plugin::types::{HealthReport, HealthStatus, PluginError};
use berth_plugin_sdk::base::exports::berth::plugin::lifecycle::Guest;

struct Probe;

impl Guest for Probe {
    fn init(config_json: String) -> Result<(), PluginError> {
        let trimmed = config_json.trim();
        // The probe has no settings; anything but an empty object is a mistake worth naming.
        if trimmed != "{}" && !trimmed.is_empty() {
            return Err(PluginError::InvalidConfig(
                "probe takes no configuration; expected {}".to_owned(),
            ));
        }
        berth_plugin_sdk::log(LogLevel::Debug, "probe initialised");
        Ok(())
    }

    fn health() -> HealthReport {
        HealthReport {
            status: HealthStatus::Healthy,
            message: String::new(),
        }
    }
}

berth_plugin_sdk::base::export_base!(Probe);
