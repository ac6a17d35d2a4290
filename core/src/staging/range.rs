//! The `Range` and `If-Range` request headers (RFC 9110 §14), for one representation of `size`
//! bytes.
//!
//! Policy, where RFC 9110 leaves a choice:
//! - one range is served as 206; a range that starts at or beyond the end (or a zero-length
//!   suffix, or any range of an empty file) is 416 with `Content-Range: bytes */size`;
//! - several ranges are not served as `multipart/byteranges`: the Range header is ignored and
//!   the whole file is sent with 200 (RFC 9110 §14.2 lets a server ignore Range). Download tools
//!   resume with one open-ended range, and multipart would multiply the work of a request;
//! - a syntactically invalid header (garbage, `b-a` with b < a, signs, spaces, hex, a range unit
//!   other than `bytes`, or more than 256 bytes) is ignored, like nginx: 200 with the whole file,
//!   which a client can check against the sha256 it was given;
//! - numbers too large for 64 bits are not errors: a first byte that large is past the end (416),
//!   a last byte or suffix that large is clamped to the file, as RFC 9110 says for any large one;
//! - `If-Range` applies the range only when it equals the strong ETag exactly; a date or another
//!   tag means "send everything" (200), since the file may have changed.

/// What to send in answer to the request's `Range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// 200: the whole file.
    Full,
    /// 206: `len` bytes from `start` (never empty, always within the file).
    Partial {
        /// First byte.
        start: u64,
        /// Number of bytes.
        len: u64,
    },
    /// 416: nothing; `Content-Range: bytes */size`.
    Unsatisfiable,
}

const MAX_RANGE_HEADER: usize = 256;

/// Decide what to send for `range` (and `if_range`) against a file of `size` bytes whose strong
/// ETag is `etag`.
pub fn resolve(range: Option<&str>, if_range: Option<&str>, size: u64, etag: &str) -> RangeOutcome {
    let Some(range) = range else {
        return RangeOutcome::Full;
    };
    if if_range.is_some_and(|v| v.trim() != etag) {
        return RangeOutcome::Full;
    }
    parse_single(range).map_or(RangeOutcome::Full, |spec| spec.against(size))
}

/// One `range-spec` as written, before the file size is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spec {
    /// `first-` or `first-last`; `None` last means to the end. Saturated at `u64::MAX`.
    FromTo(u64, Option<u64>),
    /// `-n`: the last n bytes.
    Suffix(u64),
}

impl Spec {
    fn against(self, size: u64) -> RangeOutcome {
        match self {
            Spec::Suffix(0) => RangeOutcome::Unsatisfiable,
            _ if size == 0 => RangeOutcome::Unsatisfiable,
            Spec::Suffix(n) => {
                let len = n.min(size);
                RangeOutcome::Partial {
                    start: size - len,
                    len,
                }
            }
            Spec::FromTo(first, _) if first >= size => RangeOutcome::Unsatisfiable,
            Spec::FromTo(first, last) => {
                let last = last.map_or(size - 1, |l| l.min(size - 1));
                RangeOutcome::Partial {
                    start: first,
                    len: last - first + 1,
                }
            }
        }
    }
}

/// The single range of a valid `bytes=` header, or `None` when the header is to be ignored.
fn parse_single(header: &str) -> Option<Spec> {
    if header.len() > MAX_RANGE_HEADER {
        return None;
    }
    let (unit, set) = header.split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    // RFC 9110 list syntax: empty elements are allowed and skipped; more than one range is
    // ignored (see the module comment).
    let mut specs = set.split(',').map(trim_ows).filter(|s| !s.is_empty());
    let spec = specs.next()?;
    if specs.next().is_some() {
        return None;
    }
    parse_spec(spec)
}

fn parse_spec(spec: &str) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    if first.is_empty() {
        return Some(Spec::Suffix(digits(last)?));
    }
    let first = digits(first)?;
    if last.is_empty() {
        return Some(Spec::FromTo(first, None));
    }
    let last = digits(last)?;
    (last >= first).then_some(Spec::FromTo(first, Some(last)))
}

/// A run of ASCII digits as a number, saturating at `u64::MAX`; `None` if not only digits.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::RangeOutcome::{Full, Partial, Unsatisfiable};
    use super::*;

    const TAG: &str = "\"abc\"";

    fn r(h: &str, size: u64) -> RangeOutcome {
        resolve(Some(h), None, size, TAG)
    }

    #[test]
    fn single_ranges() {
        assert_eq!(resolve(None, None, 10, TAG), Full);
        assert_eq!(r("bytes=0-0", 10), Partial { start: 0, len: 1 });
        assert_eq!(r("bytes=2-5", 10), Partial { start: 2, len: 4 });
        assert_eq!(r("bytes=7-", 10), Partial { start: 7, len: 3 });
        assert_eq!(r("bytes=-3", 10), Partial { start: 7, len: 3 });
        assert_eq!(r("bytes=-30", 10), Partial { start: 0, len: 10 });
        assert_eq!(r("bytes=5-100", 10), Partial { start: 5, len: 5 });
        assert_eq!(r("BYTES=1-1", 10), Partial { start: 1, len: 1 });
        assert_eq!(r("bytes= 1-2 ,", 10), Partial { start: 1, len: 2 });
        assert_eq!(r("bytes=0009-", 10), Partial { start: 9, len: 1 });
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(r("bytes=10-", 10), Unsatisfiable);
        assert_eq!(r("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(r("bytes=-0", 10), Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Unsatisfiable);
        assert_eq!(r("bytes=-5", 0), Unsatisfiable);
        assert_eq!(r("bytes=99999999999999999999999999-", 10), Unsatisfiable);
        assert_eq!(r(&format!("bytes={}-", u64::MAX), 10), Unsatisfiable);
    }

    #[test]
    fn huge_last_or_suffix_is_clamped() {
        let huge = "bytes=3-99999999999999999999999999999";
        assert_eq!(r(huge, 10), Partial { start: 3, len: 7 });
        assert_eq!(
            r("bytes=-99999999999999999999999", 10),
            Partial { start: 0, len: 10 }
        );
        assert_eq!(
            r(&format!("bytes=0-{}", u64::MAX), 10),
            Partial { start: 0, len: 10 }
        );
    }

    #[test]
    fn invalid_or_multiple_ranges_are_ignored() {
        let long = format!("bytes={}0-1", " ".repeat(300));
        for h in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=1--2",
            "bytes=0x10-",
            "bytes=1e3-",
            "bytes=-+5",
            "bytes =0-1",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=0-1, -2",
            "bytes=1-2-3",
            "bytes=\u{0661}-",
            "bytes=0-1\r\nX: y",
            "bytes=,,",
            "bytes=0-1;x",
            &long,
        ] {
            assert_eq!(r(h, 10), Full, "{h:?}");
        }
    }

    #[test]
    fn if_range_applies_the_range_only_for_the_same_strong_etag() {
        let range = Some("bytes=2-");
        assert_eq!(
            resolve(range, Some(TAG), 10, TAG),
            Partial { start: 2, len: 8 }
        );
        for other in ["\"abd\"", "W/\"abc\"", "Wed, 21 Oct 2015 07:28:00 GMT", ""] {
            assert_eq!(resolve(range, Some(other), 10, TAG), Full, "{other}");
        }
        assert_eq!(resolve(None, Some("\"x\""), 10, TAG), Full);
    }
}
