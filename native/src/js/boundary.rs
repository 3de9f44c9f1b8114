//! The panic/exception boundary around every function Node calls into.
//! Rust panics never unwind into Node: they become a JS Error with code
//! ERR_NATIVE_PANIC (the process survives).

use core::ptr;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::env::{Args, Env};
use super::value::{JsError, JsResult, JsVal};
use crate::sys::napi::*;

pub type Callback = fn(&Env, &Args) -> JsResult<JsVal>;

const MAX_ARGS: usize = 8;

/// Run `f` for one N-API callback.
///
/// # Safety
/// `env` and `info` must be the values Node passed to the running callback.
pub unsafe fn call(env: napi_env, info: napi_callback_info, f: Callback) -> napi_value {
    // SAFETY: `env` is the live env of this callback (caller's contract).
    let e = unsafe { Env::from_raw(env) };
    let outcome = catch_unwind(AssertUnwindSafe(|| -> JsResult<napi_value> {
        let mut argc = MAX_ARGS;
        let mut argv: [napi_value; MAX_ARGS] = [ptr::null_mut(); MAX_ARGS];
        // SAFETY: `argv` has room for `argc` values; `info` is this callback's info.
        let status = unsafe { napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) };
        if status != NAPI_OK {
            return Err(JsError::new("ERR_NAPI", "could not read the call's arguments"));
        }
        let args = Args { values: argv[..argc.min(MAX_ARGS)].to_vec() };
        let value = f(&e, &args)?;
        e.to_js(&value)
    }));
    match outcome {
        Ok(Ok(v)) => v,
        Ok(Err(err)) => {
            e.throw(&err);
            ptr::null_mut()
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            e.throw(&JsError::new("ERR_NATIVE_PANIC", format!("internal error in mcast's native core: {what}")));
            ptr::null_mut()
        }
    }
}

/// Declares an `extern "C"` trampoline for a `Callback`.
#[macro_export]
macro_rules! napi_fn {
    ($tramp:ident => $body:path) => {
        unsafe extern "C" fn $tramp(env: $crate::sys::napi::napi_env, info: $crate::sys::napi::napi_callback_info) -> $crate::sys::napi::napi_value {
            // SAFETY: Node calls this trampoline with the env and info of the current call.
            unsafe { $crate::js::boundary::call(env, info, $body) }
        }
    };
}
