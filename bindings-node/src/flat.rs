//! Results of the hot route calls, written flat for `index.js` to read back field by field: the
//! text fields one after another in one string, and the numbers (with each text's length) in a
//! list of doubles. Slicing one string and reading a typed array cost about a third of
//! `JSON.parse` on the same fields, and a twelfth of napi building the object property by
//! property (bench/README.md).
//!
//! `index.js` reads the fields in the order they were written (`Flat` there). An absent text is
//! the length -1, an absent number NaN, a flag 0 or 1.
//!
//! The numbers of a call answered at once go to one `Float64Array` per environment, which
//! `index.js` asks for once (`_numbers`) and which the calls then write without being handed
//! it: converting it as an argument cost about 60 ns a call.

use crate::errors::{Result, internal, invalid};
use napi::bindgen_prelude::ToNapiValue;
use napi::{Env, sys};
use napi_derive::napi;
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Room for the most numbers a hot call writes: an ingest outcome's 20, a token's claims' 14.
const NUMS: usize = 32;

/// This thread's numbers array: the environment it belongs to, its memory and a reference that
/// keeps it alive until that environment ends (`forget`).
#[derive(Clone, Copy)]
struct Numbers {
    env: sys::napi_env,
    data: NonNull<f64>,
    array: sys::napi_ref,
}

thread_local! {
    static NUMBERS: Cell<Option<Numbers>> = const { Cell::new(None) };
    /// The text buffer of the last record answered at once, kept for the next: a hot call then
    /// allocates no text of its own.
    static SPARE: Cell<String> = const { Cell::new(String::new()) };
}

/// The most text capacity kept for the next record.
const SPARE_MAX: usize = 4096;

/// This thread's numbers array, if it is `env`'s.
fn numbers_of(env: sys::napi_env) -> Option<Numbers> {
    NUMBERS.get().filter(|n| n.env == env)
}

/// The `Float64Array` of `NUMS` doubles the hot calls of this environment write their numbers
/// to: the same array for every copy of `index.js` loaded in it, which all read what one call
/// wrote right after it.
#[napi(js_name = "_numbers", skip_typescript, catch_unwind)]
pub fn numbers(env: &Env) -> Result<napi::Unknown<'_>> {
    let env = env.raw();
    let array = match numbers_of(env) {
        Some(numbers) => referenced(env, numbers.array)?,
        None => create(env)?,
    };
    // SAFETY: a live value of this environment, made or referenced just above.
    Ok(unsafe { napi::Unknown::from_raw_unchecked(env, array) })
}

/// A new numbers array for `env`, kept by a strong reference and remembered for the hot calls.
fn create(env: sys::napi_env) -> Result<sys::napi_value> {
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut array = ptr::null_mut();
    let mut reference = ptr::null_mut();
    // SAFETY: plain napi calls on the calling environment, each given valid out-pointers. The
    // buffer's memory is V8's, which never moves it; it stays this array's until the reference
    // is gone, at the environment's end, and `index.js` never hands the array to other code
    // (which could transfer it away).
    unsafe {
        check(sys::napi_create_arraybuffer(
            env,
            NUMS * size_of::<f64>(),
            &mut data,
            &mut buffer,
        ))?;
        check(sys::napi_create_typedarray(
            env,
            sys::TypedarrayType::float64_array,
            NUMS,
            buffer,
            0,
            &mut array,
        ))?;
        check(sys::napi_create_reference(env, array, 1, &mut reference))?;
        check(sys::napi_add_env_cleanup_hook(
            env,
            Some(forget),
            env.cast(),
        ))?;
    }
    let data = NonNull::new(data.cast::<f64>())
        .filter(|d| d.as_ptr().is_aligned())
        .ok_or_else(|| internal("the numbers array has no usable memory"))?;
    NUMBERS.set(Some(Numbers {
        env,
        data,
        array: reference,
    }));
    Ok(array)
}

