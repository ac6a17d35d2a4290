//! The signed claims and their strict parsing.

use crate::error::{Error, ErrorKind, Result};
use crate::purpose::Purpose;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The latest time a token may name: 9999-12-31T23:59:59Z, also below 2^53 so every language
/// reads it exactly.
pub const MAX_TIME: u64 = 253_402_300_799;
const MAX_ID_LEN: usize = 128;
const MAX_AUDIENCE_LEN: usize = 256;

/// What a token says, signed. Not encrypted: it holds identifiers, never secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Claims format version; always 1.
    pub v: u8,
    /// The issuing app.
    pub iss: String,
    /// The app origin the token is for.
    pub aud: String,
    /// What the token grants.
    pub pur: Purpose,
    /// The user the job belongs to.
    pub sub: String,
    /// The job.
    pub job: String,
    /// The dataset, for `dataset.read` tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ds: Option<String>,
    /// A narrower resource (a file id) within the dataset or job, where one is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub res: Option<String>,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Not before, Unix seconds.
    pub nbf: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// The token id: a canonical lowercase UUID, the key of single-use redemption.
    pub jti: String,
    /// Whether the token may be redeemed only once.
    pub once: bool,
    /// The job's attempt (run epoch), for metrics tokens: sequence numbers restart per epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ep: Option<u32>,
}

/// Whether `s` is a valid identifier: 1 to 128 characters of `A-Z a-z 0-9 - _ . : @`.
pub fn is_valid_id(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@'))
}

/// Whether `s` is a valid issuer or audience: 1 to 256 printable ASCII characters, no spaces.
pub fn is_valid_audience(s: &str) -> bool {
    (1..=MAX_AUDIENCE_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

impl Claims {
    /// The token id as a UUID.
    pub fn jti_uuid(&self) -> Uuid {
        // `check_shape` has proved it parses.
        Uuid::parse_str(&self.jti).unwrap_or_default()
    }

    /// Parse and type-check signed payload bytes: strict JSON, no duplicate or unknown keys,
    /// times as non-negative integers, identifiers in their alphabet, times consistent.
    pub fn parse(payload: &[u8]) -> Result<Claims> {
        // One fast UTF-8 check up front lets the JSON parser skip its own per-string checks.
        let text = std::str::from_utf8(payload).map_err(|_| {
            Error::new(
                ErrorKind::TokenMalformed,
                "the token's claims are not UTF-8; issue a new token",
            )
        })?;
        let claims: Claims = serde_json::from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::TokenMalformed,
                format!(
                    "the token's claims are invalid ({}); issue a new token",
                    json_reason(&e)
                ),
            )
        })?;
        claims
            .check_shape()
            .map_err(|e| Error::new(ErrorKind::TokenMalformed, e.message().to_owned()))?;
        Ok(claims)
    }

    /// Check every field's shape and the times' consistency. Used at issue and at verify.
    pub fn check_shape(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::invalid_input(format!("invalid claims: {what}")));
        if self.v != 1 {
            return bad("claims version must be 1");
        }
        if !is_valid_audience(&self.iss) || !is_valid_audience(&self.aud) {
            return bad(
                "issuer and audience must be 1 to 256 printable ASCII characters without spaces",
            );
        }
        for (name, value) in [
            ("user", Some(&self.sub)),
            ("job", Some(&self.job)),
            ("dataset", self.ds.as_ref()),
            ("resource", self.res.as_ref()),
        ] {
            if let Some(value) = value
                && !is_valid_id(value)
            {
                return bad(&format!(
                    "the {name} id must be 1 to 128 characters of A-Z a-z 0-9 - _ . : @"
                ));
            }
        }
        if self.pur == Purpose::DatasetRead && self.ds.is_none() {
            return bad("a dataset.read token must name its dataset");
        }
        if !is_canonical_uuid(&self.jti) {
            return bad("the token id must be a lowercase hyphenated UUID");
        }
        if [self.iat, self.nbf, self.exp].iter().any(|t| *t > MAX_TIME) {
            return bad("times must be Unix seconds no later than year 9999");
        }
        if self.nbf < self.iat || self.exp <= self.nbf {
            return bad("times must satisfy issued-at <= not-before < expiry");
        }
        Ok(())
    }
}

