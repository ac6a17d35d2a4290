//! What a token may be used for, and how long each kind may live.
//!
//! Its own module, beneath both the tokens (which sign and check it) and the store (which keeps
//! it with each single-use redemption), so that neither imports the other for it. Users name it
//! `trainpod::token::Purpose`, where the tokens re-export it.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Seven days: the absolute cap on any token's lifetime (the AWS and GCS signed-URL maximum).
pub const HARD_MAX_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// What a token grants. Each purpose signs with its own derived key.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Purpose {
    /// Download one dataset for one job.
    #[serde(rename = "dataset.read")]
    DatasetRead,
    /// Post metrics, heartbeats and the final status of one job.
    #[serde(rename = "metrics.write")]
    MetricsWrite,
    /// Upload the artifacts of one job.
    #[serde(rename = "artifacts.write")]
    ArtifactsWrite,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 3] = [
        Purpose::DatasetRead,
        Purpose::MetricsWrite,
        Purpose::ArtifactsWrite,
    ];

    /// The wire name, as it appears in the `pur` claim and the key derivation.
    pub const fn as_str(self) -> &'static str {
        match self {
            Purpose::DatasetRead => "dataset.read",
            Purpose::MetricsWrite => "metrics.write",
            Purpose::ArtifactsWrite => "artifacts.write",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Result<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            Error::invalid_input(format!(
                "unknown token purpose {}; use one of dataset.read, metrics.write, artifacts.write",
                crate::error::quote(s)
            ))
        })
    }

    /// Lifetime used when the caller does not choose one.
    ///
    /// A dataset URL lives 15 minutes (long enough to start a download that may then resume);
    /// metrics and artifact tokens must outlive the training run, so they default to a day.
    pub const fn default_lifetime_secs(self) -> u64 {
        match self {
            Purpose::DatasetRead => 15 * 60,
            Purpose::MetricsWrite | Purpose::ArtifactsWrite => 24 * 3600,
        }
    }

    /// The longest lifetime a token of this purpose may have, enforced at issue and at verify.
    pub const fn max_lifetime_secs(self) -> u64 {
        match self {
            Purpose::DatasetRead => 24 * 3600,
            Purpose::MetricsWrite | Purpose::ArtifactsWrite => HARD_MAX_LIFETIME_SECS,
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_never_exceed_the_hard_cap_and_defaults_fit_under_caps() {
        for p in Purpose::ALL {
            assert!(p.max_lifetime_secs() <= HARD_MAX_LIFETIME_SECS);
            assert!(p.default_lifetime_secs() <= p.max_lifetime_secs());
            assert_eq!(Purpose::parse(p.as_str()).ok(), Some(p));
        }
        assert_eq!(
            Purpose::parse("dataset.write").err().map(|e| e.code()),
            Some("INVALID_INPUT")
        );
    }
}
