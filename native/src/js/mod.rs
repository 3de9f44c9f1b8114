//! The JavaScript-facing layer: value conversion, the panic boundary, handles,
//! and the exported functions.

pub mod api;
pub mod boundary;
pub mod convert;
pub mod env;
pub mod registry;
pub mod snapshot;
pub mod value;

use core::ptr;
use std::ffi::CString;

use crate::napi_fn;
use crate::sys::napi::*;

napi_fn!(t_version => api::version);
napi_fn!(t_constants => api::constants);
napi_fn!(t_catalog => api::catalog);
napi_fn!(t_interfaces => api::interfaces);
napi_fn!(t_socket_open => api::socket_open);
napi_fn!(t_socket_join_leaf => api::socket_join_leaf);
napi_fn!(t_socket_set_loopback => api::socket_set_loopback);
napi_fn!(t_socket_set_scope => api::socket_set_scope);
napi_fn!(t_socket_info => api::socket_info);
napi_fn!(t_socket_leave => api::socket_leave);
napi_fn!(t_socket_close => api::socket_close);
napi_fn!(t_receiver_start => api::receiver_start);
napi_fn!(t_sender_start => api::sender_start);
napi_fn!(t_engine_snapshot => api::engine_snapshot);
napi_fn!(t_engine_stop => api::engine_stop);
napi_fn!(t_probe_decode => api::probe_decode);
napi_fn!(t_probe_encode => api::probe_encode);
napi_fn!(t_fuzz_decode => api::fuzz_decode);
napi_fn!(t_responder_start => api::responder_start);
napi_fn!(t_pinger_start => api::pinger_start);
napi_fn!(t_random_session => api::random_session);
napi_fn!(t_ssmping_server_start => api::ssmping_server_start);
napi_fn!(t_ssmping_client_start => api::ssmping_client_start);
napi_fn!(t_querier_start => api::querier_start);
napi_fn!(t_bridge_querier_state => api::bridge_querier_state);

type Trampoline = unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value;

const EXPORTS: &[(&str, Trampoline)] = &[
    ("version", t_version),
    ("constants", t_constants),
    ("catalog", t_catalog),
    ("interfaces", t_interfaces),
    ("socketOpen", t_socket_open),
    ("socketJoinLeaf", t_socket_join_leaf),
    ("socketSetLoopback", t_socket_set_loopback),
    ("socketSetScope", t_socket_set_scope),
    ("socketInfo", t_socket_info),
    ("socketLeave", t_socket_leave),
    ("socketClose", t_socket_close),
    ("receiverStart", t_receiver_start),
    ("senderStart", t_sender_start),
    ("engineSnapshot", t_engine_snapshot),
    ("engineStop", t_engine_stop),
    ("probeDecode", t_probe_decode),
    ("probeEncode", t_probe_encode),
    ("fuzzDecode", t_fuzz_decode),
    ("responderStart", t_responder_start),
    ("pingerStart", t_pinger_start),
    ("randomSession", t_random_session),
    ("ssmpingServerStart", t_ssmping_server_start),
    ("ssmpingClientStart", t_ssmping_client_start),
    ("querierStart", t_querier_start),
    ("bridgeQuerierState", t_bridge_querier_state),
];

/// Attach every export to `exports`. Returns false if N-API refused one.
///
/// # Safety
/// `env` and `exports` must be the values Node passed to module registration.
pub unsafe fn register(env: napi_env, exports: napi_value) -> bool {
    for (name, f) in EXPORTS {
        let Ok(cname) = CString::new(*name) else { return false };
        let mut func: napi_value = ptr::null_mut();
        // SAFETY: `cname` is NUL-terminated and outlives the calls; `f` is a
        // valid callback for the lifetime of the process (a static fn).
        let ok = unsafe {
            napi_create_function(env, cname.as_ptr(), name.len(), Some(*f), ptr::null_mut(), &mut func) == NAPI_OK
                && napi_set_named_property(env, exports, cname.as_ptr(), func) == NAPI_OK
        };
        if !ok {
            return false;
        }
    }
    true
}