/// Whether `s` is a UUID in its one canonical spelling: lowercase, hyphenated, 36 characters.
pub fn is_canonical_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn json_reason(e: &serde_json::Error) -> String {
    // serde's messages name fields and types, never values, so they are safe to show.
    let text = e.to_string();
    text.split(" at line")
        .next()
        .unwrap_or("invalid JSON")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::json!({
            "v":1,"iss":"trainpod","aud":"https://app.example.com","pur":"metrics.write",
            "sub":"user-1","job":"job-1","iat":100,"nbf":100,"exp":200,
            "jti":"6f1f7b5e-2c3a-4d2b-9a41-0d9a4c3e8f10","once":false
        })
    }

    fn parse(v: &serde_json::Value) -> Result<Claims> {
        Claims::parse(v.to_string().as_bytes())
    }

    #[test]
    fn valid_claims_parse() {
        let c = parse(&base()).unwrap();
        assert_eq!(c.pur, Purpose::MetricsWrite);
        assert_eq!(c.jti_uuid().to_string(), c.jti);
    }

    #[test]
    fn wrong_types_and_shapes_are_malformed() {
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("exp", serde_json::json!("200")),
            ("exp", serde_json::json!(200.5)),
            ("exp", serde_json::json!(-1)),
            ("nbf", serde_json::json!(null)),
            ("once", serde_json::json!("true")),
            ("pur", serde_json::json!("admin")),
            (
                "jti",
                serde_json::json!("6F1F7B5E-2C3A-4D2B-9A41-0D9A4C3E8F10"),
            ),
            ("jti", serde_json::json!("6f1f7b5e2c3a4d2b9a410d9a4c3e8f10")),
            ("sub", serde_json::json!("")),
            ("sub", serde_json::json!("user 1")),
            ("job", serde_json::json!("a\nb")),
            ("v", serde_json::json!(2)),
            ("extra", serde_json::json!(1)),
            ("exp", serde_json::json!(100)),
            ("exp", serde_json::json!(MAX_TIME + 1)),
        ];
        for (field, value) in cases {
            let mut v = base();
            v[field] = value.clone();
            let err = parse(&v).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TokenMalformed, "{field}={value}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let text = base()
            .to_string()
            .replacen("\"exp\":200", "\"exp\":200,\"exp\":999999", 1);
        assert!(text.contains("999999"));
        let err = Claims::parse(text.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TokenMalformed);
        assert!(err.message().contains("duplicate"), "{}", err.message());
    }

    #[test]
    fn canonical_uuid_check_agrees_with_the_uuid_crate() {
        for s in [
            "6f1f7b5e-2c3a-4d2b-9a41-0d9a4c3e8f10",
            "00000000-0000-0000-0000-000000000000",
        ] {
            assert!(is_canonical_uuid(s));
            assert_eq!(Uuid::parse_str(s).unwrap().hyphenated().to_string(), s);
        }
        for s in [
            "6F1F7B5E-2C3A-4D2B-9A41-0D9A4C3E8F10",
            "6f1f7b5e2c3a4d2b9a410d9a4c3e8f10",
            "{6f1f7b5e-2c3a-4d2b-9a41-0d9a4c3e8f10}",
            "6f1f7b5e-2c3a-4d2b-9a41-0d9a4c3e8f1g",
            "",
        ] {
            assert!(!is_canonical_uuid(s), "{s}");
        }
    }

    #[test]
    fn dataset_tokens_must_name_a_dataset() {
        let mut v = base();
        v["pur"] = serde_json::json!("dataset.read");
        assert!(parse(&v).is_err());
        v["ds"] = serde_json::json!("ds-1");
        assert!(parse(&v).is_ok());
    }

    #[test]
    fn nan_and_non_json_are_refused() {
        for text in ["", "null", "[]", "{", "{\"v\":NaN}", "\u{feff}{}"] {
            assert_eq!(
                Claims::parse(text.as_bytes()).unwrap_err().kind(),
                ErrorKind::TokenMalformed,
                "{text:?}"
            );
        }
    }
}
