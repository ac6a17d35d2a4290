//! The wire format: `v1.<kid>.<b64url(payload)>.<b64url(tag)>`, and the MAC input.
//!
//! The MAC input is PASETO's pre-authentication encoding (PAE) over the domain string, the
//! purpose, the key id and the payload bytes, so that no two distinct inputs share an encoding.

use super::keyring::{KeyRing, SigningKey, is_valid_kid};
use crate::error::{Error, ErrorKind, Result};
use crate::purpose::Purpose;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

/// The version prefix this build signs and verifies.
pub const VERSION: &str = "v1";
/// The domain-separation string at the head of every MAC input.
pub const DOMAIN: &str = "trainpod/token/v1";
/// The longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 2048;
/// The longest decoded payload accepted, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 1024;
const TAG_BYTES: usize = 32;

/// PASETO PAE: the piece count, then each piece's length, each as 64-bit little-endian.
pub fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + pieces.iter().map(|p| 8 + p.len()).sum::<usize>());
    out.extend_from_slice(&(pieces.len() as u64).to_le_bytes());
    for piece in pieces {
        out.extend_from_slice(&(piece.len() as u64).to_le_bytes());
        out.extend_from_slice(piece);
    }
    out
}

fn tag(key: &SigningKey, purpose: Purpose, payload: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    let mut mac = key.mac(purpose);
    // The same bytes as `pae(..)`, fed piece by piece so that verifying allocates nothing here.
    let pieces = [
        DOMAIN.as_bytes(),
        purpose.as_str().as_bytes(),
        key.kid().as_bytes(),
        payload,
    ];
    mac.update(&(pieces.len() as u64).to_le_bytes());
    for piece in pieces {
        mac.update(&(piece.len() as u64).to_le_bytes());
        mac.update(piece);
    }
    mac
}

/// Sign `payload` for `purpose` with `key` and return the token text.
pub fn seal(key: &SigningKey, purpose: Purpose, payload: &[u8]) -> String {
    let mac = tag(key, purpose, payload).finalize().into_bytes();
    format!(
        "{VERSION}.{}.{}.{}",
        key.kid(),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(mac)
    )
}

fn malformed(what: &str) -> Error {
    Error::new(
        ErrorKind::TokenMalformed,
        format!("the token is malformed ({what}); send the token exactly as trainpod issued it"),
    )
}

/// Check size, shape, version, key and signature, in that order, and return the payload bytes.
///
/// A tag that fails under `purpose` is tried under the other purposes, so that an authentic token
/// presented at the wrong route is refused as `TOKEN_WRONG_PURPOSE` rather than as forged.
pub fn open(ring: &KeyRing, token: &str, purpose: Purpose) -> Result<Vec<u8>> {
    if token.is_empty() {
        return Err(malformed("it is empty"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("it is longer than 2048 bytes"));
    }
    let mut parts = token.split('.');
    let (Some(version), Some(kid), Some(payload_b64), Some(tag_b64), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed("it must have four dot-separated parts"));
    };
    if version != VERSION {
        return Err(unsupported_version(version));
    }
    if !is_valid_kid(kid) {
        return Err(malformed(
            "the key id is not 1 to 32 characters of A-Z a-z 0-9 _ -",
        ));
    }
    let key = ring.get(kid).ok_or_else(|| {
        Error::new(
            ErrorKind::TokenUnknownKey,
            format!("the token was signed with key {kid:?}, which this app does not hold; add that key to the key ring as `verify`, or issue a new token"),
        )
    })?;
    if key.status() == super::keyring::KeyStatus::Retired {
        return Err(Error::new(
            ErrorKind::TokenKeyRetired,
            format!("the token was signed with key {kid:?}, which is retired; issue a new token"),
        ));
    }
    let payload = decode_part(payload_b64, MAX_PAYLOAD_BYTES, "payload")?;
    let tag_bytes = decode_part(tag_b64, TAG_BYTES, "signature")?;
    if tag_bytes.len() != TAG_BYTES {
        return Err(malformed("the signature is not 32 bytes"));
    }
    // `verify_slice` compares in constant time and requires the full 32-byte length.
    if tag(key, purpose, &payload).verify_slice(&tag_bytes).is_ok() {
        return Ok(payload);
    }
    let other = Purpose::ALL
        .into_iter()
        .filter(|p| *p != purpose)
        .find(|p| tag(key, *p, &payload).verify_slice(&tag_bytes).is_ok());
    Err(match other {
        Some(actual) => Error::new(
            ErrorKind::TokenWrongPurpose,
            format!(
                "this is a {actual} token and this route needs a {purpose} token; send the job's {purpose} token"
            ),
        ),
        None => Error::new(
            ErrorKind::TokenSignatureInvalid,
            "the token's signature does not match: it was altered or signed by another app; issue a new token",
        ),
    })
}

