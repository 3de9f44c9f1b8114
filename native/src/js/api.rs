//! The functions exported to JavaScript. Each is a `Callback` wrapped by the
//! panic boundary; argument checking here, behaviour in `model` and `engine`.
//! The core owns no defaults: an engine's options arrive fully resolved from
//! src/native.ts (`required`); an absent optional field means "none".

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::env::{Args, Env, Value};
use super::registry::{self, Resource};
use super::value::{JsError, JsResult, JsVal};
use super::{convert, snapshot};
use crate::analysis::counter::{CounterFormat, CounterSpec};
use crate::analysis::rtp::{MAX_SDP_PAYLOADS, RtpClocks};
use crate::engine::{Engine, EngineState, receiver, sender};
use crate::model::catalog;
use crate::model::multipoint::{self as mp, MultipointSocket};
use crate::net::{clock, iface};
use crate::probe::{fuzz, wire};

fn handle(env: &Env, args: &Args, i: usize) -> JsResult<u32> {
    checked_handle(env.get_f64(args.get(i, "handle")?, "handle")?)
}

/// The one conversion of a JavaScript number to a handle: a whole number
/// 1..2^32-1 (so 1.5 never names socket 1).
fn checked_handle(n: f64) -> JsResult<u32> {
    if n.fract() != 0.0 || !(1.0..=u32::MAX as f64).contains(&n) {
        return Err(JsError::new("ERR_INVALID_HANDLE", format!("{n} is not a handle")));
    }
    Ok(n as u32)
}

/// Start an engine's thread and give JavaScript its handle. `what` names
/// the thread in the one error this can raise ("could not start the receive thread").
fn start_engine<S: EngineState + 'static>(
    thread: &str,
    what: &str,
    st: Arc<S>,
    body: impl FnOnce(Arc<S>, Arc<AtomicBool>) + Send + 'static,
) -> JsResult<JsVal> {
    let engine = Engine::spawn(thread, st, body).map_err(|e| JsError::new("ERR_THREAD", format!("could not start the {what} thread: {e}")))?;
    Ok(JsVal::Num(registry::insert(Resource::Engine(Arc::new(engine))) as f64))
}

/// A value TypeScript must pass: the core owns no defaults (see the top of src/native.ts).
fn required<T>(v: Option<T>, name: &str) -> JsResult<T> {
    v.ok_or_else(|| JsError::invalid_arg(format!("{name} is required")))
}

pub fn version(_: &Env, _: &Args) -> JsResult<JsVal> {
    Ok(JsVal::Str(env!("CARGO_PKG_VERSION").to_owned()))
}

pub fn constants(_: &Env, _: &Args) -> JsResult<JsVal> {
    Ok(JsVal::obj()
        .set("WSA_FLAG_MULTIPOINT_C_ROOT", mp::WSA_FLAG_MULTIPOINT_C_ROOT)
        .set("WSA_FLAG_MULTIPOINT_C_LEAF", mp::WSA_FLAG_MULTIPOINT_C_LEAF)
        .set("WSA_FLAG_MULTIPOINT_D_ROOT", mp::WSA_FLAG_MULTIPOINT_D_ROOT)
        .set("WSA_FLAG_MULTIPOINT_D_LEAF", mp::WSA_FLAG_MULTIPOINT_D_LEAF)
        .set("JL_SENDER_ONLY", mp::JL_SENDER_ONLY)
        .set("JL_RECEIVER_ONLY", mp::JL_RECEIVER_ONLY)
        .set("JL_BOTH", mp::JL_BOTH)
        .set("SIO_MULTIPOINT_LOOPBACK", mp::SIO_MULTIPOINT_LOOPBACK)
        .set("SIO_MULTICAST_SCOPE", mp::SIO_MULTICAST_SCOPE)
        .set("XP1_SUPPORT_MULTIPOINT", catalog::XP1_SUPPORT_MULTIPOINT)
        .set("XP1_MULTIPOINT_CONTROL_PLANE", catalog::XP1_MULTIPOINT_CONTROL_PLANE)
        .set("XP1_MULTIPOINT_DATA_PLANE", catalog::XP1_MULTIPOINT_DATA_PLANE)
        .set("PROBE_HEADER_LEN", wire::HEADER_LEN)
        .set("UDP_V4", catalog::UDP_V4)
        .set("UDP_V6", catalog::UDP_V6)
        .build())
}

