//! Multipoint sockets: roles fixed at creation (c_root/c_leaf, d_root/d_leaf),
//! JoinLeaf as the only membership primitive, and the two controls
//! (SIO_MULTIPOINT_LOOPBACK, SIO_MULTICAST_SCOPE), mapped onto Linux as
//! docs/multipoint-model.md describes ("Opening a socket" to "Loopback and scope controls").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Mutex;

use super::catalog::{self, ProtocolInfo};
use super::error::{CoreError, CoreResult};
use crate::net::socket::Socket;
use crate::sys::libc;

// WSASocket dwFlags.
pub const WSA_FLAG_MULTIPOINT_C_ROOT: u32 = 0x02;
pub const WSA_FLAG_MULTIPOINT_C_LEAF: u32 = 0x04;
pub const WSA_FLAG_MULTIPOINT_D_ROOT: u32 = 0x08;
pub const WSA_FLAG_MULTIPOINT_D_LEAF: u32 = 0x10;
// JoinLeaf dwFlags.
pub const JL_SENDER_ONLY: u32 = 0x01;
pub const JL_RECEIVER_ONLY: u32 = 0x02;
pub const JL_BOTH: u32 = 0x04;
// The two multipoint IOCTL codes, for reference and display.
pub const SIO_MULTIPOINT_LOOPBACK: u32 = 0x8800_0009;
pub const SIO_MULTICAST_SCOPE: u32 = 0x8800_000A;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlRole {
    Root,
    Leaf,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataRole {
    Root,
    Leaf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinMode {
    SenderOnly,
    ReceiverOnly,
    Both,
}

impl JoinMode {
    pub fn from_flags(flags: u32) -> CoreResult<JoinMode> {
        match flags {
            JL_SENDER_ONLY => Ok(JoinMode::SenderOnly),
            JL_RECEIVER_ONLY => Ok(JoinMode::ReceiverOnly),
            JL_BOTH => Ok(JoinMode::Both),
            _ => Err(CoreError::rule(
                "E_JOIN_FLAGS",
                format!("JoinLeaf needs exactly one of JL_SENDER_ONLY (1), JL_RECEIVER_ONLY (2), JL_BOTH (4); got {flags:#x}"),
            )),
        }
    }
    pub fn receives(self) -> bool {
        self != JoinMode::SenderOnly
    }
    pub fn as_str(self) -> &'static str {
        match self {
            JoinMode::SenderOnly => "sender-only",
            JoinMode::ReceiverOnly => "receiver-only",
            JoinMode::Both => "both",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterMode {
    /// Receive only from the listed sources (SSM / INCLUDE).
    Include,
    /// Receive from everyone except the listed sources (ASM / EXCLUDE).
    Exclude,
}

impl FilterMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterMode::Include => "include",
            FilterMode::Exclude => "exclude",
        }
    }
}

#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub group: IpAddr,
    pub port: u16,
    /// Interface index; the TypeScript layer always resolves one (0 = let routing decide).
    pub ifindex: u32,
    pub mode: JoinMode,
    pub filter: FilterMode,
    pub sources: Vec<IpAddr>,
    /// Local address for sends (sender-only: chooses the source address).
    pub local: Option<IpAddr>,
    /// Local port to bind a sender to (0 = ephemeral).
    pub local_port: u16,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub group: IpAddr,
    pub port: u16,
    pub ifindex: u32,
    pub mode: JoinMode,
    pub filter: FilterMode,
    pub sources: Vec<IpAddr>,
    /// CLOCK_MONOTONIC ns when the join completed: join latency is measured from here.
    pub joined_mono_ns: u64,
}

impl Session {
    pub fn destination(&self) -> SocketAddr {
        match self.group {
            IpAddr::V6(g) => SocketAddr::V6(SocketAddrV6::new(g, self.port, 0, if needs_scope_id(&g) { self.ifindex } else { 0 })),
            IpAddr::V4(_) => SocketAddr::new(self.group, self.port),
        }
    }
}

