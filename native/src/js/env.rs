//! Safe access to the N-API environment for one callback: reading arguments,
//! building results from `JsVal`, throwing errors. Every `unsafe` block in the
//! JS layer lives here or in `boundary.rs`.

use core::ffi::{c_char, c_void};
use core::marker::PhantomData;
use core::ptr;
use std::ffi::CString;

use super::value::{JsError, JsResult, JsVal};
use crate::sys::napi::*;

/// A JS value handed to us by N-API during the current callback. Only `Env`
/// and `Args` make these, so every handle passed back to N-API is a live one
/// (the lifetime ties it to the callback it came from).
#[derive(Clone, Copy)]
pub struct Value<'e> {
    raw: napi_value,
    _callback: PhantomData<&'e ()>,
}

impl Value<'_> {
    fn new(raw: napi_value) -> Self {
        Value { raw, _callback: PhantomData }
    }
}

/// The environment of one running callback. Valid only for that call: it is
/// created by `boundary::call` and never stored.
pub struct Env {
    raw: napi_env,
}

/// Turn an N-API status into a Result; the only place statuses are inspected.
fn check(status: napi_status, what: &str) -> JsResult<()> {
    if status == NAPI_OK { Ok(()) } else { Err(JsError::new("ERR_NAPI", format!("N-API call {what} failed with status {status}"))) }
}