pub fn catalog(_: &Env, _: &Args) -> JsResult<JsVal> {
    Ok(JsVal::Arr(catalog::detect().iter().map(convert::protocol).collect()))
}

pub fn interfaces(_: &Env, _: &Args) -> JsResult<JsVal> {
    Ok(JsVal::Arr(iface::list()?.iter().map(convert::interface).collect()))
}

pub fn socket_open(env: &Env, args: &Args) -> JsResult<JsVal> {
    let id = env.get_f64(args.get(0, "protocolId")?, "protocolId")? as u32;
    let flags = env.get_f64(args.get(1, "roleFlags")?, "roleFlags")? as u32;
    let s = MultipointSocket::open(id, flags)?;
    Ok(JsVal::Num(registry::insert(Resource::Socket(Arc::new(s))) as f64))
}

pub fn socket_join_leaf(env: &Env, args: &Args) -> JsResult<JsVal> {
    let s = registry::socket(handle(env, args, 0)?)?;
    let req = convert::join_request(env, args.get(1, "request")?)?;
    let session = s.join_leaf(&req)?;
    Ok(convert::session(&session))
}

pub fn socket_set_loopback(env: &Env, args: &Args) -> JsResult<JsVal> {
    let s = registry::socket(handle(env, args, 0)?)?;
    s.set_loopback(env.get_bool(args.get(1, "on")?, "on")?)?;
    Ok(JsVal::Undefined)
}

pub fn socket_set_scope(env: &Env, args: &Args) -> JsResult<JsVal> {
    let s = registry::socket(handle(env, args, 0)?)?;
    let v = env.get_f64(args.get(1, "scope")?, "scope")?;
    if v.fract() != 0.0 {
        return Err(JsError::new("E_SCOPE_RANGE", format!("Scope (TTL/hop limit) must be an integer 0-255; got {v}.")));
    }
    s.set_scope(v as i64)?;
    Ok(JsVal::Undefined)
}

pub fn socket_info(env: &Env, args: &Args) -> JsResult<JsVal> {
    let s = registry::socket(handle(env, args, 0)?)?;
    convert::socket_info(&s)
}

pub fn socket_leave(env: &Env, args: &Args) -> JsResult<JsVal> {
    let s = registry::socket(handle(env, args, 0)?)?;
    s.leave()?;
    Ok(JsVal::Undefined)
}

/// Close: drops our reference; the fd closes (and memberships go) once no engine uses it.
pub fn socket_close(env: &Env, args: &Args) -> JsResult<JsVal> {
    let h = handle(env, args, 0)?;
    // An engine's handle is refused and stays valid (it must still be stoppable).
    match registry::remove_socket(h)? {
        Some(s) => {
            if s.session().is_some_and(|ss| ss.mode.receives()) {
                let _ = s.leave();
            }
            Ok(JsVal::Bool(true))
        }
        None => Ok(JsVal::Bool(false)),
    }
}

/// `rtpClock` (any payload type) and `sdpClocks` (`[{ payloadType, clock }]`, from an SDP's a=rtpmap lines).
fn rtp_clocks(env: &Env, o: Value<'_>) -> JsResult<RtpClocks> {
    let mut clocks = RtpClocks { given: env.prop_u64(o, "rtpClock")?.map(|v| v.min(u64::from(u32::MAX)) as u32), ..Default::default() };
    let Some(list) = env.get_prop(o, "sdpClocks")? else { return Ok(clocks) };
    let entries = env.get_array(list, "sdpClocks")?;
    if entries.len() > MAX_SDP_PAYLOADS {
        return Err(JsError::invalid_arg(format!("sdpClocks: at most {MAX_SDP_PAYLOADS} payload types; got {}", entries.len())));
    }
    for (slot, e) in clocks.sdp.iter_mut().zip(entries) {
        let (Some(pt), Some(clock)) = (env.prop_u64(e, "payloadType")?, env.prop_u64(e, "clock")?) else {
            return Err(JsError::invalid_arg("sdpClocks entries need payloadType and clock"));
        };
        if pt > 127 || clock == 0 || clock > u64::from(u32::MAX) {
            return Err(JsError::invalid_arg(format!("sdpClocks: payload type 0-127 and a clock of 1 Hz or more; got {pt} at {clock} Hz")));
        }
        *slot = Some((pt as u8, clock as u32));
    }
    Ok(clocks)
}