/// IPv6 interface- and link-local groups (ff01::/16, ff02::/16) need an interface.
pub fn needs_scope_id(g: &Ipv6Addr) -> bool {
    let scope = g.octets()[1] & 0x0f;
    g.octets()[0] == 0xff && (scope == 1 || scope == 2)
}

#[derive(Debug)]
pub struct MultipointSocket {
    pub protocol: ProtocolInfo,
    pub control: ControlRole,
    pub data: DataRole,
    pub socket: Socket,
    session: Mutex<Option<Session>>,
    bound: Mutex<bool>,
}

/// Validate the role flags against the entry exactly as the model says (docs/multipoint-model.md, "Roles and the admissibility rule").
pub fn validate_roles(p: &ProtocolInfo, flags: u32) -> CoreResult<(ControlRole, DataRole)> {
    if !p.is_multipoint() {
        return Err(CoreError::rule("E_NOT_DATAGRAM", format!("{} is not a multipoint protocol; use UDP.", p.name)));
    }
    let c_root = flags & WSA_FLAG_MULTIPOINT_C_ROOT != 0;
    let c_leaf = flags & WSA_FLAG_MULTIPOINT_C_LEAF != 0;
    let d_root = flags & WSA_FLAG_MULTIPOINT_D_ROOT != 0;
    let d_leaf = flags & WSA_FLAG_MULTIPOINT_D_LEAF != 0;
    if c_root == c_leaf || d_root == d_leaf {
        return Err(CoreError::rule("E_ROLE_FLAGS", "A multipoint socket needs exactly one control role (c_root|c_leaf) and one data role (d_root|d_leaf)."));
    }
    if c_root && !p.control_plane_rooted() {
        return Err(CoreError::rule(
            "E_ROLE_UNSUPPORTED",
            format!(
                "{} has a non-rooted control plane; only leaf sockets exist (c_root needs XP1_MULTIPOINT_CONTROL_PLANE). IP multicast members are all leaves.",
                p.name
            ),
        ));
    }
    if d_root && !p.data_plane_rooted() {
        return Err(CoreError::rule(
            "E_ROLE_UNSUPPORTED",
            format!(
                "{} has a non-rooted data plane; only leaf sockets exist (d_root needs XP1_MULTIPOINT_DATA_PLANE). IP multicast members are all leaves.",
                p.name
            ),
        ));
    }
    Ok((if c_root { ControlRole::Root } else { ControlRole::Leaf }, if d_root { DataRole::Root } else { DataRole::Leaf }))
}

impl MultipointSocket {
    /// OP-1: the WSPSocket equivalent for a catalog entry and role flags.
    pub fn open(protocol_id: u32, role_flags: u32) -> CoreResult<MultipointSocket> {
        let p = catalog::find(protocol_id)
            .ok_or_else(|| CoreError::rule("E_NO_PROTOCOL", format!("No protocol with id {protocol_id}; run 'mcast list-protocols'.")))?;
        let (control, data) = validate_roles(&p, role_flags)?;
        if !p.available {
            let reason = p.reason.clone().unwrap_or_default();
            let code = if p.family == libc::AF_INET6 { "E_IPV6_UNAVAILABLE" } else { "E_PROTOCOL_UNAVAILABLE" };
            return Err(CoreError::rule(code, format!("{} is not available here: {reason}", p.name)));
        }
        if p.socket_type != libc::SOCK_DGRAM {
            return Err(CoreError::rule("E_NOT_DATAGRAM", format!("{} sockets are catalogued but mcast drives only datagram sockets; use UDP.", p.name)));
        }
        let socket = Socket::new(p.family, p.socket_type, p.protocol)?;
        if socket.is_v6() {
            socket.set_only_v6(true)?;
        }
        // Per-socket session semantics: only the groups this socket joined.
        socket.restrict_to_joined_groups()?;
        if socket.is_v6() {
            socket.set_recv_pktinfo_v6(true)?;
            socket.set_recv_hoplimit_v6(true)?;
        } else {
            socket.set_pktinfo_v4(true)?;
            socket.set_recv_ttl_v4(true)?;
        }
        Ok(MultipointSocket { protocol: p, control, data, socket, session: Mutex::new(None), bound: Mutex::new(false) })
    }