fn cstring(s: &str) -> CString {
    // Property names and messages are ours; an interior NUL is replaced, never a panic.
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl Env {
    /// # Safety
    /// `raw` must be the env passed by Node to the currently running callback.
    pub unsafe fn from_raw(raw: napi_env) -> Self {
        Self { raw }
    }

    pub fn to_js(&self, v: &JsVal) -> JsResult<napi_value> {
        let mut out: napi_value = ptr::null_mut();
        let env = self.raw;
        match v {
            // SAFETY: in every arm below, `env` is the live env of this callback and
            // `out` a valid out-pointer; N-API copies its inputs before returning.
            JsVal::Undefined => check(
                // SAFETY: see above.
                unsafe { napi_get_undefined(env, &mut out) },
                "get_undefined",
            )?,
            JsVal::Null => check(
                // SAFETY: see above.
                unsafe { napi_get_null(env, &mut out) },
                "get_null",
            )?,
            JsVal::Bool(b) => check(
                // SAFETY: see above.
                unsafe { napi_get_boolean(env, *b, &mut out) },
                "get_boolean",
            )?,
            JsVal::Num(n) => check(
                // SAFETY: see above.
                unsafe { napi_create_double(env, *n, &mut out) },
                "create_double",
            )?,
            JsVal::BigU64(n) => check(
                // SAFETY: see above.
                unsafe { napi_create_bigint_uint64(env, *n, &mut out) },
                "create_bigint",
            )?,
            JsVal::Str(s) => {
                // SAFETY: pointer and length describe the live UTF-8 bytes of `s`.
                check(unsafe { napi_create_string_utf8(env, s.as_ptr().cast::<c_char>(), s.len(), &mut out) }, "create_string")?
            }
            JsVal::Buf(b) => {
                let mut data: *mut c_void = ptr::null_mut();
                // SAFETY: N-API copies `b.len()` bytes from `b.as_ptr()`, which are live.
                check(unsafe { napi_create_buffer_copy(env, b.len(), b.as_ptr().cast(), &mut data, &mut out) }, "create_buffer_copy")?
            }
            JsVal::Arr(items) => {
                // SAFETY: valid env and out-pointer.
                check(unsafe { napi_create_array_with_length(env, items.len(), &mut out) }, "create_array")?;
                for (i, item) in items.iter().enumerate() {
                    let el = self.to_js(item)?;
                    // SAFETY: `out` is the array just created, `el` a live value.
                    check(unsafe { napi_set_element(env, out, i as u32, el) }, "set_element")?;
                }
            }
            JsVal::Obj(props) => {
                // SAFETY: valid env and out-pointer.
                check(unsafe { napi_create_object(env, &mut out) }, "create_object")?;
                for (key, val) in props {
                    let jv = self.to_js(val)?;
                    let k = cstring(key);
                    // SAFETY: `k` is NUL-terminated and outlives the call; `out` and `jv` are live.
                    check(unsafe { napi_set_named_property(env, out, k.as_ptr(), jv) }, "set_named_property")?;
                }
            }
        }
        Ok(out)
    }

    /// Throw `err` as a JS Error with `code` (and `errno`/`syscall` when known).
    /// An exception JavaScript already threw during this call is the cause
    /// and is left as it is.
    pub fn throw(&self, err: &JsError) {
        if self.exception_pending() {
            return;
        }
        let build = || -> JsResult<napi_value> {
            let code = self.to_js(&JsVal::Str(err.code.clone()))?;
            let msg = self.to_js(&JsVal::Str(err.message.clone()))?;
            let mut e: napi_value = ptr::null_mut();
            // SAFETY: live env, live string values, valid out-pointer.
            check(unsafe { napi_create_error(self.raw, code, msg, &mut e) }, "create_error")?;
            if let Some(errno) = err.errno {
                let v = self.to_js(&JsVal::Num(-(errno as f64)))?;
                let k = cstring("errno");
                // SAFETY: `e` is the error object just created; `k` is NUL-terminated.
                check(unsafe { napi_set_named_property(self.raw, e, k.as_ptr(), v) }, "set errno")?;
            }
            if let Some(sc) = &err.syscall {
                let v = self.to_js(&JsVal::Str(sc.clone()))?;
                let k = cstring("syscall");
                // SAFETY: as above.
                check(unsafe { napi_set_named_property(self.raw, e, k.as_ptr(), v) }, "set syscall")?;
            }
            Ok(e)
        };
        if let Ok(e) = build() {
            // SAFETY: live env and error value; a failure leaves no exception, handled below.
            unsafe { napi_throw(self.raw, e) };
        }
        if !self.exception_pending() {
            // Building the error object failed (or throwing it did): throw from
            // plain C strings, so the call never returns `undefined` as a result.
            let (code, msg) = (cstring(&err.code), cstring(&err.message));
            // SAFETY: live env; both strings are NUL-terminated and outlive the call.
            unsafe { napi_throw_error(self.raw, code.as_ptr(), msg.as_ptr()) };
        }
    }

    /// Whether JavaScript already has an exception pending (an N-API call
    /// failed because JS code threw, e.g. a getter of an options object).
    fn exception_pending(&self) -> bool {
        let mut pending = false;
        // SAFETY: live env, valid out-pointer.
        let status = unsafe { napi_is_exception_pending(self.raw, &mut pending) };
        status == NAPI_OK && pending
    }

    pub fn type_of(&self, v: Value<'_>) -> JsResult<napi_valuetype> {
        let mut t: napi_valuetype = 0;
        // SAFETY: `v` came from this callback's arguments or a property read in it.
        check(unsafe { napi_typeof(self.raw, v.raw, &mut t) }, "typeof")?;
        Ok(t)
    }

    pub fn get_f64(&self, v: Value<'_>, what: &str) -> JsResult<f64> {
        if self.type_of(v)? != NAPI_NUMBER {
            return Err(JsError::invalid_arg(format!("{what} must be a number")));
        }
        let mut n = 0.0;
        // SAFETY: `v` is a live number value.
        check(unsafe { napi_get_value_double(self.raw, v.raw, &mut n) }, "get_value_double")?;
        Ok(n)
    }

    pub fn get_bool(&self, v: Value<'_>, what: &str) -> JsResult<bool> {
        if self.type_of(v)? != NAPI_BOOLEAN {
            return Err(JsError::invalid_arg(format!("{what} must be a boolean")));
        }
        let mut b = false;
        // SAFETY: `v` is a live boolean value.
        check(unsafe { napi_get_value_bool(self.raw, v.raw, &mut b) }, "get_value_bool")?;
        Ok(b)
    }

    pub fn get_string(&self, v: Value<'_>, what: &str) -> JsResult<String> {
        if self.type_of(v)? != NAPI_STRING {
            return Err(JsError::invalid_arg(format!("{what} must be a string")));
        }
        let mut len = 0usize;
        // SAFETY: null buffer asks only for the length.
        check(unsafe { napi_get_value_string_utf8(self.raw, v.raw, ptr::null_mut(), 0, &mut len) }, "string length")?;
        let mut buf = vec![0u8; len + 1];
        let mut written = 0usize;
        // SAFETY: `buf` has room for `len` bytes plus the NUL N-API writes.
        check(unsafe { napi_get_value_string_utf8(self.raw, v.raw, buf.as_mut_ptr().cast(), buf.len(), &mut written) }, "get_value_string")?;
        buf.truncate(written);
        String::from_utf8(buf).map_err(|_| JsError::invalid_arg(format!("{what} is not valid UTF-8")))
    }

    /// Copy a Buffer / Uint8Array argument's bytes.
    pub fn get_bytes(&self, v: Value<'_>, what: &str) -> JsResult<Vec<u8>> {
        let mut is_buf = false;
        // SAFETY: live value, valid out-pointer.
        check(unsafe { napi_is_buffer(self.raw, v.raw, &mut is_buf) }, "is_buffer")?;
        if !is_buf {
            return Err(JsError::invalid_arg(format!("{what} must be a Buffer")));
        }
        let mut data: *mut c_void = ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: `v` is a Buffer; N-API reports its backing store and length.
        check(unsafe { napi_get_buffer_info(self.raw, v.raw, &mut data, &mut len) }, "get_buffer_info")?;
        if len == 0 || data.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: `data..data+len` is the Buffer's live backing store for the
        // duration of this callback; we copy it out immediately.
        Ok(unsafe { core::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec())
    }

    pub fn get_array<'e>(&self, v: Value<'e>, what: &str) -> JsResult<Vec<Value<'e>>> {
        let mut is_arr = false;
        // SAFETY: live value, valid out-pointer.
        check(unsafe { napi_is_array(self.raw, v.raw, &mut is_arr) }, "is_array")?;
        if !is_arr {
            return Err(JsError::invalid_arg(format!("{what} must be an array")));
        }
        let mut n = 0u32;
        // SAFETY: `v` is an array.
        check(unsafe { napi_get_array_length(self.raw, v.raw, &mut n) }, "get_array_length")?;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let mut el: napi_value = ptr::null_mut();
            // SAFETY: index is below the array's length.
            check(unsafe { napi_get_element(self.raw, v.raw, i, &mut el) }, "get_element")?;
            out.push(Value::new(el));
        }
        Ok(out)
    }

    /// A property of an options object; None when absent, undefined or null.
    pub fn get_prop<'e>(&self, obj: Value<'e>, name: &str) -> JsResult<Option<Value<'e>>> {
        if self.type_of(obj)? != NAPI_OBJECT {
            return Err(JsError::invalid_arg("options must be an object"));
        }
        let k = cstring(name);
        let mut v: napi_value = ptr::null_mut();
        // SAFETY: `obj` is a live object, `k` NUL-terminated.
        check(unsafe { napi_get_named_property(self.raw, obj.raw, k.as_ptr(), &mut v) }, "get_named_property")?;
        let v = Value::new(v);
        match self.type_of(v)? {
            NAPI_UNDEFINED | NAPI_NULL => Ok(None),
            _ => Ok(Some(v)),
        }
    }

    pub fn prop_f64(&self, obj: Value<'_>, name: &str) -> JsResult<Option<f64>> {
        self.get_prop(obj, name)?.map(|v| self.get_f64(v, name)).transpose()
    }
    pub fn prop_bool(&self, obj: Value<'_>, name: &str) -> JsResult<Option<bool>> {
        self.get_prop(obj, name)?.map(|v| self.get_bool(v, name)).transpose()
    }
    pub fn prop_string(&self, obj: Value<'_>, name: &str) -> JsResult<Option<String>> {
        self.get_prop(obj, name)?.map(|v| self.get_string(v, name)).transpose()
    }
    pub fn prop_strings(&self, obj: Value<'_>, name: &str) -> JsResult<Vec<String>> {
        match self.get_prop(obj, name)? {
            None => Ok(Vec::new()),
            Some(arr) => self.get_array(arr, name)?.into_iter().map(|v| self.get_string(v, name)).collect(),
        }
    }
    pub fn prop_u64(&self, obj: Value<'_>, name: &str) -> JsResult<Option<u64>> {
        match self.prop_f64(obj, name)? {
            None => Ok(None),
            Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 => Ok(Some(n as u64)),
            Some(n) => Err(JsError::invalid_arg(format!("{name} must be a non-negative integer; got {n}"))),
        }
    }

    pub fn raw(&self) -> napi_env {
        self.raw
    }
}

/// The arguments of one callback.
pub struct Args {
    pub(super) values: Vec<napi_value>,
}

impl Args {
    pub fn get(&self, i: usize, what: &str) -> JsResult<Value<'_>> {
        self.values.get(i).copied().map(Value::new).ok_or_else(|| JsError::invalid_arg(format!("missing argument {what}")))
    }
}
