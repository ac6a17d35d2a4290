//! The Standard Webhooks signature: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` in
//! `webhook-signature`, one per secret (space-separated, so that a secret rotates without a
//! receiver missing a delivery), with the key a `whsec_<base64>` secret.
//!
//! A receiver checks the timestamp against a tolerance first (a replayed delivery is old), then
//! every `v1` signature against every secret it holds, in constant time.

use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, ErrorKind, Result};

/// How far a webhook's timestamp may be from the receiver's clock: 5 minutes, as the reference
/// verifiers allow.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The prefix of a secret's text.
pub const SECRET_PREFIX: &str = "whsec_";

/// The fewest and most key bytes a secret may hold (the scheme's bounds: at least 192 bits).
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// The key bytes [`generate_webhook_secret`] draws.
const NEW_KEY_BYTES: usize = 32;

/// Signatures checked at most per request, so that a header of thousands costs no more than this.
const MAX_SIGNATURES: usize = 16;

/// The longest header value read; Standard Webhooks' are far shorter.
const MAX_HEADER_BYTES: usize = 4096;

// Standard base64, padded or not: the reference libraries write it padded, and a secret pasted
// without its `=` is still the same key.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A webhook signing secret. Its bytes never appear in `Debug` output or in an error.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64 of 24 to 64 bytes>`. The error names what is wrong and how to get a
    /// good secret, never the text given.
    pub fn parse(text: &str) -> Result<WebhookSecret> {
        let fix = "make one with generate_webhook_secret() and give the same text to the receiver";
        let Some(encoded) = text.trim().strip_prefix(SECRET_PREFIX) else {
            return Err(Error::invalid_input(format!(
                "a webhook secret starts with {SECRET_PREFIX} (the Standard Webhooks form); {fix}"
            )));
        };
        let key = BASE64.decode(encoded).map_err(|_| {
            Error::invalid_input(format!(
                "a webhook secret is {SECRET_PREFIX} then standard base64, and this one's base64 \
                 does not decode; {fix}"
            ))
        })?;
        if !KEY_BYTES.contains(&key.len()) {
            return Err(Error::invalid_input(format!(
                "a webhook secret holds {} to {} random bytes, and this one holds {}; {fix}",
                KEY_BYTES.start(),
                KEY_BYTES.end(),
                key.len()
            )));
        }
        Ok(WebhookSecret { key })
    }

    /// A fresh secret of 32 random bytes.
    pub fn generate() -> WebhookSecret {
        let mut key = vec![0u8; NEW_KEY_BYTES];
        crate::clock::Random::fill(&crate::clock::OsRandom, &mut key);
        WebhookSecret { key }
    }

    /// The secret's text, `whsec_<base64>`, to configure the receiver with. It is the secret
    /// itself: keep it out of logs.
    pub fn expose(&self) -> String {
        format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(&self.key)
        )
    }

    fn mac(&self, id: &str, timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length: `new_from_slice` cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// `v1,<base64 signature>` of a message.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag)
        )
    }
}

/// A fresh secret's text, `whsec_<base64 of 32 random bytes>`.
pub fn generate_webhook_secret() -> String {
    WebhookSecret::generate().expose()
}

/// Each of `texts` parsed as a secret (the first error, if any).
pub fn parse_secrets<S: AsRef<str>>(texts: &[S]) -> Result<Vec<WebhookSecret>> {
    texts
        .iter()
        .map(|t| WebhookSecret::parse(t.as_ref()))
        .collect()
}

/// The `webhook-signature` value: one `v1` signature per secret, space-separated.
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> String {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect();
    signatures.join(" ")
}

/// The three Standard Webhooks headers of a request, as received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

impl<'a> WebhookHeaders<'a> {
    /// The three headers among `(name, value)` pairs, names compared without regard to case
    /// (HTTP's rule; frameworks hand them over lowercased or not).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut headers = WebhookHeaders::default();
        for (name, value) in pairs {
            let slot = match name.to_ascii_lowercase().as_str() {
                "webhook-id" => &mut headers.id,
                "webhook-timestamp" => &mut headers.timestamp,
                "webhook-signature" => &mut headers.signature,
                _ => continue,
            };
            *slot = Some(value);
        }
        headers
    }
}

fn malformed(what: &str) -> Error {
    Error::new(
        ErrorKind::WebhookMalformed,
        format!("the webhook request {what}; answer it with 400 and do not process it"),
    )
}

