use std::fmt;

use crate::{Error, Result};

/// A RunPod API key. Its `Debug` and `Display` never show the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key, refusing an empty one or one that cannot travel in an HTTP header.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            return Err(Error::new(
                crate::ErrorKind::AuthInvalid,
                "the RunPod API key is empty: set RUNPOD_API_KEY or pass runpod_api_key \
                 (create a key at https://www.runpod.io/console/user/settings)",
            ));
        }
        if trimmed.len() > 512 || !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::new(
                crate::ErrorKind::AuthInvalid,
                "the RunPod API key contains spaces, control or non-ASCII characters: copy it \
                 again from https://www.runpod.io/console/user/settings",
            ));
        }
        Ok(ApiKey(trimmed.to_owned()))
    }

    /// The key itself, for the `Authorization` header only.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Replace every occurrence of the key in `text` (for upstream messages that echo it).
    pub(crate) fn scrub(&self, text: &str) -> String {
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let key = ApiKey::new("rpa_SECRET123").unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{key:?}").contains("SECRET"));
        assert!(!format!("{key}").contains("SECRET"));
        assert_eq!(key.expose_secret(), "rpa_SECRET123");
        assert_eq!(key.scrub("bad key rpa_SECRET123!"), "bad key [redacted]!");
    }

    #[test]
    fn empty_or_malformed_keys_are_refused_without_echo() {
        for bad in ["", "   ", "a b", "k\u{e9}y"] {
            let err = ApiKey::new(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(err.kind(), crate::ErrorKind::AuthInvalid);
        }
    }
}
