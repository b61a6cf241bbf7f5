//! The city's notice templates (stored in the settings network document) and the placeholders
//! they are filled from.

use super::NoticeKind;
use crate::error::{NodeError, Result};
use crate::invalid::Invalid;
use std::collections::BTreeMap;

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 7] = [
    "{number}",
    "{item}",
    "{station}",
    "{due}",
    "{missing}",
    "{pickup}",
    "{reply}",
];

/// Longest template, in characters (a long SMS is split into at most five parts).
pub const MAX_TEMPLATE_CHARS: usize = 300;

/// The city's notice templates: the texts it changed, by kind; every other kind reads its
/// default. Stored in the settings network document (`SettingsDoc::notice_templates`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates {
    changed: BTreeMap<String, String>,
}

impl Templates {
    /// Templates from what the settings document stores (unknown kinds, from a newer version,
    /// are kept as stored and not used).
    pub fn from_stored(stored: Option<&BTreeMap<String, String>>) -> Templates {
        Templates {
            changed: stored.cloned().unwrap_or_default(),
        }
    }

    /// The template for a kind.
    pub fn get(&self, kind: NoticeKind) -> &str {
        self.changed
            .get(kind.key())
            .map_or(kind.default_template(), String::as_str)
    }

    /// Whether the city changed the template of a kind.
    pub fn is_changed(&self, kind: NoticeKind) -> bool {
        self.changed.contains_key(kind.key())
    }

    /// Checks a template typed in: not empty, not too long, no control characters, and only
    /// known placeholders (a misspelt one would reach applicants as it is).
    pub fn check(text: &str) -> Result<()> {
        if text.trim().is_empty() {
            return Err(NodeError::invalid("template", Invalid::Empty));
        }
        crate::ops::check_text("template", text, MAX_TEMPLATE_CHARS)?;
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let tail = &rest[open..];
            let close = tail.find('}').ok_or_else(|| {
                NodeError::invalid("template", Invalid::UnknownPlaceholder(tail.into()))
            })?;
            let name = &tail[..=close];
            if !PLACEHOLDERS.contains(&name) {
                return Err(NodeError::invalid(
                    "template",
                    Invalid::UnknownPlaceholder(name.into()),
                ));
            }
            rest = &tail[close + 1..];
        }
        Ok(())
    }

    /// Sets a kind's text (`None`: back to the default), as the stored map.
    pub(crate) fn stored_with(
        stored: Option<&BTreeMap<String, String>>,
        kind: NoticeKind,
        text: Option<&str>,
    ) -> BTreeMap<String, String> {
        let mut map = stored.cloned().unwrap_or_default();
        match text {
            Some(t) => map.insert(kind.key().to_string(), t.to_string()),
            None => map.remove(kind.key()),
        };
        map
    }

    /// Writes a kind's notice with `vars`.
    pub fn render(&self, kind: NoticeKind, vars: &Vars) -> String {
        let mut out = self.get(kind).to_string();
        for (name, value) in [
            ("{number}", &vars.number),
            ("{item}", &vars.item),
            ("{station}", &vars.station),
            ("{due}", &vars.due),
            ("{missing}", &vars.missing),
            ("{pickup}", &vars.pickup),
            ("{reply}", &vars.reply),
        ] {
            out = out.replace(name, value);
        }
        out
    }
}

/// What a template's placeholders stand for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// The case number.
    pub number: String,
    /// The item's name.
    pub item: String,
    /// The name of the station where the event happened.
    pub station: String,
    /// The promised due date, or empty.
    pub due: String,
    /// The missing materials, joined with 、.
    pub missing: String,
    /// Where the result is picked up (the station that took the case in).
    pub pickup: String,
    /// The reply to a bad rating.
    pub reply: String,
}
