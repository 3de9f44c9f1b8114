//! mcast's native core: the multipoint model on Linux sockets, the probe
//! format, statistics and the batched packet engines, exported to Node
//! through hand-declared N-API (no external crates).
//!
//! Layers: `sys` (raw FFI only) -> `net` (safe socket wrappers) -> `model`
//! (the multipoint model) / `probe` + `stats` + `analysis` (pure, no unsafe) -> `engine`
//! (threads) -> `js` (conversion, panic boundary, exports).

pub mod analysis;
pub mod engine;
pub mod js;
pub mod model;
pub mod net;
pub mod probe;
pub mod stats;
pub mod sys;

use sys::napi::{napi_env, napi_value};

/// Module entry point, found by Node with dlsym.
///
/// # Safety
/// Called by Node with a live env and exports object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    let ok = std::panic::catch_unwind(|| {
        // SAFETY: env/exports are the ones Node passed to this registration call.
        unsafe { js::register(env, exports) }
    });
    if !matches!(ok, Ok(true)) {
        let msg = "mcast-core: could not register the native functions";
        // SAFETY: pointers and lengths describe static strings.
        unsafe { sys::napi::napi_fatal_error(c"mcast-core".as_ptr(), 10, msg.as_ptr().cast(), msg.len()) };
    }
    exports
}

/// The N-API version this addon needs (Node 20 provides 9).
#[unsafe(no_mangle)]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    8
}