/// `seqFormat` (`u32be`, `u32le`, `u64be`, `u64le`) and `seqOffset` (bytes): a counter the user placed.
fn counter_spec(env: &Env, o: Value<'_>) -> JsResult<Option<CounterSpec>> {
    let Some(name) = env.prop_string(o, "seqFormat")? else { return Ok(None) };
    let format = CounterFormat::parse(&name).ok_or_else(|| JsError::invalid_arg(format!("seqFormat must be u32be, u32le, u64be or u64le; got {name}")))?;
    let offset = env.prop_u64(o, "seqOffset")?.unwrap_or(0).min(65_535) as usize;
    Ok(Some(CounterSpec { format, offset }))
}

pub fn receiver_start(env: &Env, args: &Args) -> JsResult<JsVal> {
    let handles = env.get_array(args.get(0, "sockets")?, "sockets")?;
    let mut sockets = Vec::new();
    for h in handles {
        let n = checked_handle(env.get_f64(h, "socket handle")?)?;
        sockets.push(registry::socket(n)?);
    }
    if sockets.is_empty() {
        return Err(JsError::invalid_arg("receiverStart needs at least one joined socket"));
    }
    let mut joined = Vec::new();
    for s in &sockets {
        match s.session() {
            Some(ss) if ss.mode.receives() => joined.push(ss.joined_mono_ns),
            _ => return Err(JsError::new("E_NOT_JOINED", "every socket must have joined (JoinLeaf receiver-only or both) before receiving")),
        }
    }
    let o = args.get(1, "options")?;
    let cfg = receiver::ReceiveConfig {
        max_packets: env.prop_u64(o, "maxPackets")?,
        recv_buffer: env.prop_u64(o, "recvBuffer")?.map(|v| v.min(i32::MAX as u64) as i32),
        analysis: crate::analysis::AnalysisOptions {
            rtp_clocks: rtp_clocks(env, o)?,
            pcr_max_ns: env.prop_f64(o, "pcrMaxMs")?.filter(|v| v.is_finite() && *v > 0.0).map(|ms| (ms * 1e6) as u64),
            counter: counter_spec(env, o)?,
        },
        merge: env.prop_bool(o, "merge")?.unwrap_or(false),
    };
    let st = receiver::state(cfg, &sockets, &joined);
    start_engine("mcast-recv", "receive", st, move |st, stop| receiver::run(sockets, st, stop))
}

pub fn sender_start(env: &Env, args: &Args) -> JsResult<JsVal> {
    let sock = registry::socket(handle(env, args, 0)?)?;
    sock.sending_session()?;
    let o = args.get(1, "options")?;
    let rate = required(env.prop_f64(o, "rate")?, "rate")?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(JsError::invalid_arg(format!("rate must be a positive number; got {rate}")));
    }
    let size = required(env.prop_u64(o, "size")?, "size")? as usize;
    if !(wire::HEADER_LEN..=wire::MAX_PACKET_LEN).contains(&size) {
        return Err(JsError::new("E_SIZE_RANGE", format!("size must be {}-{}; got {size}", wire::HEADER_LEN, wire::MAX_PACKET_LEN)));
    }
    let cfg = sender::SendConfig {
        rate,
        size,
        count: env.prop_u64(o, "count")?,
        duration_ns: env.prop_f64(o, "durationMs")?.map(|ms| (ms * 1e6) as u64),
        session: clock::random_u64(),
        sender_id: required(env.prop_u64(o, "senderId")?, "senderId")? as u32,
        ttl: sock.scope()?,
        send_buffer: env.prop_u64(o, "sendBuffer")?.map(|v| v.min(i32::MAX as u64) as i32),
        retry: required(env.prop_bool(o, "retry")?, "retry")?,
        catch_up_bursts: required(env.prop_bool(o, "catchUpBursts")?, "catchUpBursts")?,
        gso: env.prop_bool(o, "gso")?.unwrap_or(false),
    };
    let st = sender::state(cfg);
    start_engine("mcast-send", "send", st, move |st, stop| sender::run(sock, st, stop))
}

