//! Whole numbers from a language whose only number is a double (JavaScript): checked here, so
//! that a fraction, a negative, a NaN or an integer a double cannot hold exactly is refused the
//! same way, with the argument's name, wherever it comes from.

use crate::error::{Error, Result};

/// The largest integer a double holds exactly: 2^53 − 1, JavaScript's `Number.MAX_SAFE_INTEGER`.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `value` as a whole number from 0 to `max` (at most [`MAX_SAFE_INTEGER`]), or an
/// `INVALID_INPUT` error naming `name`.
pub fn whole(name: &str, value: f64, max: u64) -> Result<u64> {
    let limit = max.min(MAX_SAFE_INTEGER);
    // Every integer up to `limit` is exact as a double, so comparing doubles is exact too.
    if value.is_finite() && value.fract() == 0.0 && (0.0..=limit as f64).contains(&value) {
        Ok(value as u64)
    } else {
        Err(Error::invalid_input(format!(
            "{name} must be a whole number from 0 to {limit}"
        )))
    }
}

/// [`whole`] for an optional argument.
pub fn whole_opt(name: &str, value: Option<f64>, max: u64) -> Result<Option<u64>> {
    value.map(|v| whole(name, v, max)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn whole_numbers_within_the_limit_pass_and_the_rest_name_the_argument() {
        assert_eq!(whole("n", 0.0, 10).unwrap(), 0);
        assert_eq!(whole("n", 10.0, 10).unwrap(), 10);
        assert_eq!(
            whole("n", 9_007_199_254_740_991.0, u64::MAX).unwrap(),
            MAX_SAFE_INTEGER
        );
        for bad in [
            -1.0,
            1.5,
            11.0,
            f64::NAN,
            f64::INFINITY,
            9_007_199_254_740_992.0,
        ] {
            let max = if bad > 100.0 { u64::MAX } else { 10 };
            let err = whole("ttlSecs", bad, max).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(err.message().starts_with("ttlSecs must be"), "{bad}");
        }
        assert_eq!(whole_opt("n", None, 1).unwrap(), None);
    }
}