/// Checks a webhook request received at `now` (Unix seconds): its timestamp within
/// `tolerance_secs` of `now`, and at least one `v1` signature made with one of `secrets` over its
/// id, timestamp and raw `body` (the bytes as received: a body parsed and serialized again no
/// longer matches). Rejections are `WEBHOOK_MALFORMED`, `WEBHOOK_TIMESTAMP_OUT_OF_RANGE` and
/// `WEBHOOK_SIGNATURE_INVALID`.
pub fn verify(
    secrets: &[WebhookSecret],
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    now: u64,
    tolerance_secs: u64,
) -> Result<()> {
    if secrets.is_empty() {
        return Err(Error::invalid_input(
            "verifying a webhook needs at least one secret (whsec_...): the one the sender uses",
        ));
    }
    let id = header(headers.id, "webhook-id")?;
    let timestamp = header(headers.timestamp, "webhook-timestamp")?;
    let signature = header(headers.signature, "webhook-signature")?;
    let sent_at = parse_timestamp(timestamp)?;
    if sent_at.abs_diff(now) > tolerance_secs {
        let when = if sent_at < now { "old" } else { "far ahead" };
        return Err(Error::new(
            ErrorKind::WebhookTimestampOutOfRange,
            format!(
                "the webhook's timestamp is {} s {when} of this machine's clock (the tolerance is \
                 {tolerance_secs} s): a replayed delivery, or a clock that is off (check NTP)",
                sent_at.abs_diff(now)
            ),
        ));
    }
    let candidates: Vec<Vec<u8>> = signature
        .split(' ')
        .filter_map(|s| s.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .take(MAX_SIGNATURES)
        .filter_map(|(_, sig)| BASE64.decode(sig).ok())
        .collect();
    if candidates.is_empty() {
        return Err(malformed(
            "has no v1,<base64> signature in webhook-signature",
        ));
    }
    for secret in secrets {
        let mac = secret.mac(id, sent_at, body);
        // `verify_slice` compares in constant time.
        if candidates
            .iter()
            .any(|c| mac.clone().verify_slice(c).is_ok())
        {
            return Ok(());
        }
    }
    Err(Error::new(
        ErrorKind::WebhookSignatureInvalid,
        "no signature of the webhook matches its body under the secrets given: it was altered, or \
         signed with another secret (during a rotation, give the receiver both secrets); answer \
         it with 401",
    ))
}

/// A header's value, present and of a sane length.
fn header<'h>(value: Option<&'h str>, name: &str) -> Result<&'h str> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() && v.len() <= MAX_HEADER_BYTES => Ok(v),
        Some(v) if !v.is_empty() => Err(malformed(&format!("has a {name} header too long"))),
        _ => Err(malformed(&format!("has no {name} header"))),
    }
}

/// A timestamp is whole Unix seconds in decimal digits.
fn parse_timestamp(text: &str) -> Result<u64> {
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 19 {
        return Err(malformed(
            "has a webhook-timestamp that is not whole Unix seconds",
        ));
    }
    text.parse::<u64>()
        .map_err(|_| malformed("has a webhook-timestamp that is not whole Unix seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> WebhookSecret {
        WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> WebhookHeaders<'a> {
        WebhookHeaders::from_pairs([
            ("Webhook-Id", id),
            ("webhook-timestamp", ts),
            ("WEBHOOK-SIGNATURE", sig),
        ])
    }

    fn kind(r: Result<()>) -> Option<ErrorKind> {
        r.err().map(|e| e.kind())
    }

    #[test]
    fn a_signed_message_verifies_and_any_change_does_not() {
        let s = secret();
        let one = [s.clone()];
        let sig = s.sign("msg_1", 1_000, b"{}");
        assert!(verify(&one, &headers("msg_1", "1000", &sig), b"{}", 1_000, 300).is_ok());
        let bad = [
            headers("msg_2", "1000", &sig),
            headers("msg_1", "1001", &sig),
        ];
        for h in bad {
            assert_eq!(
                kind(verify(&one, &h, b"{}", 1_000, 300)),
                Some(ErrorKind::WebhookSignatureInvalid)
            );
        }
        let h = headers("msg_1", "1000", &sig);
        assert_eq!(
            kind(verify(&one, &h, b"{ }", 1_000, 300)),
            Some(ErrorKind::WebhookSignatureInvalid)
        );
        let other = WebhookSecret::generate();
        assert_eq!(
            kind(verify(std::slice::from_ref(&other), &h, b"{}", 1_000, 300)),
            Some(ErrorKind::WebhookSignatureInvalid)
        );
        // Either secret of a rotation verifies a message signed with both.
        let both = signature_header(&[s.clone(), other.clone()], "msg_1", 1_000, b"{}");
        let h = headers("msg_1", "1000", &both);
        assert!(verify(&[other], &h, b"{}", 1_000, 300).is_ok());
        assert!(verify(&[s], &h, b"{}", 1_000, 300).is_ok());
    }

    #[test]
    fn stale_or_malformed_requests_are_refused_with_their_own_codes() {
        let s = secret();
        let one = [s.clone()];
        let sig = s.sign("msg_1", 1_000, b"{}");
        let h = headers("msg_1", "1000", &sig);
        assert!(verify(&one, &h, b"{}", 1_300, 300).is_ok());
        assert_eq!(
            kind(verify(&one, &h, b"{}", 1_301, 300)),
            Some(ErrorKind::WebhookTimestampOutOfRange)
        );
        assert_eq!(
            kind(verify(&one, &h, b"{}", 699, 300)),
            Some(ErrorKind::WebhookTimestampOutOfRange)
        );
        for h in [
            headers("", "1000", &sig),
            headers("msg_1", "-1000", &sig),
            headers("msg_1", "1e3", &sig),
            headers("msg_1", "1000", "v2,abc"),
            headers("msg_1", "1000", "v1"),
            WebhookHeaders::default(),
        ] {
            assert_eq!(
                kind(verify(&one, &h, b"{}", 1_000, 300)),
                Some(ErrorKind::WebhookMalformed),
                "{h:?}"
            );
        }
    }

    #[test]
    fn secrets_parse_strictly_and_never_show_their_bytes() {
        let text = generate_webhook_secret();
        assert!(text.starts_with(SECRET_PREFIX));
        let parsed = WebhookSecret::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.expose(), text);
        assert_eq!(format!("{parsed:?}"), "WebhookSecret(<redacted>)");
        // Unpadded base64 is the same key.
        let unpadded = text.trim_end_matches('=');
        assert_eq!(WebhookSecret::parse(unpadded).ok(), Some(parsed));
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
            "whsec_c2hvcnQ=",
            "",
        ] {
            let err = WebhookSecret::parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} parsed"));
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.message().contains("generate_webhook_secret"), "{err}");
            assert!(bad.len() < 8 || !err.message().contains(&bad[6..]), "{err}");
        }
    }
}