pub fn engine_snapshot(env: &Env, args: &Args) -> JsResult<JsVal> {
    Ok(snapshot::to_js(&registry::engine(handle(env, args, 0)?)?.snapshot()))
}

/// Stop an engine, wait for its thread, and return the final snapshot.
pub fn engine_stop(env: &Env, args: &Args) -> JsResult<JsVal> {
    let h = handle(env, args, 0)?;
    let e = registry::engine(h)?;
    let snap = e.stop();
    registry::remove(h);
    Ok(snapshot::to_js(&snap))
}

pub fn probe_decode(env: &Env, args: &Args) -> JsResult<JsVal> {
    let bytes = env.get_bytes(args.get(0, "datagram")?, "datagram")?;
    Ok(match wire::decode(&bytes) {
        Ok(wire::Packet::Probe(p)) => JsVal::obj()
            .set("kind", "probe")
            .set("session", format!("{:016x}", p.session))
            .set("senderId", p.sender_id)
            .set("seq", JsVal::BigU64(p.seq))
            .set("ttl", p.ttl)
            .set("length", p.length)
            .set("sendTimeNs", JsVal::BigU64(p.send_time_ns))
            .build(),
        Ok(wire::Packet::Reply(r)) => JsVal::obj()
            .set("kind", "reply")
            .set("session", format!("{:016x}", r.session))
            .set("senderId", r.sender_id)
            .set("seq", JsVal::BigU64(r.seq))
            .set("recvTtl", r.recv_ttl.map(|t| JsVal::Num(t as f64)).unwrap_or(JsVal::Null))
            .set("length", r.length)
            .set("name", r.name)
            .set("echoMonoNs", JsVal::BigU64(r.echo_mono_ns))
            .set("report", r.report)
            .build(),
        Err(e) => JsVal::obj().set("kind", if e == wire::DecodeError::Foreign { "foreign" } else { "malformed" }).set("reason", e.as_str()).build(),
    })
}

pub fn probe_encode(env: &Env, args: &Args) -> JsResult<JsVal> {
    let o = args.get(0, "probe")?;
    let size = env.prop_u64(o, "size")?.unwrap_or(wire::HEADER_LEN as u64) as usize;
    let mut buf = vec![0u8; size];
    let p = wire::Probe {
        session: env.prop_u64(o, "session")?.unwrap_or(1),
        sender_id: env.prop_u64(o, "senderId")?.unwrap_or(1) as u32,
        seq: env.prop_u64(o, "seq")?.unwrap_or(0),
        ttl: env.prop_u64(o, "ttl")?.unwrap_or(1).min(255) as u8,
        clock: wire::Clock::Realtime,
        length: size.min(65535) as u16,
        send_time_ns: clock::realtime_ns(),
        send_mono_ns: clock::monotonic_ns(),
        pacing: None,
    };
    wire::encode_probe(&p, &mut buf).map_err(|e| JsError::invalid_arg(format!("{e:?}")))?;
    Ok(JsVal::Buf(buf))
}

pub fn fuzz_decode(env: &Env, args: &Args) -> JsResult<JsVal> {
    let n = env.get_f64(args.get(0, "iterations")?, "iterations")? as u64;
    let seed = env.get_f64(args.get(1, "seed")?, "seed")? as u64;
    let r = fuzz::fuzz_decode(n, seed);
    Ok(JsVal::obj()
        .set("total", r.total)
        .set("probes", r.probes)
        .set("replies", r.replies)
        .set("foreign", r.foreign)
        .set("malformed", r.malformed)
        .set("panics", r.panics)
        .build())
}

