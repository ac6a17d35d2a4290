//! Signing keys by id, with per-purpose derived MAC keys and rotation states.
//!
//! Rotation without downtime: add the new key as `verify` everywhere, then make it `active` and
//! the old one `verify`; once the longest token lifetime has passed, mark the old one `retired`
//! (its tokens are then refused with `TOKEN_KEY_RETIRED`) and later remove it.

use crate::clock::Random;
use crate::error::{Error, Result};
use crate::purpose::Purpose;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;
use std::fmt;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Minimum secret length: 256 bits of full entropy (RFC 8725 §3.5).
pub const MIN_SECRET_BYTES: usize = 32;
/// Maximum secret length accepted.
pub const MAX_SECRET_BYTES: usize = 256;
const HKDF_INFO_PREFIX: &str = "trainpod/v1/";

/// Where a key is in its rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// Signs new tokens and verifies. Exactly one key in a ring is active.
    Active,
    /// Verifies tokens it signed earlier (or will sign after promotion); signs nothing.
    VerifyOnly,
    /// Kept only to refuse its tokens with a precise error.
    Retired,
}

impl KeyStatus {
    /// Parse `active`, `verify` or `retired`.
    pub fn parse(s: &str) -> Result<KeyStatus> {
        // The text is not shown: in a key ring written out of order it is the secret.
        KeyStatus::from_name(s)
            .ok_or_else(|| Error::invalid_input("the key status must be active, verify or retired"))
    }

    fn from_name(s: &str) -> Option<KeyStatus> {
        match s {
            "active" => Some(KeyStatus::Active),
            "verify" | "verify-only" | "verify_only" => Some(KeyStatus::VerifyOnly),
            "retired" => Some(KeyStatus::Retired),
            _ => None,
        }
    }

    /// The canonical name.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::VerifyOnly => "verify",
            KeyStatus::Retired => "retired",
        }
    }
}

