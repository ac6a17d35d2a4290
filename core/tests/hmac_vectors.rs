//! The primitives under the token format, checked against published vectors: RFC 4231
//! HMAC-SHA256 and the PASETO PAE examples. A 16-byte (truncated) tag must never verify.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use trainpod::token::pae;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], msg: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    hex(&m.finalize().into_bytes())
}

#[test]
fn rfc4231_test_cases() {
    assert_eq!(
        hmac(&[0x0b; 20], b"Hi There"),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
    assert_eq!(
        hmac(b"Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hmac(&[0xaa; 20], &[0xdd; 50]),
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
    );
}

#[test]
fn truncated_tags_do_not_verify() {
    // RFC 4231 TC5's own 128-bit truncation: valid there, refused by the full-length check.
    let mut m = Hmac::<Sha256>::new_from_slice(&[0x0c; 20]).unwrap();
    m.update(b"Test With Truncation");
    let full = m.clone().finalize().into_bytes();
    assert_eq!(hex(&full[..16]), "a3b6167473100ee06e0c796c2955552b");
    assert!(m.verify_slice(&full[..16]).is_err());
}

#[test]
fn pae_examples() {
    assert_eq!(hex(&pae(&[])), "0000000000000000");
    assert_eq!(hex(&pae(&[b""])), "01000000000000000000000000000000");
    assert_eq!(
        hex(&pae(&[b"test"])),
        "0100000000000000040000000000000074657374"
    );
}