/// `responderStart(sockets, { name, allow?, perSourcePps, burst, globalPps, maxSources, ignoreSessions?, replyTtl })`
pub fn responder_start(env: &Env, args: &Args) -> JsResult<JsVal> {
    let mut sockets = Vec::new();
    for h in env.get_array(args.get(0, "sockets")?, "sockets")? {
        sockets.push(registry::socket(checked_handle(env.get_f64(h, "socket handle")?)?)?);
    }
    if sockets.iter().any(|s| !s.session().is_some_and(|ss| ss.mode.receives())) || sockets.is_empty() {
        return Err(JsError::new("E_NOT_JOINED", "every socket must have joined (JoinLeaf receiver-only or both) before responding"));
    }
    let o = args.get(1, "options")?;
    let mut allow = Vec::new();
    for a in env.prop_strings(o, "allow")? {
        allow.push(crate::engine::filter::Cidr::parse(&a).ok_or_else(|| JsError::invalid_arg(format!("'{a}' is not a CIDR prefix")))?);
    }
    let mut ignore = Vec::new();
    for s in env.prop_strings(o, "ignoreSessions")? {
        ignore.push(u64::from_str_radix(&s, 16).map_err(|_| JsError::invalid_arg(format!("session '{s}' is not hex")))?);
    }
    let cfg = crate::engine::responder::RespondConfig {
        name: required(env.prop_string(o, "name")?, "name")?,
        allow,
        per_source_pps: required(env.prop_f64(o, "perSourcePps")?, "perSourcePps")?,
        burst: required(env.prop_f64(o, "burst")?, "burst")?,
        global_pps: required(env.prop_f64(o, "globalPps")?, "globalPps")?,
        max_sources: required(env.prop_u64(o, "maxSources")?, "maxSources")?.max(1) as usize,
        ignore_sessions: ignore,
        reply_ttl: required(env.prop_u64(o, "replyTtl")?, "replyTtl")?.min(255) as i32,
    };
    let st = crate::engine::responder::state(cfg);
    start_engine("mcast-respond", "responder", st, move |st, stop| crate::engine::responder::run(sockets, st, stop))
}

/// `pingerStart(socket, { intervalMs, count?, size, waitMs, deadlineMs?, senderId, session })`
pub fn pinger_start(env: &Env, args: &Args) -> JsResult<JsVal> {
    let sock = registry::socket(handle(env, args, 0)?)?;
    sock.sending_session()?;
    let o = args.get(1, "options")?;
    let size = required(env.prop_u64(o, "size")?, "size")? as usize;
    if !(wire::HEADER_LEN..=wire::MAX_PACKET_LEN).contains(&size) {
        return Err(JsError::new("E_SIZE_RANGE", format!("size must be {}-{}; got {size}", wire::HEADER_LEN, wire::MAX_PACKET_LEN)));
    }
    let interval = required(env.prop_f64(o, "intervalMs")?, "intervalMs")?;
    if !(interval.is_finite() && interval > 0.0) {
        return Err(JsError::invalid_arg(format!("intervalMs must be positive; got {interval}")));
    }
    let session = required(env.prop_string(o, "session")?, "session")?;
    let session = u64::from_str_radix(&session, 16).map_err(|_| JsError::invalid_arg(format!("session '{session}' is not hex")))?;
    let cfg = crate::engine::pinger::PingConfig {
        interval_ns: (interval * 1e6) as u64,
        count: env.prop_u64(o, "count")?,
        size,
        wait_ns: (required(env.prop_f64(o, "waitMs")?, "waitMs")?.max(0.0) * 1e6) as u64,
        deadline_ns: env.prop_f64(o, "deadlineMs")?.map(|ms| (ms.max(0.0) * 1e6) as u64),
        session,
        sender_id: required(env.prop_u64(o, "senderId")?, "senderId")? as u32,
        ttl: sock.scope()?,
    };
    let st = crate::engine::pinger::state(cfg);
    start_engine("mcast-ping", "ping", st, move |st, stop| crate::engine::pinger::run(sock, st, stop))
}