/// One master key: an id, its secret, its status, and the MAC keys derived from it.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    status: KeyStatus,
    // One pre-keyed HMAC per purpose, in `Purpose::ALL` order; cloning it skips re-keying.
    macs: [HmacSha256; 3],
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("status", &self.status)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Whether `kid` is a valid key id: 1 to 32 of `A-Z a-z 0-9 _ -`.
pub fn is_valid_kid(kid: &str) -> bool {
    (1..=32).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl SigningKey {
    /// A key from its id, raw secret bytes and status.
    pub fn new(kid: &str, secret: &[u8], status: KeyStatus) -> Result<SigningKey> {
        if !is_valid_kid(kid) {
            return Err(Error::invalid_input(
                "a key id must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'",
            ));
        }
        if let Some(problem) = secret_problem(secret) {
            return Err(Error::invalid_input(format!("key {kid:?}: {problem}")));
        }
        let macs = Purpose::ALL.map(|p| derive_mac(secret, p));
        Ok(SigningKey {
            kid: kid.to_owned(),
            status,
            macs,
        })
    }

    /// A key whose secret is given as unpadded or padded base64url (or standard base64).
    pub fn from_base64(kid: &str, secret_b64: &str, status: KeyStatus) -> Result<SigningKey> {
        // The id is checked before it is named: swapped arguments put the secret in its place.
        if !is_valid_kid(kid) {
            return Err(Error::invalid_input(
                "a key id must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'",
            ));
        }
        let secret = decode_secret(secret_b64).ok_or_else(|| {
            Error::invalid_input(format!("key {kid:?}: the secret is not valid base64"))
        })?;
        SigningKey::new(kid, &secret, status)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The rotation status.
    pub fn status(&self) -> KeyStatus {
        self.status
    }

    pub(crate) fn mac(&self, purpose: Purpose) -> HmacSha256 {
        let index = Purpose::ALL.iter().position(|p| *p == purpose).unwrap_or(0);
        self.macs[index].clone()
    }
}

/// What is wrong with a secret's bytes, if anything (never the bytes themselves).
fn secret_problem(secret: &[u8]) -> Option<String> {
    if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&secret.len()) {
        return Some(format!(
            "a secret must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes; \
             generate one with `trainpod::token::generate_secret()` (or `openssl rand -base64 32`)"
        ));
    }
    if secret.iter().all(|b| *b == secret[0]) {
        return Some("the secret is one byte repeated; use random bytes".to_owned());
    }
    None
}

fn derive_mac(secret: &[u8], purpose: Purpose) -> HmacSha256 {
    let info = format!("{HKDF_INFO_PREFIX}{}", purpose.as_str());
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so expand cannot fail.
    let _ = Hkdf::<Sha256>::new(None, secret).expand(info.as_bytes(), &mut okm);
    // HMAC accepts keys of any length.
    HmacSha256::new_from_slice(&okm).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

fn decode_secret(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    let s = s.trim();
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

/// A fresh 32-byte secret from `random`, encoded as unpadded base64url.
pub fn generate_secret_with(random: &dyn Random) -> String {
    let mut secret = [0u8; MIN_SECRET_BYTES];
    random.fill(&mut secret);
    URL_SAFE_NO_PAD.encode(secret)
}

/// A fresh 32-byte secret from the operating system, encoded as unpadded base64url.
pub fn generate_secret() -> String {
    generate_secret_with(&crate::clock::OsRandom)
}

/// The keys an app signs and verifies with.
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
    active: usize,
}

impl KeyRing {
    /// A ring from its keys: ids unique, exactly one active.
    pub fn new(keys: Vec<SigningKey>) -> Result<KeyRing> {
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.kid == key.kid) {
                return Err(Error::invalid_input(format!(
                    "key id {:?} appears twice in the key ring; give each key its own id",
                    key.kid
                )));
            }
        }
        let active: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.status == KeyStatus::Active)
            .map(|(i, _)| i)
            .collect();
        match active.as_slice() {
            [one] => Ok(KeyRing { keys, active: *one }),
            [] => Err(Error::invalid_input(
                "the key ring has no active key; mark exactly one key `active` to sign tokens",
            )),
            _ => Err(Error::invalid_input(
                "the key ring has more than one active key; keep one `active` and mark the others `verify`",
            )),
        }
    }

    /// Parse `kid:status:secret` entries separated by commas or whitespace, as kept in an
    /// environment variable such as `TRAINPOD_SIGNING_KEYS`. The secret is base64.
    ///
    /// An error names the entry by its position and the field at fault, and quotes nothing of
    /// the spec: a ring written with its fields out of order holds its secret where the id or
    /// the status should be, and errors reach logs.
    pub fn parse(spec: &str) -> Result<KeyRing> {
        const FORM: &str = "give kid:status:secret, such as k1:active:<base64 secret>";
        let mut keys = Vec::new();
        for (index, entry) in spec
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let bad = |what: &str| {
                Error::invalid_input(format!(
                    "entry {} of the key ring: {what}; {FORM}",
                    index + 1
                ))
            };
            let mut parts = entry.splitn(3, ':');
            let (Some(kid), Some(status), Some(secret)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("it has fewer than three ':'-separated fields"));
            };
            if !is_valid_kid(kid) {
                return Err(bad(
                    "the key id must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'",
                ));
            }
            let status = KeyStatus::from_name(status)
                .ok_or_else(|| bad("the status must be active, verify or retired"))?;
            let secret =
                decode_secret(secret).ok_or_else(|| bad("the secret is not valid base64"))?;
            if let Some(problem) = secret_problem(&secret) {
                return Err(bad(&problem));
            }
            keys.push(SigningKey::new(kid, &secret, status)?);
        }
        KeyRing::new(keys)
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &SigningKey {
        &self.keys[self.active]
    }

    /// The key with this id.
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// All keys.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(n: u8) -> Vec<u8> {
        (0..32).map(|i| i ^ n).collect()
    }

    #[test]
    fn ring_needs_exactly_one_active_and_unique_ids() {
        let a = SigningKey::new("a", &secret(1), KeyStatus::Active).unwrap();
        let b = SigningKey::new("b", &secret(2), KeyStatus::VerifyOnly).unwrap();
        let a2 = SigningKey::new("a", &secret(3), KeyStatus::VerifyOnly).unwrap();
        assert!(KeyRing::new(vec![a.clone(), b.clone()]).is_ok());
        assert_eq!(
            KeyRing::new(vec![b.clone()]).unwrap_err().code(),
            "INVALID_INPUT"
        );
        let two_active = SigningKey::new("c", &secret(4), KeyStatus::Active).unwrap();
        assert!(KeyRing::new(vec![a.clone(), two_active]).is_err());
        assert!(
            KeyRing::new(vec![a, a2])
                .unwrap_err()
                .message()
                .contains("twice")
        );
    }

    #[test]
    fn weak_or_odd_keys_are_refused() {
        assert!(SigningKey::new("k", &[7u8; 32], KeyStatus::Active).is_err());
        assert!(SigningKey::new("k", &secret(1)[..31], KeyStatus::Active).is_err());
        assert!(SigningKey::new("", &secret(1), KeyStatus::Active).is_err());
        assert!(SigningKey::new("bad.kid", &secret(1), KeyStatus::Active).is_err());
        assert!(SigningKey::new(&"k".repeat(33), &secret(1), KeyStatus::Active).is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let spec = format!("k1:active:{}", URL_SAFE_NO_PAD.encode(secret(9)));
        let ring = KeyRing::parse(&spec).unwrap();
        let shown = format!("{ring:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&URL_SAFE_NO_PAD.encode(secret(9))));
    }

    #[test]
    fn parse_reads_entries_and_rejects_bad_ones() {
        let s1 = URL_SAFE_NO_PAD.encode(secret(1));
        let s2 = URL_SAFE_NO_PAD.encode(secret(2));
        let ring = KeyRing::parse(&format!("new:active:{s1}, old:verify:{s2}")).unwrap();
        assert_eq!(ring.active().kid(), "new");
        assert_eq!(
            ring.get("old").map(|k| k.status()),
            Some(KeyStatus::VerifyOnly)
        );
        assert!(KeyRing::parse("k1:active").is_err());
        assert!(KeyRing::parse(&format!("k1:primary:{s1}")).is_err());
        assert!(KeyRing::parse("k1:active:not base64!").is_err());
    }

    #[test]
    fn a_ring_written_out_of_order_is_refused_without_showing_its_secret() {
        let good = URL_SAFE_NO_PAD.encode(secret(1));
        let hidden = URL_SAFE_NO_PAD.encode(secret(7));
        let shapes = [
            (format!("k1:{hidden}:active"), "the status must be"),
            (format!("{hidden}:active:k1"), "the key id must be"),
            (format!("active:k1:{hidden}"), "the status must be"),
            (format!("k1:active:{hidden}!"), "not valid base64"),
            (format!("k1:{hidden}"), "fewer than three"),
            (hidden.clone(), "fewer than three"),
        ];
        for (entry, why) in shapes {
            let err = KeyRing::parse(&format!("k0:active:{good},{entry}")).unwrap_err();
            assert_eq!(err.code(), "INVALID_INPUT");
            assert!(
                err.message().starts_with("entry 2 of the key ring: "),
                "{err}"
            );
            assert!(err.message().contains(why), "{err}");
            assert!(err.message().contains("kid:status:secret"), "{err}");
            for shown in [
                err.message().to_owned(),
                err.to_string(),
                format!("{err:?}"),
            ] {
                assert!(!shown.contains(&hidden[..8]), "{shown}");
                assert!(!shown.contains(&hidden[17..29]), "{shown}");
                assert!(!shown.contains(&good[..8]), "{shown}");
            }
        }
        // Swapped arguments put the secret where the id goes: it is refused, not named.
        let err = SigningKey::from_base64(&hidden, "k1", KeyStatus::Active).unwrap_err();
        assert!(!format!("{err:?}").contains(&hidden[..8]), "{err:?}");
        let err = KeyStatus::parse(&hidden).unwrap_err();
        assert!(!format!("{err:?}").contains(&hidden[..8]), "{err:?}");
    }

    #[test]
    fn each_purpose_gets_its_own_key() {
        use hmac::Mac;
        let key = SigningKey::new("k", &secret(1), KeyStatus::Active).unwrap();
        let tags: Vec<Vec<u8>> = Purpose::ALL
            .iter()
            .map(|p| {
                let mut m = key.mac(*p);
                m.update(b"same input");
                m.finalize().into_bytes().to_vec()
            })
            .collect();
        assert_ne!(tags[0], tags[1]);
        assert_ne!(tags[1], tags[2]);
        assert_ne!(tags[0], tags[2]);
    }

    #[test]
    fn generated_secrets_are_accepted() {
        let s = generate_secret();
        assert!(SigningKey::from_base64("k", &s, KeyStatus::Active).is_ok());
    }
}
