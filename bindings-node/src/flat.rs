//! Results of the hot route calls, written flat for `index.js` to read back field by field: the
//! text fields one after another in one string, and the numbers (with each text's length) in a
//! list of doubles, the caller's `Float64Array`. Slicing one string and reading a typed array
//! cost about a third of `JSON.parse` on the same fields, and a twelfth of napi building the
//! object property by property (bench/README.md).
//!
//! `index.js` reads the fields in the order they were written (`Flat` there). An absent text is
//! the length -1, an absent number NaN, a flag 0 or 1.

use crate::errors::{Result, to_js};
use napi::bindgen_prelude::Float64ArraySlice;

/// A record being written.
pub(crate) struct Flat<'a> {
    text: String,
    nums: &'a mut [f64],
    at: usize,
}

impl<'a> Flat<'a> {
    /// Write into `nums`, which must have room for every number and text length.
    pub(crate) fn new(nums: &'a mut [f64]) -> Self {
        Flat {
            // Room for a token's claims or a job at once: growing step by step costs more.
            text: String::with_capacity(256),
            nums,
            at: 0,
        }
    }

    pub(crate) fn num(&mut self, value: f64) {
        if let Some(slot) = self.nums.get_mut(self.at) {
            *slot = value;
        }
        self.at += 1;
    }

    pub(crate) fn opt_num(&mut self, value: Option<f64>) {
        self.num(value.unwrap_or(f64::NAN));
    }

    pub(crate) fn flag(&mut self, value: bool) {
        self.num(f64::from(u8::from(value)));
    }

    /// A text: its length in UTF-16 units (JavaScript's `length`), then the text.
    pub(crate) fn text(&mut self, value: &str) {
        let units = if value.is_ascii() {
            value.len()
        } else {
            value.encode_utf16().count()
        };
        self.num(units as f64);
        self.text.push_str(value);
    }

    pub(crate) fn opt_text(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.text(v),
            None => self.num(-1.0),
        }
    }

    /// The text, once every number had room.
    pub(crate) fn finish(self) -> Result<String> {
        if self.at > self.nums.len() {
            return Err(to_js(trainpod::Error::new(
                trainpod::ErrorKind::Internal,
                format!("{} numbers do not fit in {}", self.at, self.nums.len()),
            )));
        }
        Ok(self.text)
    }
}

/// A record written by `write` into the caller's array; the text is returned.
pub(crate) fn into_array(
    mut nums: Float64ArraySlice,
    write: impl FnOnce(&mut Flat<'_>),
) -> Result<String> {
    // SAFETY: the hot calls are synchronous on the JavaScript thread, so no JavaScript runs, and
    // nothing else reads or writes the array, while this slice of it is written.
    let mut out = Flat::new(unsafe { nums.as_mut() });
    write(&mut out);
    out.finish()
}

/// A record that settles a promise, as `[text, numbers]`, with numbers of its own: by then the
/// caller's array holds another call's.
pub(crate) type Record = (String, Vec<f64>);

/// A record of at most `len` numbers written by `write`, for a promise.
pub(crate) fn record(len: usize, write: impl FnOnce(&mut Flat<'_>)) -> Result<Record> {
    let mut nums = vec![0.0; len];
    let mut out = Flat::new(&mut nums);
    write(&mut out);
    let text = out.finish()?;
    Ok((text, nums))
}