pub fn random_session(_: &Env, _: &Args) -> JsResult<JsVal> {
    Ok(JsVal::Str(format!("{:016x}", clock::random_u64())))
}

/// `ssmpingServerStart({ port, ipv4, ipv6, ifindex, allow?, perSourcePps, burst, globalPps, maxSources })`:
/// opens the listening sockets (errors such as EADDRINUSE are thrown here)
/// and starts the ssmping server engine.
pub fn ssmping_server_start(env: &Env, args: &Args) -> JsResult<JsVal> {
    use crate::engine::ssmping_server as srv;
    let o = args.get(0, "options")?;
    let port = required(env.prop_u64(o, "port")?, "port")?;
    if !(1..=65535).contains(&port) {
        return Err(JsError::invalid_arg(format!("port must be 1-65535; got {port}")));
    }
    let (ipv4, ipv6) = (required(env.prop_bool(o, "ipv4")?, "ipv4")?, required(env.prop_bool(o, "ipv6")?, "ipv6")?);
    if !ipv4 && !ipv6 {
        return Err(JsError::invalid_arg("at least one of ipv4 and ipv6 must be served"));
    }
    let mut allow = Vec::new();
    for a in env.prop_strings(o, "allow")? {
        allow.push(crate::engine::filter::Cidr::parse(&a).ok_or_else(|| JsError::invalid_arg(format!("'{a}' is not a CIDR prefix")))?);
    }
    let cfg = srv::ServerConfig {
        port: port as u16,
        ipv4,
        ipv6,
        ifindex: required(env.prop_u64(o, "ifindex")?, "ifindex")?.min(u64::from(u32::MAX)) as u32,
        allow,
        per_source_pps: required(env.prop_f64(o, "perSourcePps")?, "perSourcePps")?,
        burst: required(env.prop_f64(o, "burst")?, "burst")?,
        global_pps: required(env.prop_f64(o, "globalPps")?, "globalPps")?,
        max_sources: required(env.prop_u64(o, "maxSources")?, "maxSources")?.max(1) as usize,
    };
    let (listeners, v6_note) = srv::open_listeners(&cfg)?;
    let st = srv::state(cfg, &listeners, v6_note);
    start_engine("mcast-ssmpingd", "ssmping server", st, move |st, stop| srv::run(listeners, st, stop))
}