fn unsupported_version(version: &str) -> Error {
    let looks_like_version = version.len() <= 4
        && version.starts_with('v')
        && version[1..].bytes().all(|b| b.is_ascii_digit())
        && version.len() > 1;
    if looks_like_version {
        Error::new(
            ErrorKind::TokenUnsupportedVersion,
            format!(
                "token version {version:?} is not supported by this trainpod; this build verifies {VERSION} tokens, so upgrade trainpod or issue a {VERSION} token"
            ),
        )
    } else {
        malformed("it does not start with a version such as v1")
    }
}

/// The number of bytes `len` characters of unpadded base64url decode to, or `None` for a length
/// no canonical encoding has (one character past a full group carries only 6 bits).
const fn decoded_len(len: usize) -> Option<usize> {
    let tail = match len % 4 {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return None,
    };
    Some(len / 4 * 3 + tail)
}

/// Decode canonical unpadded base64url: no padding, no `+/`, zero trailing bits.
///
/// The cap is on the decoded bytes, exactly, and is checked from the text's length before
/// anything is decoded or allocated: a bound on the encoded length alone (whole 4-character
/// groups) would let 1367 and 1368 characters, 1025 and 1026 bytes, through a 1024-byte cap.
fn decode_part(text: &str, max_bytes: usize, what: &str) -> Result<Vec<u8>> {
    if text.is_empty() {
        return Err(malformed(&format!("the {what} is empty")));
    }
    match decoded_len(text.len()) {
        Some(n) if n > max_bytes => {
            return Err(malformed(&format!(
                "the {what} decodes to more than {max_bytes} bytes"
            )));
        }
        Some(_) => {}
        None => {
            return Err(malformed(&format!(
                "the {what} is not canonical unpadded base64url"
            )));
        }
    }
    // The decoder refuses padding, characters outside the URL-safe alphabet and non-zero
    // trailing bits, so it is the only pass over the text.
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| malformed(&format!("the {what} is not canonical unpadded base64url")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_paseto_reference_vectors() {
        assert_eq!(pae(&[]), vec![0u8; 8]);
        let mut expected = vec![1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0];
        expected.extend_from_slice(b"test");
        assert_eq!(pae(&[b"test"]), expected);
        assert_ne!(pae(&[b"ab", b"c"]), pae(&[b"a", b"bc"]));
    }

    #[test]
    fn streamed_mac_input_equals_pae() {
        use hmac::{Hmac, KeyInit};
        let key = SigningKey::new(
            "k",
            &(0u8..32).collect::<Vec<_>>(),
            super::super::KeyStatus::Active,
        )
        .unwrap();
        let streamed = tag(&key, Purpose::MetricsWrite, b"{}")
            .finalize()
            .into_bytes();
        let mut whole: Hmac<sha2::Sha256> = key.mac(Purpose::MetricsWrite);
        whole.update(&pae(&[DOMAIN.as_bytes(), b"metrics.write", b"k", b"{}"]));
        assert_eq!(streamed, whole.finalize().into_bytes());
        let _ = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"k");
    }

    #[test]
    fn non_canonical_trailing_bits_are_refused() {
        // RFC 7515 A.1: "...OEjXk" and "...OEjXl" decode to the same bytes in lax decoders.
        let ok = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let lax = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
        assert_eq!(
            decode_part(ok, 32, "signature").map(|v| v.len()).ok(),
            Some(32)
        );
        assert_eq!(
            decode_part(lax, 32, "signature").unwrap_err().code(),
            "TOKEN_MALFORMED"
        );
        assert!(decode_part(&format!("{ok}="), 32, "signature").is_err());
        assert!(decode_part("ab+/", 32, "signature").is_err());
    }

    #[test]
    fn the_payload_cap_counts_decoded_bytes_exactly() {
        for (len, accepted) in [
            (1022, true),
            (1023, true),
            (1024, true),
            (1025, false),
            (1026, false),
        ] {
            let text = URL_SAFE_NO_PAD.encode(vec![b' '; len]);
            let got = decode_part(&text, MAX_PAYLOAD_BYTES, "payload");
            assert_eq!(
                got.is_ok(),
                accepted,
                "{len} bytes, {} characters",
                text.len()
            );
            match got {
                Ok(bytes) => assert_eq!(bytes.len(), len),
                Err(e) => assert_eq!(e.code(), "TOKEN_MALFORMED"),
            }
        }
        // A signature of 33 bytes is refused before it is decoded, as 31 is after.
        assert!(decode_part(&URL_SAFE_NO_PAD.encode([0u8; 33]), TAG_BYTES, "signature").is_err());
        // No canonical text is 4n+1 characters long.
        assert_eq!(decoded_len(5), None);
        assert_eq!(
            decode_part("AAAAA", 32, "payload").unwrap_err().code(),
            "TOKEN_MALFORMED"
        );
    }
}