    /// SO_TIMESTAMPNS: the kernel's receive time of each datagram, for a socket
    /// that receives (JoinLeaf's receiving modes, and a pinger's replies). Never
    /// at open: in Linux it is a host-wide switch (while any socket has it, the
    /// kernel reads the clock for every packet the host receives, a sender's own
    /// veth and loopback copies included, ~5% of `mcast send`'s packet rate), and
    /// turning it off again does not undo that until the socket closes.
    pub fn receive_timestamps(&self) -> CoreResult<()> {
        Ok(self.socket.set_timestamp_ns(true)?)
    }

    fn family_of(&self, ip: &IpAddr) -> bool {
        matches!((ip, self.socket.is_v6()), (IpAddr::V4(_), false) | (IpAddr::V6(_), true))
    }

    /// OP-2/OP-3: JoinLeaf. Receiver modes make a real membership (the kernel
    /// sends the IGMP/MLD report); sender-only makes none. On any failure the
    /// partial membership is undone before the error is returned.
    pub fn join_leaf(&self, req: &JoinRequest) -> CoreResult<Session> {
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        if session.is_some() {
            return Err(CoreError::rule("E_IN_SESSION", format!("This socket already belongs to a session; open another socket for {}.", req.group)));
        }
        if !self.family_of(&req.group) {
            return Err(CoreError::rule(
                "E_FAMILY_MISMATCH",
                format!("Group {} and the socket's protocol {} are different address families.", req.group, self.protocol.name),
            ));
        }
        if !req.group.is_multicast() {
            return Err(CoreError::rule(
                "E_NOT_MULTICAST",
                format!("{} is a unicast address. Multicast groups are 224.0.0.0/4 (IPv4) or ff00::/8 (IPv6).", req.group),
            ));
        }
        for s in &req.sources {
            if !self.family_of(s) {
                return Err(CoreError::rule("E_FAMILY_MISMATCH", format!("Group {} and source {} are different address families.", req.group, s)));
            }
            if s.is_multicast() || s.is_unspecified() {
                return Err(CoreError::rule("E_SOURCE_NOT_UNICAST", format!("Source {s} must be a unicast sender address.")));
            }
        }
        if let IpAddr::V6(g) = req.group
            && needs_scope_id(&g)
            && req.ifindex == 0
        {
            return Err(CoreError::rule("E_NEED_SCOPE_ID", format!("{g} is link-local or interface-local; say which interface with --interface.")));
        }
        let sock = &self.socket;
        let mut bound = self.bound.lock().unwrap_or_else(|e| e.into_inner());
        match req.mode {
            JoinMode::SenderOnly => {
                if req.ifindex != 0 || req.local.is_some() {
                    match (req.group, req.local) {
                        (IpAddr::V4(_), Some(IpAddr::V4(l))) => sock.set_multicast_if_addr_v4(l, req.ifindex)?,
                        (IpAddr::V4(_), _) => sock.set_multicast_if_v4(req.ifindex)?,
                        (IpAddr::V6(_), _) => sock.set_multicast_if_v6(req.ifindex)?,
                    }
                }
                if !*bound {
                    let any: IpAddr = match req.local {
                        Some(l) => l,
                        None if sock.is_v6() => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    };
                    sock.bind(&SocketAddr::new(any, req.local_port))?;
                    *bound = true;
                }
            }
            JoinMode::ReceiverOnly | JoinMode::Both => {
                self.receive_timestamps()?;
                if !*bound {
                    sock.set_reuse_address(true)?;
                    // Wildcard bind + IP(V6)_MULTICAST_ALL=0 + pktinfo: exact per-socket
                    // delivery, and `Both` sockets can still get unicast replies.
                    let any: SocketAddr = if sock.is_v6() {
                        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, req.port, 0, 0))
                    } else {
                        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), req.port)
                    };
                    sock.bind(&any)?;
                    *bound = true;
                }
                if req.mode == JoinMode::Both && req.ifindex != 0 {
                    if sock.is_v6() { sock.set_multicast_if_v6(req.ifindex)? } else { sock.set_multicast_if_v4(req.ifindex)? }
                }
                self.make_membership(req)?;
            }
        }
        let s = Session {
            group: req.group,
            port: req.port,
            ifindex: req.ifindex,
            mode: req.mode,
            filter: req.filter,
            sources: req.sources.clone(),
            joined_mono_ns: crate::net::clock::monotonic_ns(),
        };
        *session = Some(s.clone());
        Ok(s)
    }

    fn make_membership(&self, req: &JoinRequest) -> CoreResult<()> {
        let sock = &self.socket;
        let result = (|| -> CoreResult<()> {
            match (req.filter, req.sources.is_empty()) {
                (_, true) => sock.join_group(req.group, req.ifindex)?,
                (FilterMode::Include, false) => {
                    for s in &req.sources {
                        sock.join_source_group(req.group, *s, req.ifindex)?;
                    }
                }
                (FilterMode::Exclude, false) => {
                    sock.join_group(req.group, req.ifindex)?;
                    for s in &req.sources {
                        sock.block_source(req.group, *s, req.ifindex)?;
                    }
                }
            }
            Ok(())
        })();
        if result.is_err() {
            // Nothing half-joined stays behind: drop whatever part succeeded.
            for s in &req.sources {
                let _ = sock.leave_source_group(req.group, *s, req.ifindex);
            }
            let _ = sock.leave_group(req.group, req.ifindex);
        }
        result
    }

    /// OP-4: leave the session (the socket stays open and may join again).
    pub fn leave(&self) -> CoreResult<()> {
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = session.take() else {
            return Err(CoreError::rule("E_NOT_JOINED", "This socket is not in a session; nothing to leave."));
        };
        if s.mode.receives() {
            if s.filter == FilterMode::Include && !s.sources.is_empty() {
                for src in &s.sources {
                    self.socket.leave_source_group(s.group, *src, s.ifindex)?;
                }
            } else {
                self.socket.leave_group(s.group, s.ifindex)?;
            }
        }
        Ok(())
    }

    /// OP-6: SIO_MULTIPOINT_LOOPBACK. On Linux a sender-side setting: whether
    /// what this socket sends is delivered to members on this host.
    pub fn set_loopback(&self, on: bool) -> CoreResult<()> {
        if self.socket.is_v6() {
            self.socket.set_multicast_loop_v6(on)?
        } else {
            self.socket.set_multicast_loop_v4(on)?
        }
        Ok(())
    }

    pub fn loopback(&self) -> CoreResult<bool> {
        Ok(if self.socket.is_v6() { self.socket.multicast_loop_v6()? } else { self.socket.multicast_loop_v4()? })
    }

    /// OP-5: SIO_MULTICAST_SCOPE = IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS.
    pub fn set_scope(&self, scope: i64) -> CoreResult<()> {
        if !(0..=255).contains(&scope) {
            return Err(CoreError::rule("E_SCOPE_RANGE", format!("Scope (TTL/hop limit) must be 0-255; got {scope}.")));
        }
        let s = scope as u8;
        if self.socket.is_v6() {
            self.socket.set_multicast_hops_v6(s)?
        } else {
            self.socket.set_multicast_ttl_v4(s)?
        }
        Ok(())
    }

    pub fn scope(&self) -> CoreResult<u8> {
        let v = if self.socket.is_v6() { self.socket.multicast_hops_v6()? } else { self.socket.multicast_ttl_v4()? };
        Ok(v.clamp(0, 255) as u8)
    }

    /// The session to send into; refused on a receiver-only socket (the
    /// model's WSAESHUTDOWN) and before any JoinLeaf.
    pub fn sending_session(&self) -> CoreResult<Session> {
        match self.session() {
            None => Err(CoreError::rule("E_NOT_JOINED", "This socket has not joined a session; JoinLeaf (sender-only or both) comes first.")),
            Some(s) if s.mode == JoinMode::ReceiverOnly => {
                Err(CoreError::rule("E_SEND_ON_RECEIVER", format!("This socket joined {} as receiver only; it cannot send.", s.group)))
            }
            Some(s) => Ok(s),
        }
    }

    pub fn session(&self) -> Option<Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
