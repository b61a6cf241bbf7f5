//! How this machine delivers notices: a setting of the machine, never synced.

use crate::error::{NodeError, Result};
use crate::invalid::Invalid;

/// How this node delivers notices: local to the machine, never synced (the key is a secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum SenderConfig {
    /// No sender: notices stay queued here until one is configured.
    #[default]
    None,
    /// An HTTP SMS gateway: a JSON POST to `url` with `key` in the `X-Api-Key` header.
    Gateway {
        /// `http://` or `https://` URL.
        url: String,
        /// The key the gateway issued to this station.
        key: String,
    },
    /// Files in a folder that an SMS modem daemon (gammu-smsd's `outbox`) picks up.
    Spool {
        /// The folder.
        dir: String,
    },
}

impl SenderConfig {
    /// Whether notices can leave this node.
    pub fn is_configured(&self) -> bool {
        !matches!(self, SenderConfig::None)
    }

    /// Checks the configuration typed in.
    pub fn check(&self) -> Result<()> {
        match self {
            SenderConfig::None => Ok(()),
            SenderConfig::Gateway { url, key } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(NodeError::invalid("gateway URL", Invalid::NotAUrl));
                }
                crate::ops::check_text("gateway URL", url, 500)?;
                crate::ops::check_text("gateway key", key, 500)
            }
            SenderConfig::Spool { dir } => {
                if dir.trim().is_empty() {
                    return Err(NodeError::invalid("spool folder", Invalid::Empty));
                }
                crate::ops::check_text("spool folder", dir, 500)
            }
        }
    }
}