fn referenced(env: sys::napi_env, reference: sys::napi_ref) -> Result<sys::napi_value> {
    let mut array = ptr::null_mut();
    // SAFETY: a strong reference of this environment, which lives until `forget` drops it.
    check(unsafe { sys::napi_get_reference_value(env, reference, &mut array) })?;
    Ok(array)
}

/// The environment `env` is ending: the hot calls can no longer run in it, and its array goes.
unsafe extern "C" fn forget(env: *mut std::ffi::c_void) {
    let env: sys::napi_env = env.cast();
    if let Some(numbers) = numbers_of(env) {
        NUMBERS.set(None);
        // SAFETY: the environment's own reference; cleanup hooks run while it is still usable.
        // Nothing is left to tell of a failure at this point.
        let _ = unsafe { sys::napi_delete_reference(env, numbers.array) };
    }
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(internal(format!(
            "napi failed to make the numbers array (status {status})"
        )))
    }
}

/// A record being written.
pub(crate) struct Flat<'a> {
    text: String,
    ascii: bool,
    nums: &'a mut [f64],
    at: usize,
}

impl<'a> Flat<'a> {
    /// Write into `nums`, which must have room for every number and text length, and `text`,
    /// which must be empty.
    fn new(nums: &'a mut [f64], text: String) -> Self {
        Flat {
            text,
            ascii: true,
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
            self.ascii = false;
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
    fn finish(self) -> Result<Answer> {
        if self.at > self.nums.len() {
            let message = format!("{} numbers do not fit in {}", self.at, self.nums.len());
            return Err(internal(message));
        }
        Ok(Answer {
            text: self.text,
            ascii: self.ascii,
        })
    }
}

/// The text of a record written by `write` into this environment's numbers array.
pub(crate) fn answer(env: &Env, write: impl FnOnce(&mut Flat<'_>)) -> Result<Answer> {
    let data = numbers_of(env.raw())
        .ok_or_else(|| invalid("load trainpod through its index.js, which sets up its hot calls"))?
        .data;
    // SAFETY: the array's memory lives while its environment does (`create`), and the hot
    // calls are synchronous on the JavaScript thread: no JavaScript runs, and nothing else
    // reads or writes the array, while it is written here.
    let nums = unsafe { std::slice::from_raw_parts_mut(data.as_ptr(), NUMS) };
    let text = SPARE.take();
    let mut out = Flat::new(nums, text);
    write(&mut out);
    out.finish()
}

/// A record's text as a JavaScript string. An ASCII text is made as Latin-1, which V8 copies
/// without decoding; its buffer is kept for the next record.
pub(crate) struct Answer {
    text: String,
    ascii: bool,
}

impl ToNapiValue for Answer {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        let Answer { mut text, ascii } = value;
        let mut out = ptr::null_mut();
        let (data, len) = (text.as_ptr().cast(), text.len() as isize);
        // SAFETY: `data` and `len` are the text's, valid for the call; V8 copies them.
        let status = unsafe {
            if ascii {
                sys::napi_create_string_latin1(env, data, len, &mut out)
            } else {
                sys::napi_create_string_utf8(env, data, len, &mut out)
            }
        };
        // A text far longer than a record's is not worth keeping.
        if text.capacity() <= SPARE_MAX {
            text.clear();
            SPARE.set(text);
        }
        napi::check_status!(status, "could not make the result's text")?;
        Ok(out)
    }
}

/// A record that settles a promise, as `[text, numbers]`, with numbers of its own: by then the
/// environment's array holds another call's.
pub(crate) type Record = (String, Vec<f64>);

/// A record of at most `len` numbers written by `write`, for a promise.
pub(crate) fn record(len: usize, write: impl FnOnce(&mut Flat<'_>)) -> Result<Record> {
    let mut nums = vec![0.0; len];
    // Room for a token's claims or a job at once: growing step by step costs more.
    let mut out = Flat::new(&mut nums, String::with_capacity(256));
    write(&mut out);
    let text = out.finish()?.text;
    Ok((text, nums))
}
