//! Stations (站点) and their tiers.
//!
//! A station is a village service station (便民服务站), a township service hall (便民服务中心) or the
//! city government service center (政务服务中心). Stations form a tree rooted at the city; the tree
//! lives in the roster network document and decides which station may handle which item and, later,
//! which cases are in a station's sync scope.

//!
//! A tier is parsed once, where it enters: a stored document (the roster's stations, through
//! `Hydrate`), a certificate (through `Deserialize`), a file or the command line (through
//! `FromStr`). An unknown value is an error there, naming the value; past the edge every tier is
//! a [`Tier`], so no two places can read an unknown one differently.

use crate::invalid::Invalid;
use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler, reconcile::NoKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The tier of a station in the village → township → city hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

impl std::str::FromStr for Tier {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Tier, Invalid> {
        Tier::parse(s).ok_or_else(|| Invalid::UnknownTier(s.to_string()))
    }
}

impl Serialize for Tier {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

// Certificates carry the station, tier included; one with an unknown tier does not verify.
impl<'de> Deserialize<'de> for Tier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tier, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

// Stored as the plain string older versions wrote, so existing rosters read unchanged.
impl Reconcile for Tier {
    type Key<'a> = NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.as_str())
    }
}

impl Hydrate for Tier {
    fn hydrate_string(s: &'_ str) -> Result<Tier, HydrateError> {
        Tier::parse(s).ok_or_else(|| {
            HydrateError::unexpected("a tier (village, township or city)", format!("{s:?}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #11: an unknown tier read as village in one place and as city in another.
    #[test]
    fn an_unknown_tier_is_an_error_naming_it_wherever_it_enters() {
        assert_eq!("乡镇".parse::<Tier>(), Ok(Tier::Township));
        let e = "county".parse::<Tier>().expect_err("unknown");
        assert_eq!(e.to_string(), "\"county\" is not village, township or city");
        let e = serde_json::from_str::<Tier>("\"county\"").expect_err("unknown");
        assert!(e.to_string().contains("\"county\""), "{e}");
        assert_eq!(
            serde_json::to_string(&Tier::City).expect("json"),
            "\"city\""
        );

        #[derive(Debug, Hydrate, Reconcile)]
        struct Holder {
            tier: Tier,
        }
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(
            &mut doc,
            &Holder {
                tier: Tier::Village,
            },
        )
        .expect("write");
        let back: Holder = autosurgeon::hydrate(&doc).expect("read");
        assert_eq!(back.tier, Tier::Village);
        #[derive(Debug, Reconcile)]
        struct Raw {
            tier: String,
        }
        autosurgeon::reconcile(
            &mut doc,
            &Raw {
                tier: "county".into(),
            },
        )
        .expect("write");
        let e = autosurgeon::hydrate::<_, Holder>(&doc).expect_err("unknown");
        assert!(e.to_string().contains("\"county\""), "{e}");
    }
}
