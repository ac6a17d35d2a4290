//! JavaScript numbers are doubles: integers are checked here before they reach core.

use crate::errors::{Result, invalid};

/// The largest integer a double holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// `value` as a whole number from 0 to `max`, or `INVALID_INPUT` naming `name`.
pub(crate) fn whole(name: &str, value: f64, max: u64) -> Result<u64> {
    let limit = (max as f64).min(MAX_SAFE);
    if value.is_finite() && value.fract() == 0.0 && (0.0..=limit).contains(&value) {
        Ok(value as u64)
    } else {
        Err(invalid(format!(
            "{name} must be a whole number from 0 to {limit}"
        )))
    }
}

/// Like [`whole`], for optional arguments.
pub(crate) fn whole_opt(name: &str, value: Option<f64>, max: u64) -> Result<Option<u64>> {
    value.map(|v| whole(name, v, max)).transpose()
}
