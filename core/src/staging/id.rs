//! Dataset ids: the only name a request can give, so their alphabet is the first line of defence.

use crate::error::{Error, Result};

/// The longest dataset id, in bytes.
pub const MAX_DATASET_ID_LEN: usize = 128;

/// Whether `id` may name a dataset file beneath the staging root.
///
/// 1 to 128 bytes of `A-Z a-z 0-9 - _ .`, starting with a letter or digit, with no `..` and no
/// trailing dot. So an id is always exactly one path component: no `/`, `\`, `%`, NUL, `:`,
/// control characters, spaces, non-ASCII lookalikes (`．`, `∕`), or `.`/`..`; no Windows trailing
/// dot that a share would strip. This is stricter than a token's id alphabet on purpose.
pub fn is_valid_dataset_id(id: &str) -> bool {
    let b = id.as_bytes();
    (1..=MAX_DATASET_ID_LEN).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && !id.contains("..")
        && !id.ends_with('.')
}

/// `id` if it is a valid dataset id, else `INVALID_INPUT` naming the alphabet (never echoing the id,
/// which is attacker text).
pub fn check_dataset_id(id: &str) -> Result<&str> {
    if is_valid_dataset_id(id) {
        Ok(id)
    } else {
        Err(Error::invalid_input(format!(
            "a dataset id is 1 to {MAX_DATASET_ID_LEN} characters of A-Z a-z 0-9 - _ . starting with \
             a letter or digit, without `..` or a trailing dot"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_pass() {
        for id in ["ds-1", "a", "DS_2024.v2.jsonl", "0", &"x".repeat(128)] {
            assert!(is_valid_dataset_id(id), "{id}");
        }
    }

    #[test]
    fn anything_that_could_be_more_than_one_component_fails() {
        let long = "x".repeat(129);
        for id in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "/etc/passwd",
            "%2e%2e",
            "a%2fb",
            "a\0b",
            "a..b",
            "a.",
            ".hidden",
            "-rf",
            "c:",
            "a b",
            "a\nb",
            "\u{ff0e}\u{ff0e}",
            "a\u{2215}b",
            "é",
            &long,
        ] {
            assert!(!is_valid_dataset_id(id), "{id:?}");
            assert!(check_dataset_id(id).is_err());
        }
    }
}
