//! `[log]`: the level directive and the line format.

use anyhow::anyhow;
use serde::Deserialize;

use crate::telemetry::{LogFormat, LogSettings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    #[serde(default = "default_level")]
    level: String,
    #[serde(default = "default_format")]
    format: LogFormat,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: default_level(),
            format: default_format(),
        }
    }
}

fn default_level() -> String {
    "info".into()
}
fn default_format() -> LogFormat {
    LogFormat::Json
}

impl RawLog {
    pub(super) fn check(self) -> anyhow::Result<LogSettings> {
        tracing_subscriber::EnvFilter::try_new(&self.level)
            .map_err(|e| anyhow!("log.level: {e}"))?;
        Ok(LogSettings {
            level: self.level,
            format: self.format,
        })
    }
}
