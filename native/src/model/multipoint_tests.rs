//! The multipoint model's rules on real sockets: which roles a transport
//! allows and the errors for the others, JoinLeaf's modes and flags, and the
//! two controls (loopback, scope). No privileges; joins only on `lo`.

use std::net::{IpAddr, Ipv4Addr};

use super::multipoint::*;
use crate::net::iface;

const UDP4: u32 = 1001;
const LEAF: u32 = WSA_FLAG_MULTIPOINT_C_LEAF | WSA_FLAG_MULTIPOINT_D_LEAF;

fn code<T>(r: Result<T, super::error::CoreError>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code,
    }
}

#[test]
fn ip_multicast_sockets_are_leaves_only() {
    assert_eq!(code(MultipointSocket::open(UDP4, LEAF)), "ok");
    assert_eq!(code(MultipointSocket::open(UDP4, WSA_FLAG_MULTIPOINT_C_ROOT | WSA_FLAG_MULTIPOINT_D_LEAF)), "E_ROLE_UNSUPPORTED");
    assert_eq!(code(MultipointSocket::open(UDP4, WSA_FLAG_MULTIPOINT_C_LEAF | WSA_FLAG_MULTIPOINT_D_ROOT)), "E_ROLE_UNSUPPORTED");
    assert_eq!(code(MultipointSocket::open(UDP4, WSA_FLAG_MULTIPOINT_C_LEAF)), "E_ROLE_FLAGS", "no data role");
    assert_eq!(code(MultipointSocket::open(UDP4, LEAF | WSA_FLAG_MULTIPOINT_C_ROOT)), "E_ROLE_FLAGS", "two control roles");
    assert_eq!(code(MultipointSocket::open(9999, LEAF)), "E_NO_PROTOCOL");
    assert_eq!(code(MultipointSocket::open(1005, LEAF)), "E_NOT_DATAGRAM", "TCP is not multipoint");
}

#[test]
fn join_leaf_takes_exactly_one_mode() {
    assert_eq!(code(JoinMode::from_flags(JL_SENDER_ONLY)), "ok");
    assert_eq!(code(JoinMode::from_flags(JL_SENDER_ONLY | JL_RECEIVER_ONLY)), "E_JOIN_FLAGS");
    assert_eq!(code(JoinMode::from_flags(0)), "E_JOIN_FLAGS");
    assert!(!JoinMode::SenderOnly.receives() && JoinMode::Both.receives());
}

#[test]
fn a_receiver_on_lo_joins_leaves_and_cannot_join_twice() {
    let s = MultipointSocket::open(UDP4, LEAF).unwrap_or_else(|e| panic!("open: {e}"));
    let lo = iface::name_to_index("lo").unwrap_or_else(|e| panic!("lo: {e}"));
    let req = JoinRequest {
        group: IpAddr::V4(Ipv4Addr::new(239, 77, 1, 1)),
        port: 0,
        ifindex: lo,
        mode: JoinMode::ReceiverOnly,
        filter: FilterMode::Exclude,
        sources: vec![],
        local: None,
        local_port: 0,
    };
    let session = s.join_leaf(&req).unwrap_or_else(|e| panic!("join_leaf: {e}"));
    assert_eq!((session.group, session.ifindex, session.mode), (req.group, lo, JoinMode::ReceiverOnly));
    assert!(s.session().is_some());
    assert_ne!(code(s.join_leaf(&req)), "ok", "one session per socket");
    s.leave().unwrap_or_else(|e| panic!("leave: {e}"));
    assert!(s.session().is_none());
}

#[test]
fn loopback_and_scope_controls_round_trip() {
    let s = MultipointSocket::open(UDP4, LEAF).unwrap_or_else(|e| panic!("open: {e}"));
    for on in [false, true] {
        s.set_loopback(on).unwrap_or_else(|e| panic!("loopback: {e}"));
        assert_eq!(s.loopback().ok(), Some(on));
    }
    for scope in [0i64, 1, 16, 255] {
        s.set_scope(scope).unwrap_or_else(|e| panic!("scope {scope}: {e}"));
        assert_eq!(s.scope().ok().map(i64::from), Some(scope));
    }
    assert_ne!(code(s.set_scope(256)), "ok", "a scope is 0-255");
    assert_ne!(code(s.set_scope(-1)), "ok");
}

#[test]
fn only_a_receiving_socket_turns_on_kernel_receive_timestamps() {
    let lo = iface::name_to_index("lo").unwrap_or_else(|e| panic!("lo: {e}"));
    let request = |mode| JoinRequest {
        group: IpAddr::V4(Ipv4Addr::new(239, 77, 1, 2)),
        port: 0,
        ifindex: lo,
        mode,
        filter: FilterMode::Exclude,
        sources: vec![],
        local: None,
        local_port: 0,
    };
    for (mode, stamps) in [(JoinMode::SenderOnly, false), (JoinMode::ReceiverOnly, true), (JoinMode::Both, true)] {
        let s = MultipointSocket::open(UDP4, LEAF).unwrap_or_else(|e| panic!("open: {e}"));
        assert_eq!(s.socket.timestamp_ns().ok(), Some(false), "not at open");
        s.join_leaf(&request(mode)).unwrap_or_else(|e| panic!("join_leaf {mode:?}: {e}"));
        assert_eq!(s.socket.timestamp_ns().ok(), Some(stamps), "{mode:?}");
    }
}
