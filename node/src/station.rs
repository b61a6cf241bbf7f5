//! Stations (站点) and their tiers.
//!
//! A station is a village service station (便民服务站), a township service hall (便民服务中心) or the
//! city government service center (政务服务中心). Stations form a tree rooted at the city; the tree
//! lives in the roster network document and decides which station may handle which item and, later,
//! which cases are in a station's sync scope.

use serde::{Deserialize, Serialize};

/// The tier of a station in the village → township → city hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// 村/社区 便民服务站.
    Village,
    /// 乡镇/街道 便民服务中心.
    Township,
    /// 市 政务服务中心.
    City,
}

impl Tier {
    /// The name used on the command line and in stored documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Village => "village",
            Tier::Township => "township",
            Tier::City => "city",
        }
    }

    /// The Chinese name shown to users.
    pub fn label_zh(self) -> &'static str {
        match self {
            Tier::Village => "村级便民服务站",
            Tier::Township => "乡镇便民服务中心",
            Tier::City => "市政务服务中心",
        }
    }

    /// Parses the command-line / stored form (`village`, `township`, `city`).
    pub fn parse(s: &str) -> Option<Tier> {
        match s.trim() {
            "village" | "村" => Some(Tier::Village),
            "township" | "乡镇" | "街道" => Some(Tier::Township),
            "city" | "市" => Some(Tier::City),
            _ => None,
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