/// `ssmpingClientStart({ socket, server, serverPort, mode: 'ssm'|'asm', intervalMs, count?, waitMs, deadlineMs?, clientId })`:
/// `socket` is a session joined with JoinLeaf `both` to the group the
/// requests name (SSM: source = server), bound to an ephemeral port.
pub fn ssmping_client_start(env: &Env, args: &Args) -> JsResult<JsVal> {
    use crate::engine::ssmping_client as cli;
    let o = args.get(0, "options")?;
    let h = env.prop_u64(o, "socket")?.ok_or_else(|| JsError::invalid_arg("socket (a joined session handle) is required"))?;
    let sock = registry::socket(checked_handle(h as f64)?)?;
    let session = sock.session().filter(|s| s.mode == mp::JoinMode::Both).ok_or_else(|| {
        JsError::new("E_NOT_JOINED", "the ssmping client needs a socket joined with JoinLeaf 'both' (it sends requests and receives both replies)")
    })?;
    let server = convert::parse_ip(&env.prop_string(o, "server")?.ok_or_else(|| JsError::invalid_arg("server is required"))?, "server")?;
    if server.is_ipv4() == session.group.is_ipv6() {
        return Err(JsError::new("E_FAMILY_MISMATCH", format!("server {server} and group {} are different address families", session.group)));
    }
    if server.is_multicast() || server.is_unspecified() {
        return Err(JsError::invalid_arg(format!("server {server} must be a unicast address")));
    }
    let mode = match required(env.prop_string(o, "mode")?, "mode")?.as_str() {
        "ssm" => cli::Mode::Ssm,
        "asm" => cli::Mode::Asm,
        other => return Err(JsError::invalid_arg(format!("mode must be 'ssm' or 'asm'; got '{other}'"))),
    };
    let port = required(env.prop_u64(o, "serverPort")?, "serverPort")?;
    if !(1..=65535).contains(&port) {
        return Err(JsError::invalid_arg(format!("serverPort must be 1-65535; got {port}")));
    }
    let scope = match server {
        std::net::IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => session.ifindex,
        _ => 0,
    };
    let server_addr = match server {
        std::net::IpAddr::V6(a) => std::net::SocketAddr::V6(std::net::SocketAddrV6::new(a, port as u16, 0, scope)),
        v4 => std::net::SocketAddr::new(v4, port as u16),
    };
    let interval = required(env.prop_f64(o, "intervalMs")?, "intervalMs")?;
    if !(interval.is_finite() && interval > 0.0) {
        return Err(JsError::invalid_arg(format!("intervalMs must be positive; got {interval}")));
    }
    let cfg = cli::ClientConfig {
        server: server_addr,
        group: session.group,
        mode,
        count: env.prop_u64(o, "count")?,
        interval_ns: (interval * 1e6) as u64,
        wait_ns: (required(env.prop_f64(o, "waitMs")?, "waitMs")?.max(0.0) * 1e6) as u64,
        deadline_ns: env.prop_f64(o, "deadlineMs")?.map(|ms| (ms.max(0.0) * 1e6) as u64),
        client_id: required(env.prop_u64(o, "clientId")?, "clientId")? as u32,
    };
    let st = cli::state(cfg);
    start_engine("mcast-ssmping", "ssmping client", st, move |st, stop| cli::run(sock, st, stop))
}

/// `querierStart({ ifindex, ipv4, ipv6 })`: the passive IGMP/MLD query
/// listener. Never fails for lack of privileges: the snapshot's `ipv4` /
/// `ipv6` say whether each family is heard and, if not, why (EPERM).
pub fn querier_start(env: &Env, args: &Args) -> JsResult<JsVal> {
    use crate::engine::querier as q;
    let o = args.get(0, "options")?;
    let cfg = q::QuerierConfig {
        ifindex: required(env.prop_u64(o, "ifindex")?, "ifindex")?.min(u64::from(u32::MAX)) as u32,
        ipv4: required(env.prop_bool(o, "ipv4")?, "ipv4")?,
        ipv6: required(env.prop_bool(o, "ipv6")?, "ipv6")?,
    };
    let st = q::state(cfg);
    let sockets = q::open(&st);
    start_engine("mcast-querier", "querier listener", st, move |st, stop| q::run(sockets, st, stop))
}

/// `bridgeQuerierState(ifindex)`: the querier a Linux bridge on this host
/// follows (rtnetlink IFLA_BR_MCAST_QUERIER_STATE), or null when the link is
/// not a bridge or the kernel does not say.
pub fn bridge_querier_state(env: &Env, args: &Args) -> JsResult<JsVal> {
    let ifindex = env.get_f64(args.get(0, "ifindex")?, "ifindex")?;
    if ifindex.fract() != 0.0 || !(1.0..=f64::from(u32::MAX)).contains(&ifindex) {
        return Err(JsError::invalid_arg(format!("ifindex must be a positive integer; got {ifindex}")));
    }
    let fam = |q: &crate::net::rtnl::BridgeQuerier| {
        JsVal::obj()
            .set("address", q.address.map(|a| JsVal::Str(a.to_string())).unwrap_or(JsVal::Null))
            .set("port", JsVal::opt_num(q.port))
            .set("otherTimerCs", q.other_timer_cs.map(|v| JsVal::Num(v as f64)).unwrap_or(JsVal::Null))
            .build()
    };
    Ok(match crate::net::rtnl::bridge_querier_state(ifindex as u32)? {
        Some(st) => JsVal::obj().set("ipv4", fam(&st.ipv4)).set("ipv6", fam(&st.ipv6)).build(),
        None => JsVal::Null,
    })
}
