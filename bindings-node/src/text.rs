//! `Text`: a string argument of the hot route calls, read in one pass.
//!
//! napi reads a `String` in two passes, one to measure it and one to copy it into a zeroed heap
//! buffer; for a 350-byte token that is most of the cost of reading the call's arguments
//! (bench/overhead.sh). A string that fits the stack buffer is copied once; a longer one, or a
//! value that is not a string, takes napi's own way (and its error).

use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue};
use napi::{ValueType, sys};
use std::mem::MaybeUninit;
use std::slice;

/// Room for a token and its `Bearer ` prefix, or any id.
const STACK: usize = 512;

/// The longest UTF-8 sequence napi writes for one character.
const MAX_CHAR: usize = 4;

/// A string argument.
pub(crate) struct Text(pub(crate) String);

impl FromNapiValue for Text {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // Not zeroed first: napi writes what is read.
        let mut buf = [MaybeUninit::<u8>::uninit(); STACK];
        let mut written = 0;
        // SAFETY: `buf` is writable for its whole length, which is what napi is told; napi writes
        // at most `STACK - 1` bytes and a NUL, and sets `written` to the bytes before the NUL.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                buf.as_mut_ptr().cast(),
                STACK,
                &mut written,
            )
        };
        // napi writes whole characters only: with room left for one more, nothing was cut off.
        if status == sys::Status::napi_ok
            && written + MAX_CHAR < STACK
            // SAFETY: napi wrote (initialized) the first `written` bytes, checked just above to
            // be within `buf`.
            && let Ok(text) =
                std::str::from_utf8(unsafe { slice::from_raw_parts(buf.as_ptr().cast(), written) })
        {
            return Ok(Text(text.to_owned()));
        }
        // SAFETY: the same `env` and `value` napi handed this conversion.
        unsafe { String::from_napi_value(env, value) }.map(Text)
    }
}

impl TypeName for Text {
    fn type_name() -> &'static str {
        String::type_name()
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ValidateNapiValue for Text {}

/// An optional argument as the `String` core takes.
pub(crate) fn text(value: Option<Text>) -> Option<String> {
    value.map(|t| t.0)
}
