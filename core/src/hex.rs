//! Lowercase hexadecimal, for hashes in reports and stores.

/// `bytes` as lowercase hex.
pub(crate) fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Whether `hex` is a sha256 as trainpod writes and checks them: 64 lowercase hex digits.
pub(crate) fn is_sha256(hex: &str) -> bool {
    decode_sha256(hex).is_some()
}

/// A sha256 written by [`encode`] back as its 32 bytes; `None` for anything else.
pub(crate) fn decode_sha256(hex: &str) -> Option<[u8; 32]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_lowercase() {
        assert_eq!(super::encode(&[0x00, 0xab, 0x7f]), "00ab7f");
    }

    #[test]
    fn decodes_a_sha256_it_encoded_and_nothing_else() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(super::decode_sha256(&super::encode(&bytes)), Some(bytes));
        assert_eq!(super::decode_sha256(&"AB".repeat(32)), None);
        assert_eq!(super::decode_sha256(&"ab".repeat(31)), None);
        assert_eq!(super::decode_sha256(&"0g".repeat(32)), None);
    }
}
