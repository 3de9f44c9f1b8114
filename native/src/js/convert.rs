//! Model values to `JsVal`, and JS option objects to model requests.

use std::net::IpAddr;

use super::env::{Env, Value};
use super::value::{JsError, JsResult, JsVal};
use crate::model::CoreError;
use crate::model::catalog::ProtocolInfo;
use crate::model::multipoint::{FilterMode, JoinMode, JoinRequest, MultipointSocket, Session};
use crate::net::iface::Interface;
use crate::sys::libc;

impl From<CoreError> for JsError {
    fn from(e: CoreError) -> Self {
        JsError { code: e.code, message: e.message, errno: e.errno, syscall: e.syscall.map(str::to_owned) }
    }
}

pub fn family_name(f: i32) -> &'static str {
    if f == libc::AF_INET6 { "ipv6" } else { "ipv4" }
}

pub fn protocol(p: &ProtocolInfo) -> JsVal {
    let socket_type = match p.socket_type {
        libc::SOCK_STREAM => "stream",
        libc::SOCK_RAW => "raw",
        _ => "dgram",
    };
    let plane = |rooted: bool| {
        if !p.is_multipoint() {
            JsVal::Null
        } else if rooted {
            "rooted".into()
        } else {
            "nonrooted".into()
        }
    };
    JsVal::obj()
        .set("id", p.id)
        .set("name", p.name)
        .set("family", family_name(p.family))
        .set("addressFamily", p.family)
        .set("winsockAddressFamily", p.winsock_family())
        .set("socketType", socket_type)
        .set("protocol", p.protocol)
        .set("protocolMaxOffset", p.protocol_max_offset)
        .set("serviceFlags", p.service_flags)
        .set("flags", p.flag_names())
        .set("providerFlags", p.provider_flags)
        .set("multipoint", p.is_multipoint())
        .set("controlPlane", plane(p.control_plane_rooted()))
        .set("dataPlane", plane(p.data_plane_rooted()))
        .set("scopeControl", p.is_multipoint())
        .set("loopbackControl", p.is_multipoint())
        .set("sourceSpecific", p.supports_source_filters())
        .set("messageSize", p.message_size)
        .set("minSockaddrLength", p.min_sockaddr)
        .set("maxSockaddrLength", p.max_sockaddr)
        .set("available", p.available)
        .set_opt("reason", p.reason.clone())
        .build()
}

pub fn interface(i: &Interface) -> JsVal {
    let addrs: Vec<JsVal> = i
        .addrs
        .iter()
        .map(|a| {
            JsVal::obj().set("family", if a.ip.is_ipv6() { "ipv6" } else { "ipv4" }).set("address", a.ip.to_string()).set("prefixLength", a.prefix_len).build()
        })
        .collect();
    JsVal::obj()
        .set("name", i.name.clone())
        .set("index", i.index)
        .set("flags", i.flags)
        .set("up", i.is_up())
        .set("running", i.is_running())
        .set("multicast", i.is_multicast())
        .set("loopback", i.is_loopback())
        .set("addresses", JsVal::Arr(addrs))
        .build()
}

pub fn session(s: &Session) -> JsVal {
    JsVal::obj()
        .set("group", s.group.to_string())
        .set("port", s.port)
        .set("ifindex", s.ifindex)
        .set("mode", s.mode.as_str())
        .set("filterMode", s.filter.as_str())
        .set("sources", s.sources.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        .build()
}

pub fn socket_info(s: &MultipointSocket) -> JsResult<JsVal> {
    let local = s.socket.local_addr().ok();
    Ok(JsVal::obj()
        .set("protocolId", s.protocol.id)
        .set("protocol", s.protocol.name)
        .set("control", if s.control == crate::model::multipoint::ControlRole::Root { "c_root" } else { "c_leaf" })
        .set("data", if s.data == crate::model::multipoint::DataRole::Root { "d_root" } else { "d_leaf" })
        .set("loopback", s.loopback()?)
        .set("scope", s.scope()?)
        .set_opt("localAddress", local.map(|a| a.ip().to_string()))
        .set_opt("localPort", local.map(|a| a.port()))
        .set("session", s.session().as_ref().map(session).unwrap_or(JsVal::Null))
        .build())
}

pub fn parse_ip(s: &str, what: &str) -> JsResult<IpAddr> {
    // Zone suffixes (ff02::1%eth0) are resolved to an ifindex by the TS layer.
    let bare = s.split('%').next().unwrap_or(s);
    bare.parse().map_err(|_| JsError::invalid_arg(format!("{what} '{s}' is not an IP address")))
}

/// `{ group, port, ifindex, flags, sources?, filterMode?, localAddress?, localPort? }`
pub fn join_request(env: &Env, o: Value<'_>) -> JsResult<JoinRequest> {
    let group = parse_ip(&env.prop_string(o, "group")?.ok_or_else(|| JsError::invalid_arg("group is required"))?, "group")?;
    let port = env.prop_u64(o, "port")?.unwrap_or(0);
    if port > 65535 {
        return Err(JsError::invalid_arg(format!("port must be 0-65535; got {port}")));
    }
    let flags = env.prop_u64(o, "flags")?.ok_or_else(|| JsError::invalid_arg("flags (JL_*) is required"))?;
    let mode = JoinMode::from_flags(flags as u32)?;
    let filter = match env.prop_string(o, "filterMode")?.as_deref() {
        None | Some("include") => FilterMode::Include,
        Some("exclude") => FilterMode::Exclude,
        Some(other) => return Err(JsError::invalid_arg(format!("filterMode must be 'include' or 'exclude'; got '{other}'"))),
    };
    let sources = env.prop_strings(o, "sources")?.iter().map(|s| parse_ip(s, "source")).collect::<JsResult<Vec<_>>>()?;
    let local = env.prop_string(o, "localAddress")?.map(|s| parse_ip(&s, "localAddress")).transpose()?;
    Ok(JoinRequest {
        group,
        port: port as u16,
        ifindex: env.prop_u64(o, "ifindex")?.unwrap_or(0) as u32,
        mode,
        filter,
        sources,
        local,
        local_port: env.prop_u64(o, "localPort")?.unwrap_or(0).min(65535) as u16,
    })
}
