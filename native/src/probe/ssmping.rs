//! ssmping / asmping interoperability: the wire codec of the protocol spoken
//! by Debian's `ssmping` package (ssmpingd, ssmping, asmping; version 0.9.1 by
//! Stig Venaas), which RFC 6450 "Multicast Ping Protocol" (the last revision
//! of draft-ietf-mboned-ssmping, -09) later standardised with a few changes.
//!
//! This file is the executable form of `docs/ssmping.md`; keep the two in
//! step. Every byte rule here was checked against datagrams captured from the
//! real Debian programs (see the tests and `test/fixtures/ssmping/*.hex`).
//!
//! A message is one type octet followed by TLV options, all big-endian:
//!
//! ```text
//!  0        1        2        3        4
//! +--------+--------+--------+--------+--------+-------------------+----
//! |  type  |    option type  |  option length  |  value (length)   | ...
//! +--------+--------+--------+--------+--------+-------------------+----
//! ```
//!
//! `'Q'` is a request (client to server, unicast to UDP port 4321), `'A'` a
//! reply. ssmpingd builds the reply by copying the request and flipping the
//! type octet, then optionally appends a server-version TLV and zero padding;
//! the same bytes go once by unicast back to the client and once to the
//! multicast group, at the client's source port, both with TTL/hop limit 64.
//!
//! The decoder reads untrusted datagrams, so it is total: no `unsafe`, no
//! indexing, no arithmetic that can overflow, no allocation; every read goes
//! through `get`/`split_first`/`split_at_checked`, and values are borrowed
//! slices of the datagram. The encoders write through `get_mut` and report a
//! short buffer as an error instead of panicking.
//!
//! Amplification: ssmpingd's reply can be far larger than the request (a
//! 7-byte request carrying REPLYSIZE 65000 makes it send two 65000-byte
//! datagrams). mcast's responder must use [`ReplyPolicy::MCAST`], under which
//! [`encode_reply`] never produces more bytes than the request it answers.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::arithmetic_side_effects))]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Group ssmpingd sends IPv4 multicast replies to when the request names none.
pub const SSM_GROUP_V4: Ipv4Addr = Ipv4Addr::new(232, 43, 211, 234);
/// Group ssmpingd sends IPv6 multicast replies to when the request names none.
pub const SSM_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff3e, 0, 0, 0, 0, 0, 0x4321, 0x1234);
/// ssmpingd only sends to an IPv4 group whose last octet is this (and asmping
/// forces it onto the group the user gives).
pub const GROUP_V4_LAST_OCTET: u8 = 234;
/// ssmpingd only sends to an IPv6 group whose last 32 bits are these (group ID
/// 0x43211234; asmping forces it onto the group the user gives).
pub const GROUP_V6_GROUP_ID: [u8; 4] = [0x43, 0x21, 0x12, 0x34];
/// TTL / hop limit ssmpingd sets on both replies (unicast and multicast). A
/// client's hop count is this minus the TTL the reply arrives with.
pub const SERVER_HOPS: u8 = 64;

/// Message type of a request, `'Q'` (0x51).
pub const TYPE_REQUEST: u8 = b'Q';
/// Message type of a reply, `'A'` (0x41).
pub const TYPE_REPLY: u8 = b'A';
/// RFC 6450 Init message `'I'` (session set-up, used by omping). Debian's
/// programs never send it and ssmpingd ignores it; [`decode`] rejects it.
pub const TYPE_RFC_INIT: u8 = b'I';
/// RFC 6450 Server Response `'S'` (answer to Init). Not spoken by Debian.
pub const TYPE_RFC_SERVER_RESPONSE: u8 = b'S';

/// Bytes of a TLV header: 16-bit type then 16-bit length of the value.
pub const TLV_HEADER_LEN: usize = 4;
/// Address family octet of the Debian group TLV (IANA address family 1).
pub const FAMILY_IPV4: u8 = 1;
/// Address family octet of the Debian group TLV (IANA address family 2).
pub const FAMILY_IPV6: u8 = 2;

/// Server version string Debian's ssmpingd 0.9.1 puts in its VERSION TLV.
pub const DEBIAN_SERVER_VERSION: &[u8] = b"0.9.1 (20080418) [asm][size]";
/// Debian's ssmping/asmping read replies into a 1024-byte buffer: anything
/// longer is truncated on their side (and reported as a size mismatch).
pub const DEBIAN_CLIENT_RECV_BUF: usize = 1024;
/// Longest request a Debian client ever sends: an IPv6 request with `-v` and
/// `-s` (1 + PID 8 + SEQ 8 + TIMESTAMP 12 + RQVER 4 + REPLYSIZE 6 + GROUP 21).
pub const DEBIAN_MAX_REQUEST_LEN: usize = 60;
/// Requests longer than this are better dropped by a responder: no real client
/// sends them, and dbeacon and FRR's ssmpingd read into 1000-byte buffers.
pub const RECOMMENDED_MAX_REQUEST_LEN: usize = 1000;
/// Largest datagram the codec produces (ssmpingd's output buffer, and the
/// 16-bit REPLYSIZE). Over IPv4 only 65507 bytes fit in one UDP datagram.
pub const MAX_MESSAGE_LEN: usize = 65_535;

/// TLV option types. Debian 0.9.1 uses 1..=8 (names from its `ssmping.h`);
/// RFC 6450 renamed some and added 0 and 9..=12, which no Debian program
/// sends or interprets (ssmpingd echoes them like any other bytes).
pub mod opt {
    /// RFC 6450 "Version" (1 octet, protocol version). Not used by Debian.
    pub const RFC_VERSION: u16 = 0;
    /// Debian `SSMPING_PID`: the client's process ID, 4 octets. RFC 6450
    /// calls it "Client ID" (opaque, any length).
    pub const PID: u16 = 1;
    /// `SSMPING_SEQ`: sequence number, 4 octets; Debian clients start at 1.
    pub const SEQ: u16 = 2;
    /// `SSMPING_TIMESTAMP`: client send time, 8 octets: seconds then
    /// microseconds since the Unix epoch, each 32 bits. RFC: "Client Timestamp".
    pub const TIMESTAMP: u16 = 3;
    /// `SSMPING_GROUP`: the group to multicast the reply to. Debian: a 1-octet
    /// family (1 = IPv4, 2 = IPv6) then the address (length 5 or 17). RFC
    /// 6450: a 2-octet family (length 6 or 18), which ssmpingd cannot parse.
    pub const GROUP: u16 = 4;
    /// `SSMPING_RQVER`: "send me your version", length 0. RFC 6450 reused the
    /// number for the "Option Request Option" (a list of 16-bit types);
    /// ssmpingd treats any type-5 TLV as a version request.
    pub const RQVER: u16 = 5;
    /// `SSMPING_VER`: the server's version string, appended by the server.
    /// RFC 6450: "Server Information".
    pub const VER: u16 = 6;
    /// `SSMPING_REPLYSIZE`: the reply size the client wants, 2 octets. RFC 6450
    /// leaves 7 reserved.
    pub const REPLYSIZE: u16 = 7;
    /// `SSMPING_PAD`: zero padding the server adds to reach REPLYSIZE. RFC 6450
    /// leaves 8 reserved.
    pub const PAD: u16 = 8;
    /// RFC 6450 "TTL": the TTL the server sent with. Not used by Debian.
    pub const RFC_TTL: u16 = 9;
    /// RFC 6450 "Multicast Prefix". Not used by Debian.
    pub const RFC_MULTICAST_PREFIX: u16 = 10;
    /// RFC 6450 "Session ID". Not used by Debian.
    pub const RFC_SESSION_ID: u16 = 11;
    /// RFC 6450 "Server Timestamp". Not used by Debian.
    pub const RFC_SERVER_TIMESTAMP: u16 = 12;
}

/// Request or reply: the first octet of the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `'Q'`, client to server.
    Request,
    /// `'A'`, server to client (unicast and multicast copies are identical).
    Reply,
}

impl Kind {
    pub const fn to_wire(self) -> u8 {
        match self {
            Kind::Request => TYPE_REQUEST,
            Kind::Reply => TYPE_REPLY,
        }
    }
}

/// Address family of the socket a request arrived on or a reply goes out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// The TIMESTAMP option: a `struct timeval` cut to two 32-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamp {
    /// Seconds since the Unix epoch (wraps in 2106).
    pub secs: u32,
    /// Microseconds, 0..1_000_000 from a sane sender (not checked).
    pub micros: u32,
}

impl Timestamp {
    /// From microseconds since the Unix epoch (seconds truncated to 32 bits,
    /// as the Debian client does with `tv_sec`).
    pub const fn from_unix_micros(micros: u64) -> Timestamp {
        let secs = micros.checked_div(1_000_000);
        let frac = micros.checked_rem(1_000_000);
        match (secs, frac) {
            (Some(s), Some(f)) => Timestamp { secs: s as u32, micros: f as u32 },
            _ => Timestamp { secs: 0, micros: 0 }, // unreachable: the divisor is not 0
        }
    }

    /// Round-trip time from this (echoed) send time to `received`, in
    /// microseconds; `None` when `received` is earlier. The Debian client
    /// computes exactly this (kernel SO_TIMESTAMP receive time minus the
    /// echoed timestamp) but clamps a negative result to 0.
    pub fn micros_until(self, received: Timestamp) -> Option<u64> {
        // |secs| < 2^32 and |micros| < 2^32: none of this can overflow an i64.
        let secs = i64::from(received.secs).checked_sub(i64::from(self.secs))?;
        let micros = i64::from(received.micros).checked_sub(i64::from(self.micros))?;
        let total = secs.checked_mul(1_000_000)?.checked_add(micros)?;
        u64::try_from(total).ok()
    }

    fn to_bytes(self) -> [u8; 8] {
        let [s0, s1, s2, s3] = self.secs.to_be_bytes();
        let [u0, u1, u2, u3] = self.micros.to_be_bytes();
        [s0, s1, s2, s3, u0, u1, u2, u3]
    }
}

/// How a GROUP option spelled its address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupEncoding {
    /// Debian ssmping 0.9.1: one family octet (length 5 or 17).
    Ssmping,
    /// RFC 6450: two family octets (length 6 or 18). ssmpingd 0.9.1 cannot
    /// parse this and falls back to its default group.
    Rfc6450,
}

/// A decoded GROUP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupOption {
    pub addr: IpAddr,
    pub encoding: GroupEncoding,
}

/// One TLV, borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tlv<'a> {
    /// Option type (see [`opt`]).
    pub kind: u16,
    /// The value, `length` bytes.
    pub value: &'a [u8],
    /// Offset of the TLV header in the datagram (the type octet is offset 0).
    pub offset: usize,
}

/// Walks the TLVs of a datagram body. Yields `Err` once on the first
/// malformed TLV and then stops.
#[derive(Debug, Clone)]
pub struct Tlvs<'a> {
    rest: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Tlvs<'a> {
    /// TLVs of `body`, which starts at `offset` in the datagram (1 for a
    /// whole message's body).
    pub fn new(body: &'a [u8], offset: usize) -> Tlvs<'a> {
        Tlvs { rest: body, offset, failed: false }
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Result<Tlv<'a>, SsmpingError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let offset = self.offset;
        let Some((header, after)) = self.rest.split_first_chunk::<TLV_HEADER_LEN>() else {
            self.failed = true;
            return Some(Err(SsmpingError::TrailingBytes { offset, len: self.rest.len() }));
        };
        let [t0, t1, l0, l1] = *header;
        let kind = u16::from_be_bytes([t0, t1]);
        let declared = u16::from_be_bytes([l0, l1]);
        let Some((value, rest)) = after.split_at_checked(usize::from(declared)) else {
            self.failed = true;
            return Some(Err(SsmpingError::TruncatedTlv { offset, kind, declared, available: after.len() }));
        };
        self.rest = rest;
        self.offset = offset.saturating_add(TLV_HEADER_LEN).saturating_add(value.len());
        Some(Ok(Tlv { kind, value, offset }))
    }
}

impl std::iter::FusedIterator for Tlvs<'_> {}

/// A well-formed ssmping message, every value borrowed from the datagram.
///
/// Fields are `None`/`false` when the option is absent: [`decode`] checks the
/// structure and the lengths of known options, not which options are present
/// (ssmpingd answers even a bare `"Q"`). Unknown option types are allowed
/// and kept; walk them with [`SsmpingMessage::tlvs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsmpingMessage<'a> {
    pub kind: Kind,
    /// The whole datagram, type octet included.
    pub datagram: &'a [u8],
    /// Value of the PID / Client ID option (4 bytes from Debian clients).
    pub client_id: Option<&'a [u8]>,
    pub seq: Option<u32>,
    pub timestamp: Option<Timestamp>,
    pub group: Option<GroupOption>,
    /// A type-5 option (RQVER / RFC Option Request) is present.
    pub version_requested: bool,
    /// REPLYSIZE: the total datagram size the client asked for.
    pub reply_size: Option<u16>,
    /// VER / Server Information string (replies from a server asked with -v).
    pub server_version: Option<&'a [u8]>,
    /// Length of the PAD option's value, if present.
    pub pad_len: Option<usize>,
}

impl<'a> SsmpingMessage<'a> {
    /// Datagram length in bytes.
    pub fn len(&self) -> usize {
        self.datagram.len()
    }

    /// Never true: a message has at least its type octet.
    pub fn is_empty(&self) -> bool {
        self.datagram.is_empty()
    }

    /// The options, after the type octet.
    pub fn body(&self) -> &'a [u8] {
        self.datagram.get(1..).unwrap_or_default()
    }

    /// Every TLV in order, unknown ones included. Decoding already validated
    /// the structure, so this yields only `Ok` items for a decoded message.
    pub fn tlvs(&self) -> Tlvs<'a> {
        Tlvs::new(self.body(), 1)
    }

    /// The Debian client's PID: the Client ID when it is exactly 4 bytes.
    pub fn pid(&self) -> Option<u32> {
        let bytes: [u8; 4] = self.client_id?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }

    /// True for a reply carrying this 4-byte client ID (Debian clients match
    /// replies on the PID option alone; see docs/ssmping.md for why mcast
    /// also checks the source address and the socket it arrived on).
    pub fn is_reply_to(&self, client_id: u32) -> bool {
        self.kind == Kind::Reply && self.pid() == Some(client_id)
    }
}

/// Why a datagram was not a well-formed ssmping message, or an encoder failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SsmpingError {
    /// Zero-length datagram.
    Empty,
    /// First octet is neither `'Q'` nor `'A'` (ssmpingd ignores such datagrams).
    UnknownType(u8),
    /// 1..=3 bytes left where a TLV header (4 bytes) should start.
    TrailingBytes { offset: usize, len: usize },
    /// A TLV's length runs past the end of the datagram.
    TruncatedTlv { offset: usize, kind: u16, declared: u16, available: usize },
    /// A known option with a length its definition does not allow.
    BadLength { offset: usize, kind: u16, len: usize },
    /// A GROUP option whose family octet(s) are neither IPv4 nor IPv6 in
    /// either encoding, or whose length does not match its family.
    BadGroup { offset: usize, len: usize },
    /// A known option that appears twice.
    DuplicateOption { offset: usize, kind: u16 },
    /// [`encode_reply`] was given something other than a request.
    NotARequest,
    /// The output buffer cannot hold the message.
    BufferTooSmall { needed: usize, available: usize },
    /// The request is longer than [`MAX_MESSAGE_LEN`] (cannot happen for a
    /// datagram read from a socket).
    TooLong { len: usize },
    /// A server version string longer than a TLV can carry.
    VersionTooLong { len: usize },
}

impl fmt::Display for SsmpingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SsmpingError::Empty => write!(f, "empty datagram"),
            SsmpingError::UnknownType(t) => write!(f, "unknown ssmping message type 0x{t:02x}"),
            SsmpingError::TrailingBytes { offset, len } => {
                write!(f, "{len} trailing byte(s) at offset {offset}, too short for a TLV header")
            }
            SsmpingError::TruncatedTlv { offset, kind, declared, available } => {
                write!(f, "option {kind} at offset {offset} declares {declared} byte(s) but only {available} remain")
            }
            SsmpingError::BadLength { offset, kind, len } => {
                write!(f, "option {kind} at offset {offset} has invalid length {len}")
            }
            SsmpingError::BadGroup { offset, len } => {
                write!(f, "group option at offset {offset} (length {len}) is neither IPv4 nor IPv6")
            }
            SsmpingError::DuplicateOption { offset, kind } => {
                write!(f, "option {kind} repeated at offset {offset}")
            }
            SsmpingError::NotARequest => write!(f, "only a request can be answered"),
            SsmpingError::BufferTooSmall { needed, available } => {
                write!(f, "output buffer of {available} byte(s) is too small, {needed} needed")
            }
            SsmpingError::TooLong { len } => write!(f, "message of {len} bytes exceeds {MAX_MESSAGE_LEN}"),
            SsmpingError::VersionTooLong { len } => write!(f, "version string of {len} bytes does not fit a TLV"),
        }
    }
}

impl std::error::Error for SsmpingError {}

/// Decodes one datagram. Strict: the options must tile the body exactly, the
/// known options must have their defined lengths, and none may repeat. This is
/// stricter than ssmpingd, which answers any datagram starting with `'Q'`
/// (see docs/ssmping.md, "Malformed input"); a responder drops what this
/// rejects.
pub fn decode(buf: &[u8]) -> Result<SsmpingMessage<'_>, SsmpingError> {
    let (&type_octet, body) = buf.split_first().ok_or(SsmpingError::Empty)?;
    let kind = match type_octet {
        TYPE_REQUEST => Kind::Request,
        TYPE_REPLY => Kind::Reply,
        other => return Err(SsmpingError::UnknownType(other)),
    };
    let mut msg = SsmpingMessage {
        kind,
        datagram: buf,
        client_id: None,
        seq: None,
        timestamp: None,
        group: None,
        version_requested: false,
        reply_size: None,
        server_version: None,
        pad_len: None,
    };
    let mut seen_rqver = false;
    for tlv in Tlvs::new(body, 1) {
        let tlv = tlv?;
        let bad_len = SsmpingError::BadLength { offset: tlv.offset, kind: tlv.kind, len: tlv.value.len() };
        let duplicate = SsmpingError::DuplicateOption { offset: tlv.offset, kind: tlv.kind };
        match tlv.kind {
            opt::PID => {
                if tlv.value.is_empty() {
                    return Err(bad_len);
                }
                set_once(&mut msg.client_id, tlv.value, duplicate)?;
            }
            opt::SEQ => {
                let bytes: [u8; 4] = tlv.value.try_into().map_err(|_| bad_len)?;
                set_once(&mut msg.seq, u32::from_be_bytes(bytes), duplicate)?;
            }
            opt::TIMESTAMP => {
                let bytes: [u8; 8] = tlv.value.try_into().map_err(|_| bad_len)?;
                let [s0, s1, s2, s3, u0, u1, u2, u3] = bytes;
                let ts = Timestamp { secs: u32::from_be_bytes([s0, s1, s2, s3]), micros: u32::from_be_bytes([u0, u1, u2, u3]) };
                set_once(&mut msg.timestamp, ts, duplicate)?;
            }
            opt::GROUP => {
                let group = parse_group(tlv.value).ok_or(SsmpingError::BadGroup { offset: tlv.offset, len: tlv.value.len() })?;
                set_once(&mut msg.group, group, duplicate)?;
            }
            opt::RQVER => {
                if seen_rqver {
                    return Err(duplicate);
                }
                seen_rqver = true;
                msg.version_requested = true;
            }
            opt::VER => {
                if tlv.value.is_empty() {
                    return Err(bad_len);
                }
                set_once(&mut msg.server_version, tlv.value, duplicate)?;
            }
            opt::REPLYSIZE => {
                let bytes: [u8; 2] = tlv.value.try_into().map_err(|_| bad_len)?;
                set_once(&mut msg.reply_size, u16::from_be_bytes(bytes), duplicate)?;
            }
            opt::PAD => set_once(&mut msg.pad_len, tlv.value.len(), duplicate)?,
            _ => {}
        }
    }
    Ok(msg)
}

fn set_once<T>(slot: &mut Option<T>, value: T, duplicate: SsmpingError) -> Result<(), SsmpingError> {
    if slot.is_some() {
        return Err(duplicate);
    }
    *slot = Some(value);
    Ok(())
}

fn parse_group(value: &[u8]) -> Option<GroupOption> {
    let (addr, encoding) = match value.len() {
        5 | 17 => {
            let (&family, addr) = value.split_first()?;
            (ip_from(family, addr)?, GroupEncoding::Ssmping)
        }
        6 | 18 => {
            let (family, addr) = value.split_first_chunk::<2>()?;
            let family = u16::from_be_bytes(*family);
            (ip_from(u8::try_from(family).ok()?, addr)?, GroupEncoding::Rfc6450)
        }
        _ => return None,
    };
    Some(GroupOption { addr, encoding })
}

fn ip_from(family: u8, addr: &[u8]) -> Option<IpAddr> {
    match family {
        FAMILY_IPV4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(addr).ok()?))),
        FAMILY_IPV6 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(addr).ok()?))),
        _ => None,
    }
}

/// What a client puts in a request. Field order on the wire is Debian's:
/// PID, SEQ, TIMESTAMP, [RQVER], [REPLYSIZE], [GROUP].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestParams {
    /// Debian sends `getpid()`; mcast should send a random 32-bit ID (PIDs
    /// collide across containers) and keep it for the whole run.
    pub client_id: u32,
    /// Debian starts at 1 and adds 1 per request (one per second).
    pub seq: u32,
    /// Send time; the server echoes it and the client computes RTT from it.
    pub timestamp: Timestamp,
    /// Add RQVER (`ssmping -v`): ssmpingd then appends its version string.
    pub request_version: bool,
    /// Add REPLYSIZE (`ssmping -s N`). ssmpingd pads replies up to N; mcast's
    /// responder ignores it (replies are never larger than the request).
    pub reply_size: Option<u16>,
    /// Add GROUP, in Debian's 1-octet-family encoding. Debian's ssmping
    /// always sends the SSM group; asmping sends its forced ASM group.
    pub group: Option<IpAddr>,
}

/// Exact length [`encode_request_into`] writes for these parameters.
pub fn encoded_request_len(params: &RequestParams) -> usize {
    /// Type octet, PID, SEQ and TIMESTAMP.
    const FIXED: usize = 29;
    let rqver = if params.request_version { TLV_HEADER_LEN } else { 0 };
    let size = if params.reply_size.is_some() { 6 } else { 0 };
    let group = match params.group {
        Some(IpAddr::V4(_)) => 9,
        Some(IpAddr::V6(_)) => 21,
        None => 0,
    };
    FIXED.saturating_add(rqver).saturating_add(size).saturating_add(group)
}

/// Writes a request into `out`; returns its length (at most
/// [`DEBIAN_MAX_REQUEST_LEN`]).
pub fn encode_request_into(params: &RequestParams, out: &mut [u8]) -> Result<usize, SsmpingError> {
    let needed = encoded_request_len(params);
    if out.len() < needed {
        return Err(SsmpingError::BufferTooSmall { needed, available: out.len() });
    }
    let mut w = Writer { out, pos: 0 };
    w.put(&[TYPE_REQUEST])?;
    w.tlv(opt::PID, &params.client_id.to_be_bytes())?;
    w.tlv(opt::SEQ, &params.seq.to_be_bytes())?;
    w.tlv(opt::TIMESTAMP, &params.timestamp.to_bytes())?;
    if params.request_version {
        w.tlv(opt::RQVER, &[])?;
    }
    if let Some(size) = params.reply_size {
        w.tlv(opt::REPLYSIZE, &size.to_be_bytes())?;
    }
    match params.group {
        Some(IpAddr::V4(a)) => {
            w.header(opt::GROUP, 5)?;
            w.put(&[FAMILY_IPV4])?;
            w.put(&a.octets())?;
        }
        Some(IpAddr::V6(a)) => {
            w.header(opt::GROUP, 17)?;
            w.put(&[FAMILY_IPV6])?;
            w.put(&a.octets())?;
        }
        None => {}
    }
    Ok(w.pos)
}

/// Allocating form of [`encode_request_into`].
pub fn encode_request(params: &RequestParams) -> Vec<u8> {
    let mut out = vec![0u8; encoded_request_len(params)];
    // The buffer has exactly the needed length, so this cannot fail.
    let len = encode_request_into(params, &mut out).unwrap_or(0);
    out.truncate(len);
    out
}

/// How a responder builds replies. `Default` is [`ReplyPolicy::MCAST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReplyPolicy<'a> {
    /// Version string appended as a VER option when the request has RQVER
    /// (before its GROUP option, as ssmpingd only looks that far) and it fits.
    pub server_version: Option<&'a [u8]>,
    /// How many bytes a reply may exceed its request by. 0 (mcast) means a
    /// reply is never larger than its request, so neither the version string
    /// nor any padding is ever added: the reply is the request with its type
    /// octet flipped. ssmpingd behaves as if this were 65535.
    pub max_growth: usize,
}

impl ReplyPolicy<'static> {
    /// mcast's responder: exact echo, never larger than the request.
    pub const MCAST: ReplyPolicy<'static> = ReplyPolicy { server_version: None, max_growth: 0 };

    /// What Debian's ssmpingd 0.9.1 does (its version string, padding up to
    /// 65535 bytes). For tests and documentation only: it amplifies.
    pub const SSMPINGD: ReplyPolicy<'static> = ReplyPolicy { server_version: Some(DEBIAN_SERVER_VERSION), max_growth: MAX_MESSAGE_LEN };
}

/// Longest reply `policy` allows for `request` (before `out`'s own limit).
pub fn reply_limit(request: &SsmpingMessage<'_>, policy: &ReplyPolicy<'_>) -> usize {
    request.len().saturating_add(policy.max_growth).min(MAX_MESSAGE_LEN).max(request.len())
}

/// Builds the reply to `request` the way ssmpingd does, into `out`; returns
/// its length. The reply is `'A'` followed by the request's options copied
/// verbatim; then, only if they fit within [`reply_limit`] and `out`:
/// - a VER option with `policy.server_version`, when the request carries
///   RQVER before any GROUP option;
/// - a PAD option of zeros bringing the total to the request's REPLYSIZE
///   (again only if REPLYSIZE comes before GROUP), when REPLYSIZE is at least
///   the current length plus 4.
///
/// With [`ReplyPolicy::MCAST`] the result is exactly `request.len()` bytes.
/// The same bytes are sent twice: unicast to the client and to the group
/// chosen by [`reply_group`].
pub fn encode_reply_into(request: &SsmpingMessage<'_>, policy: &ReplyPolicy<'_>, out: &mut [u8]) -> Result<usize, SsmpingError> {
    if request.kind != Kind::Request {
        return Err(SsmpingError::NotARequest);
    }
    if request.len() > MAX_MESSAGE_LEN {
        return Err(SsmpingError::TooLong { len: request.len() });
    }
    if out.len() < request.len() {
        return Err(SsmpingError::BufferTooSmall { needed: request.len(), available: out.len() });
    }
    let limit = reply_limit(request, policy).min(out.len());
    let mut w = Writer { out, pos: 0 };
    w.put(&[TYPE_REPLY])?;
    w.put(request.body())?;

    // ssmpingd's parsequery() stops at the first GROUP option, so RQVER and
    // REPLYSIZE after it are ignored; Debian clients always put GROUP last.
    let mut wants_version = false;
    let mut wanted_size: Option<u16> = None;
    for tlv in request.tlvs() {
        let Ok(tlv) = tlv else { break };
        match tlv.kind {
            opt::GROUP => break,
            opt::RQVER => wants_version = true,
            opt::REPLYSIZE => {
                if let Ok(bytes) = <[u8; 2]>::try_from(tlv.value) {
                    wanted_size = Some(u16::from_be_bytes(bytes));
                }
            }
            _ => {}
        }
    }

    if let (true, Some(version)) = (wants_version, policy.server_version) {
        let len = u16::try_from(version.len()).map_err(|_| SsmpingError::VersionTooLong { len: version.len() })?;
        let end = w.pos.saturating_add(TLV_HEADER_LEN).saturating_add(usize::from(len));
        if end <= limit {
            w.tlv(opt::VER, version)?;
        }
    }
    if let Some(size) = wanted_size.map(usize::from) {
        let min = w.pos.saturating_add(TLV_HEADER_LEN);
        if size > 0 && size <= limit && min <= size {
            let pad = size.saturating_sub(min);
            let pad16 = u16::try_from(pad).map_err(|_| SsmpingError::TooLong { len: size })?;
            w.header(opt::PAD, pad16)?;
            w.zeros(pad)?;
        }
    }
    Ok(w.pos)
}

/// Allocating form of [`encode_reply_into`].
pub fn encode_reply(request: &SsmpingMessage<'_>, policy: &ReplyPolicy<'_>) -> Result<Vec<u8>, SsmpingError> {
    if request.kind != Kind::Request {
        return Err(SsmpingError::NotARequest);
    }
    let mut out = vec![0u8; reply_limit(request, policy)];
    let len = encode_reply_into(request, policy, &mut out)?;
    out.truncate(len);
    Ok(out)
}

/// Where the multicast copy of a reply goes (the unicast copy always goes
/// back to the request's source address and port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyGroup {
    /// No GROUP option: the family's SSM group ([`ssm_group`]), at the
    /// client's source port.
    Default(IpAddr),
    /// The request's GROUP, which passed every check.
    Requested(IpAddr),
    /// Send no multicast copy (ssmpingd still sends the unicast one).
    Refused { requested: IpAddr, reason: GroupRefusal },
}

impl ReplyGroup {
    /// The group to send the multicast copy to, if any.
    pub fn addr(&self) -> Option<IpAddr> {
        match *self {
            ReplyGroup::Default(a) | ReplyGroup::Requested(a) => Some(a),
            ReplyGroup::Refused { .. } => None,
        }
    }
}

/// Why [`reply_group`] refuses a requested group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupRefusal {
    /// IPv6 group in a request that came over IPv4, or the reverse (ssmpingd
    /// tries anyway and its sendmsg fails with EAFNOSUPPORT).
    FamilyMismatch,
    /// Last octet is not 234 (IPv4) or group ID not 0x43211234 (IPv6):
    /// ssmpingd's own check ("received request with invalid group address").
    NotSsmpingGroupId,
    /// Not a multicast address at all. ssmpingd does NOT check this and will
    /// send its "multicast" copy to any unicast host ending in .234 or
    /// ::4321:1234 (a reflection vector); mcast refuses.
    NotMulticast,
    /// IPv4 224.0.0.0/24 (link-local control block) or IPv6 scope 0, 1 or
    /// 15. ssmpingd does not check this; mcast refuses.
    ReservedScope,
}

/// The family's default group: 232.43.211.234 or ff3e::4321:1234.
pub const fn ssm_group(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(SSM_GROUP_V4),
        Family::V6 => IpAddr::V6(SSM_GROUP_V6),
    }
}

/// ssmpingd's `addrok()`: only the group-ID suffix is checked.
pub fn ssmpingd_accepts_group(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let [_, _, _, last] = a.octets();
            last == GROUP_V4_LAST_OCTET
        }
        IpAddr::V6(a) => {
            let [.., s6, s7] = a.segments();
            let [g0, g1, g2, g3] = GROUP_V6_GROUP_ID;
            s6 == u16::from_be_bytes([g0, g1]) && s7 == u16::from_be_bytes([g2, g3])
        }
    }
}

/// The group asmping joins for a group the user names: IPv4 keeps the first
/// three octets and sets the last to 234 (224.3.3.3 -> 224.3.3.234); IPv6
/// keeps the first 96 bits and sets group ID 4321:1234 (ff15::9 ->
/// ff15::4321:1234).
pub fn asmping_group(user_group: IpAddr) -> IpAddr {
    match user_group {
        IpAddr::V4(a) => {
            let [o0, o1, o2, _] = a.octets();
            IpAddr::V4(Ipv4Addr::new(o0, o1, o2, GROUP_V4_LAST_OCTET))
        }
        IpAddr::V6(a) => {
            let [s0, s1, s2, s3, s4, s5, _, _] = a.segments();
            let [g0, g1, g2, g3] = GROUP_V6_GROUP_ID;
            let (s6, s7) = (u16::from_be_bytes([g0, g1]), u16::from_be_bytes([g2, g3]));
            IpAddr::V6(Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7))
        }
    }
}

/// Chooses the multicast destination of a reply as mcast's responder does:
/// ssmpingd's rules (default group when GROUP is absent, suffix check when
/// present) plus three refusals ssmpingd lacks: wrong family, not multicast,
/// reserved scope. `family` is the family of the socket the request came in
/// on. An RFC 6450-encoded GROUP is honoured too (ssmpingd would fall back to
/// the default group). The port is always the request's source port.
pub fn reply_group(request: &SsmpingMessage<'_>, family: Family) -> ReplyGroup {
    let Some(group) = request.group else {
        return ReplyGroup::Default(ssm_group(family));
    };
    let requested = group.addr;
    let refuse = |reason| ReplyGroup::Refused { requested, reason };
    if Family::of(requested) != family {
        return refuse(GroupRefusal::FamilyMismatch);
    }
    if !ssmpingd_accepts_group(requested) {
        return refuse(GroupRefusal::NotSsmpingGroupId);
    }
    match requested {
        IpAddr::V4(a) => {
            if !a.is_multicast() {
                return refuse(GroupRefusal::NotMulticast);
            }
            if let [224, 0, 0, _] = a.octets() {
                return refuse(GroupRefusal::ReservedScope);
            }
        }
        IpAddr::V6(a) => {
            if !a.is_multicast() {
                return refuse(GroupRefusal::NotMulticast);
            }
            let [_, flags_scope, ..] = a.octets();
            if matches!(flags_scope & 0x0f, 0x0 | 0x1 | 0xf) {
                return refuse(GroupRefusal::ReservedScope);
            }
        }
    }
    ReplyGroup::Requested(requested)
}

/// Which copy of a reply a client received, told apart by the destination
/// address of the datagram (IP_PKTINFO / IPV6_PKTINFO) or by the socket it
/// arrived on: both copies carry identical bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyPath {
    Unicast,
    Multicast,
}

impl ReplyPath {
    pub fn of_destination(dst: IpAddr) -> ReplyPath {
        if dst.is_multicast() { ReplyPath::Multicast } else { ReplyPath::Unicast }
    }
}

/// Debian ssmping's "dist=": `-1` when the TTL is unknown, `128 - ttl` when
/// it is above 64 ("assuming Windows using ttl 128"), else `64 - ttl`. It can
/// print negative values for a TTL above 128.
pub fn debian_dist(received_ttl: Option<u8>) -> i32 {
    match received_ttl {
        None => -1,
        Some(t) if t > 64 => 128i32.saturating_sub(i32::from(t)),
        Some(t) => 64i32.saturating_sub(i32::from(t)),
    }
}

/// mcast's hop count from the TTL / hop limit a reply arrived with: the
/// distance from the nearest common initial value at or above it (64, the
/// value ssmpingd and mcast use; 128; 255). Never negative.
pub fn hops_from_ttl(received_ttl: u8) -> u8 {
    let initial = if received_ttl <= SERVER_HOPS {
        SERVER_HOPS
    } else if received_ttl <= 128 {
        128
    } else {
        u8::MAX
    };
    initial.saturating_sub(received_ttl)
}

/// Bounds-checked writer: every write goes through `get_mut`, so a short
/// buffer is an error, never a panic.
struct Writer<'o> {
    out: &'o mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn slot(&mut self, len: usize) -> Result<&mut [u8], SsmpingError> {
        let available = self.out.len();
        let end = self.pos.checked_add(len).ok_or(SsmpingError::BufferTooSmall { needed: usize::MAX, available })?;
        let slot = self.out.get_mut(self.pos..end).ok_or(SsmpingError::BufferTooSmall { needed: end, available })?;
        self.pos = end;
        Ok(slot)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), SsmpingError> {
        let slot = self.slot(bytes.len())?;
        for (dst, src) in slot.iter_mut().zip(bytes) {
            *dst = *src;
        }
        Ok(())
    }

    fn zeros(&mut self, len: usize) -> Result<(), SsmpingError> {
        self.slot(len)?.fill(0);
        Ok(())
    }

    fn header(&mut self, kind: u16, len: u16) -> Result<(), SsmpingError> {
        let [t0, t1] = kind.to_be_bytes();
        let [l0, l1] = len.to_be_bytes();
        self.put(&[t0, t1, l0, l1])
    }

    fn tlv(&mut self, kind: u16, value: &[u8]) -> Result<(), SsmpingError> {
        let len = u16::try_from(value.len()).map_err(|_| SsmpingError::TooLong { len: value.len() })?;
        self.header(kind, len)?;
        self.put(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(s.len().is_multiple_of(2), "odd hex length");
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    /// Reply ssmpingd sends for a request when nothing is appended.
    fn flipped(req: &[u8]) -> Vec<u8> {
        let mut r = req.to_vec();
        r[0] = b'A';
        r
    }

    // ---- Vectors captured from the real Debian programs (ssmping 0.9.1-4) ----
    // Captured with tcpdump inside a private netns (lo; route 224.0.0.0/4 dev lo)
    // running `ssmpingd`; the client command is named above each vector. The
    // same datagrams are in test/fixtures/ssmping/*.hex with their addresses.

    /// `ssmping -c 3 127.0.0.1`, first request (pid 0x0fc3, seq 1), 38 bytes.
    /// ssmpingd's unicast and multicast (232.43.211.234) replies were this with
    /// the first byte 0x41.
    const V4_REQ: &str = "51 0001 0004 00000fc3 0002 0004 00000001 0003 0008 6b082c0f 0000831e 0004 0005 01 e82bd3ea";
    /// Same run, third request.
    const V4_REQ_SEQ3: &str = "510001000400000fc30002000400000003000300086b082c11000087920004000501e82bd3ea";
    /// `ssmping -v -c 1 127.0.0.1`: request with RQVER (42 bytes) ...
    const V4_V_REQ: &str = "51000100040000139f0002000400000001000300086b082c6a000ae328000500000004000501e82bd3ea";
    /// ... and ssmpingd's reply (74 bytes: the echo plus VER "0.9.1 (20080418) [asm][size]").
    const V4_V_REPLY: &str = "41000100040000139f0002000400000001000300086b082c6a000ae328000500000004000501e82bd3ea\
                              0006001c302e392e312028323030383034313829205b61736d5d5b73697a655d";
    /// `ssmping -v -c 2 -s 200 127.0.0.1`, first request (48 bytes) ...
    const V4_V_S200_REQ: &str = "510001000400000fe60002000400000001000300086b082c120000a310000500000007000200c80004000501e82bd3ea";
    /// ... ssmpingd's 200-byte reply starts with these 84 bytes (echo, VER, PAD
    /// header 0008 0074); the remaining 116 bytes were zeros.
    const V4_V_S200_REPLY_HEAD: &str = "410001000400000fe60002000400000001000300086b082c120000a310000500000007000200c80004000501e82bd3ea\
                                        0006001c302e392e312028323030383034313829205b61736d5d5b73697a655d00080074";
    /// `ssmping -s 30 -c 1 127.0.0.1`: REPLYSIZE 30 < 44-byte request; the
    /// reply was the plain echo (ssmping printed "requested packet size 30, got 44").
    const V4_S30_REQ: &str = "5100010004000013a10002000400000001000300086b082c6b000b0e0300070002001e0004000501e82bd3ea";
    /// `ssmping -s 1500 -c 1 127.0.0.1`: the 1500-byte reply was the echo, PAD
    /// header 0008 05ac, then 1452 zeros.
    const V4_S1500_REQ: &str = "5100010004000013a30002000400000001000300086b082c6c000b2fc90007000205dc0004000501e82bd3ea";
    /// `asmping -c 2 224.3.3.3 127.0.0.1`, first request: group forced to
    /// 224.3.3.234; the multicast reply went to 224.3.3.234.
    const V4_ASM_REQ: &str = "5100010004000010150002000400000001000300086b082c140000c5b70004000501e00303ea";
    /// `ssmping -6 -c 2 fd00:4321::1` (client and ssmpingd in two netns joined
    /// by a veth pair), first request, 50 bytes; replies were the echo.
    const V6_REQ: &str = "5100010004000012710002000400000001000300086b082c3a0003afe60004001102ff3e0000000000000000000043211234";
    /// `asmping -c 2 ff15::9 fd00:4321::1`: group forced to ff15::4321:1234.
    const V6_ASM_REQ: &str = "5100010004000012910002000400000001000300086b082c3e0003f6fe0004001102ff150000000000000000000043211234";

    #[test]
    fn decodes_captured_ssmping_request() {
        let buf = hex(V4_REQ);
        assert_eq!(buf.len(), 38);
        let m = decode(&buf).unwrap();
        assert_eq!(m.kind, Kind::Request);
        assert_eq!(m.pid(), Some(0x0fc3));
        assert_eq!(m.client_id, Some(&[0u8, 0, 0x0f, 0xc3][..]));
        assert_eq!(m.seq, Some(1));
        assert_eq!(m.timestamp, Some(Timestamp { secs: 0x6b08_2c0f, micros: 0x831e }));
        assert_eq!(m.group, Some(GroupOption { addr: v4(232, 43, 211, 234), encoding: GroupEncoding::Ssmping }));
        assert!(!m.version_requested);
        assert_eq!(m.reply_size, None);
        let kinds: Vec<(u16, usize, usize)> = m.tlvs().map(|t| t.unwrap()).map(|t| (t.kind, t.value.len(), t.offset)).collect();
        assert_eq!(kinds, vec![(1, 4, 1), (2, 4, 9), (3, 8, 17), (4, 5, 29)]);
        assert_eq!(decode(&hex(V4_REQ_SEQ3)).unwrap().seq, Some(3));
    }

    #[test]
    fn decodes_captured_replies() {
        let r_buf = flipped(&hex(V4_REQ));
        let r = decode(&r_buf).unwrap();
        assert_eq!(r.kind, Kind::Reply);
        assert!(r.is_reply_to(0x0fc3));
        assert!(!r.is_reply_to(0x0fc4));
        let v = hex(V4_V_REPLY);
        let r = decode(&v).unwrap();
        assert_eq!(r.server_version, Some(DEBIAN_SERVER_VERSION));
        assert!(r.version_requested);
        let mut big = hex(V4_V_S200_REPLY_HEAD);
        big.resize(200, 0);
        let r = decode(&big).unwrap();
        assert_eq!(r.reply_size, Some(200));
        assert_eq!(r.pad_len, Some(116));
        assert_eq!(r.server_version, Some(DEBIAN_SERVER_VERSION));
    }

    #[test]
    fn decodes_captured_ipv6_and_asmping() {
        let m_buf = hex(V6_REQ);
        let m = decode(&m_buf).unwrap();
        assert_eq!(m.len(), 50);
        assert_eq!(m.pid(), Some(0x1271));
        assert_eq!(m.group.unwrap().addr, v6("ff3e::4321:1234"));
        let m_buf = hex(V6_ASM_REQ);
        let m = decode(&m_buf).unwrap();
        assert_eq!(m.group.unwrap().addr, v6("ff15::4321:1234"));
        let m_buf = hex(V4_ASM_REQ);
        let m = decode(&m_buf).unwrap();
        assert_eq!(m.group.unwrap().addr, v4(224, 3, 3, 234));
    }

    #[test]
    fn encode_request_matches_debian_bytes() {
        let cases = [
            (V4_REQ, 0x0fc3, 1, (0x6b08_2c0f, 0x831e), false, None, Some(v4(232, 43, 211, 234))),
            (V4_V_REQ, 0x139f, 1, (0x6b08_2c6a, 0x000a_e328), true, None, Some(v4(232, 43, 211, 234))),
            (V4_V_S200_REQ, 0x0fe6, 1, (0x6b08_2c12, 0xa310), true, Some(200), Some(v4(232, 43, 211, 234))),
            (V4_S30_REQ, 0x13a1, 1, (0x6b08_2c6b, 0x000b_0e03), false, Some(30), Some(v4(232, 43, 211, 234))),
            (V4_ASM_REQ, 0x1015, 1, (0x6b08_2c14, 0xc5b7), false, None, Some(v4(224, 3, 3, 234))),
            (V6_REQ, 0x1271, 1, (0x6b08_2c3a, 0x0003_afe6), false, None, Some(v6("ff3e::4321:1234"))),
            (V6_ASM_REQ, 0x1291, 1, (0x6b08_2c3e, 0x0003_f6fe), false, None, Some(v6("ff15::4321:1234"))),
        ];
        for (wire, pid, seq, (secs, micros), request_version, reply_size, group) in cases {
            let params = RequestParams { client_id: pid, seq, timestamp: Timestamp { secs, micros }, request_version, reply_size, group };
            let want = hex(wire);
            assert_eq!(encode_request(&params), want, "vector {wire}");
            assert_eq!(encoded_request_len(&params), want.len());
            let mut small = vec![0u8; want.len() - 1];
            assert!(matches!(encode_request_into(&params, &mut small), Err(SsmpingError::BufferTooSmall { .. })));
        }
    }

    #[test]
    fn largest_request_is_60_bytes() {
        let params = RequestParams {
            client_id: 1,
            seq: 1,
            timestamp: Timestamp::default(),
            request_version: true,
            reply_size: Some(1000),
            group: Some(v6("ff3e::4321:1234")),
        };
        assert_eq!(encode_request(&params).len(), DEBIAN_MAX_REQUEST_LEN);
        let bare = RequestParams { request_version: false, reply_size: None, group: None, ..params };
        assert_eq!(encode_request(&bare).len(), 29);
    }

    #[test]
    fn ssmpingd_policy_reproduces_captured_replies() {
        let p = ReplyPolicy::SSMPINGD;
        for plain in [V4_REQ, V4_REQ_SEQ3, V4_S30_REQ, V4_ASM_REQ, V6_REQ, V6_ASM_REQ] {
            let req = hex(plain);
            assert_eq!(encode_reply(&decode(&req).unwrap(), &p).unwrap(), flipped(&req), "vector {plain}");
        }
        assert_eq!(encode_reply(&decode(&hex(V4_V_REQ)).unwrap(), &p).unwrap(), hex(V4_V_REPLY));

        let mut want = hex(V4_V_S200_REPLY_HEAD);
        want.resize(200, 0);
        assert_eq!(encode_reply(&decode(&hex(V4_V_S200_REQ)).unwrap(), &p).unwrap(), want);

        let req = hex(V4_S1500_REQ);
        let mut want = flipped(&req);
        want.extend_from_slice(&[0x00, 0x08, 0x05, 0xac]);
        want.resize(1500, 0);
        assert_eq!(encode_reply(&decode(&req).unwrap(), &p).unwrap(), want);
    }

    #[test]
    fn ssmpingd_policy_reproduces_crafted_request_replies() {
        // Crafted requests sent to the real ssmpingd (test/fixtures/ssmping/
        // v4-ssmpingd-crafted.hex); the reply it sent is on the right.
        let p = ReplyPolicy::SSMPINGD;
        let cases = [
            ("51", "41"),
            // RQVER after GROUP: ssmpingd's parser stopped at GROUP, no version.
            ("510004000501e82bd3ea00050000", "410004000501e82bd3ea00050000"),
            // RQVER before GROUP: version appended.
            ("51000500000004000501e82bd3ea", "41000500000004000501e82bd3ea0006001c302e392e312028323030383034313829205b61736d5d5b73697a655d"),
            // REPLYSIZE 5 < 7-byte request: plain echo.
            ("51000700020005", "41000700020005"),
            // RFC 6450 group encoding: echoed (ssmpingd used its default group).
            ("51000400060001e82bd3ea", "41000400060001e82bd3ea"),
        ];
        for (req, reply) in cases {
            assert_eq!(encode_reply(&decode(&hex(req)).unwrap(), &p).unwrap(), hex(reply), "request {req}");
        }
        // REPLYSIZE 1000 from a 7-byte request: 1000 bytes, PAD 0x03dd of zeros.
        let req = hex("510007000203e8");
        let mut want = hex("410007000203e8000803dd");
        want.resize(1000, 0);
        assert_eq!(encode_reply(&decode(&req).unwrap(), &p).unwrap(), want);
        // REPLYSIZE 65000: ssmpingd sent 65000 bytes (twice) for 7.
        let req = hex("5100070002fde8");
        let reply = encode_reply(&decode(&req).unwrap(), &p).unwrap();
        assert_eq!(reply.len(), 65_000);
        assert_eq!(reply.get(..11).unwrap(), hex("4100070002fde80008fddd").as_slice());
    }

    #[test]
    fn mcast_policy_is_an_exact_echo() {
        for v in [V4_REQ, V4_V_REQ, V4_V_S200_REQ, V4_S30_REQ, V4_S1500_REQ, V4_ASM_REQ, V6_REQ, V6_ASM_REQ] {
            let req = hex(v);
            let reply = encode_reply(&decode(&req).unwrap(), &ReplyPolicy::MCAST).unwrap();
            assert_eq!(reply, flipped(&req));
            assert_eq!(ReplyPolicy::default(), ReplyPolicy::MCAST);
        }
        // Even with a version string to give, nothing is appended at growth 0.
        let p = ReplyPolicy { server_version: Some(b"mcast"), max_growth: 0 };
        let req = hex(V4_V_REQ);
        assert_eq!(encode_reply(&decode(&req).unwrap(), &p).unwrap(), flipped(&req));
        // A little growth allowed: the version fits, padding beyond it does not.
        let p = ReplyPolicy { server_version: Some(b"mcast"), max_growth: 9 };
        let reply = encode_reply(&decode(&req).unwrap(), &p).unwrap();
        assert_eq!(reply.len(), req.len() + 9);
        assert_eq!(decode(&reply).unwrap().server_version, Some(&b"mcast"[..]));
    }

    #[test]
    fn encode_reply_into_checks_its_buffer_and_input() {
        let req = hex(V4_REQ);
        let m = decode(&req).unwrap();
        let mut out = [0u8; 37];
        assert_eq!(encode_reply_into(&m, &ReplyPolicy::MCAST, &mut out), Err(SsmpingError::BufferTooSmall { needed: 38, available: 37 }));
        // A short buffer limits growth instead of failing.
        let mut out = [0u8; 40];
        assert_eq!(encode_reply_into(&m, &ReplyPolicy::SSMPINGD, &mut out), Ok(38));
        let reply = flipped(&req);
        let r = decode(&reply).unwrap();
        assert_eq!(encode_reply(&r, &ReplyPolicy::MCAST), Err(SsmpingError::NotARequest));
        assert_eq!(encode_reply_into(&r, &ReplyPolicy::MCAST, &mut out), Err(SsmpingError::NotARequest));
    }

    #[test]
    fn rejects_what_ssmpingd_would_still_echo() {
        // ssmpingd echoed every one of these (v4-ssmpingd-crafted.hex); mcast drops them.
        assert_eq!(decode(&[]), Err(SsmpingError::Empty));
        assert_eq!(decode(&hex("5178797a")), Err(SsmpingError::TrailingBytes { offset: 1, len: 3 }));
        assert_eq!(decode(&hex("510002000a0000")), Err(SsmpingError::TruncatedTlv { offset: 1, kind: 2, declared: 10, available: 2 }));
        assert_eq!(decode(&hex("510004000401e82bd3")), Err(SsmpingError::BadGroup { offset: 1, len: 4 }));
        assert_eq!(decode(&hex("5100070003001000")), Err(SsmpingError::BadLength { offset: 1, kind: 7, len: 3 }));
        // ssmpingd ignores anything not starting with 'Q'; so does a responder.
        assert_eq!(decode(&hex("410001000400000001")).unwrap().kind, Kind::Reply);
        assert_eq!(decode(b"I"), Err(SsmpingError::UnknownType(b'I')));
        assert_eq!(decode(b"S"), Err(SsmpingError::UnknownType(b'S')));
        // Other length and repetition rules.
        assert_eq!(decode(&hex("5100010000")), Err(SsmpingError::BadLength { offset: 1, kind: 1, len: 0 }));
        assert_eq!(decode(&hex("51000200020001")), Err(SsmpingError::BadLength { offset: 1, kind: 2, len: 2 }));
        assert_eq!(decode(&hex("41000600 00")), Err(SsmpingError::BadLength { offset: 1, kind: 6, len: 0 }));
        assert_eq!(decode(&hex("51 0002000400000001 0002000400000002")), Err(SsmpingError::DuplicateOption { offset: 9, kind: 2 }));
        assert_eq!(decode(&hex("51 00050000 00050000")), Err(SsmpingError::DuplicateOption { offset: 5, kind: 5 }));
        assert_eq!(decode(&hex("51000400050300000000")), Err(SsmpingError::BadGroup { offset: 1, len: 5 }));
        // Unknown options are fine, and may repeat.
        let m_buf = hex("51 00630000 0063000161");
        let m = decode(&m_buf).unwrap();
        assert_eq!(m.tlvs().count(), 2);
        // A bare request is well formed (ssmpingd answers it too).
        assert_eq!(decode(b"Q").unwrap().tlvs().count(), 0);
        // Errors render.
        assert!(SsmpingError::TruncatedTlv { offset: 1, kind: 2, declared: 10, available: 2 }.to_string().contains("10"));
    }

    #[test]
    fn decodes_rfc6450_group_encoding() {
        let m_buf = hex("51000400060001e82bd3ea");
        let m = decode(&m_buf).unwrap();
        assert_eq!(m.group, Some(GroupOption { addr: v4(232, 43, 211, 234), encoding: GroupEncoding::Rfc6450 }));
        let m_buf = hex("510004001200 02 ff3e0000000000000000000043211234");
        let m = decode(&m_buf).unwrap();
        assert_eq!(m.group.unwrap().addr, v6("ff3e::4321:1234"));
        assert_eq!(m.group.unwrap().encoding, GroupEncoding::Rfc6450);
        assert!(decode(&hex("51000400060101e82bd3ea")).is_err());
    }

    #[test]
    fn reply_group_rules() {
        let req = |g: Option<IpAddr>| {
            encode_request(&RequestParams { client_id: 7, seq: 1, timestamp: Timestamp::default(), request_version: false, reply_size: None, group: g })
        };
        let rg = |g: Option<IpAddr>, f: Family| reply_group(&decode(&req(g)).unwrap(), f);

        assert_eq!(rg(None, Family::V4), ReplyGroup::Default(v4(232, 43, 211, 234)));
        assert_eq!(rg(None, Family::V6), ReplyGroup::Default(v6("ff3e::4321:1234")));
        assert_eq!(rg(Some(v4(232, 43, 211, 234)), Family::V4), ReplyGroup::Requested(v4(232, 43, 211, 234)));
        // ssmpingd sent to 239.1.2.234 and 224.3.3.234 (captured); so does mcast.
        assert_eq!(rg(Some(v4(239, 1, 2, 234)), Family::V4).addr(), Some(v4(239, 1, 2, 234)));
        assert_eq!(rg(Some(v4(224, 3, 3, 234)), Family::V4).addr(), Some(v4(224, 3, 3, 234)));
        assert_eq!(rg(Some(v6("ff15::4321:1234")), Family::V6).addr(), Some(v6("ff15::4321:1234")));
        // ssmpingd logged "invalid group address 224.1.1.1" and sent unicast only.
        assert_eq!(rg(Some(v4(224, 1, 1, 1)), Family::V4), ReplyGroup::Refused { requested: v4(224, 1, 1, 1), reason: GroupRefusal::NotSsmpingGroupId });
        // ssmpingd reflected to 127.0.0.234 and sent to 224.0.0.234 (captured); mcast refuses.
        assert_eq!(rg(Some(v4(127, 0, 0, 234)), Family::V4), ReplyGroup::Refused { requested: v4(127, 0, 0, 234), reason: GroupRefusal::NotMulticast });
        assert_eq!(rg(Some(v4(224, 0, 0, 234)), Family::V4), ReplyGroup::Refused { requested: v4(224, 0, 0, 234), reason: GroupRefusal::ReservedScope });
        assert_eq!(
            rg(Some(v6("2001:db8::4321:1234")), Family::V6),
            ReplyGroup::Refused { requested: v6("2001:db8::4321:1234"), reason: GroupRefusal::NotMulticast }
        );
        assert_eq!(rg(Some(v6("ff01::4321:1234")), Family::V6), ReplyGroup::Refused { requested: v6("ff01::4321:1234"), reason: GroupRefusal::ReservedScope });
        // ssmpingd failed with EAFNOSUPPORT on this one (captured).
        assert_eq!(rg(Some(v6("ff3e::4321:1234")), Family::V4), ReplyGroup::Refused { requested: v6("ff3e::4321:1234"), reason: GroupRefusal::FamilyMismatch });
        assert_eq!(rg(Some(v6("ff3e::4321:1234")), Family::V4).addr(), None);
    }

    #[test]
    fn group_helpers() {
        assert_eq!(asmping_group(v4(224, 3, 3, 3)), v4(224, 3, 3, 234));
        assert_eq!(asmping_group(v6("ff3e::1:2:3")), v6("ff3e::1:4321:1234"));
        assert_eq!(asmping_group(v6("ff15::9")), v6("ff15::4321:1234"));
        assert!(ssmpingd_accepts_group(v4(10, 0, 0, 234)));
        assert!(!ssmpingd_accepts_group(v4(232, 43, 211, 233)));
        assert_eq!(ssm_group(Family::V4), v4(232, 43, 211, 234));
        assert_eq!(ReplyPath::of_destination(v4(232, 43, 211, 234)), ReplyPath::Multicast);
        assert_eq!(ReplyPath::of_destination(v6("fd00:4321::2")), ReplyPath::Unicast);
    }

    #[test]
    fn rtt_and_hops() {
        let sent = Timestamp { secs: 0x6b08_2c0f, micros: 0x831e };
        assert_eq!(sent.micros_until(Timestamp { secs: 0x6b08_2c0f, micros: 0x831e + 280 }), Some(280));
        assert_eq!(sent.micros_until(Timestamp { secs: 0x6b08_2c10, micros: 0 }), Some(1_000_000 - 0x831e));
        assert_eq!(sent.micros_until(Timestamp { secs: 0x6b08_2c0e, micros: 999_999 }), None);
        assert_eq!(Timestamp::from_unix_micros(1_700_000_000_123_456), Timestamp { secs: 1_700_000_000, micros: 123_456 });
        let extreme = Timestamp { secs: u32::MAX, micros: u32::MAX };
        assert_eq!(Timestamp::default().micros_until(extreme), Some(u64::from(u32::MAX) * 1_000_001));
        assert_eq!(extreme.micros_until(Timestamp::default()), None);

        assert_eq!(debian_dist(None), -1);
        assert_eq!(debian_dist(Some(64)), 0); // every captured reply: "dist=0"
        assert_eq!(debian_dist(Some(52)), 12);
        assert_eq!(debian_dist(Some(120)), 8);
        assert_eq!(debian_dist(Some(250)), -122);
        assert_eq!(hops_from_ttl(64), 0);
        assert_eq!(hops_from_ttl(52), 12);
        assert_eq!(hops_from_ttl(0), 64);
        assert_eq!(hops_from_ttl(120), 8);
        assert_eq!(hops_from_ttl(250), 5);
        assert_eq!(hops_from_ttl(255), 0);
    }

    /// xorshift64*: deterministic, dependency-free randomness for the fuzz tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn check_invariants(buf: &[u8]) {
        let Ok(m) = decode(buf) else { return };
        assert_eq!(m.datagram, buf);
        assert!(m.tlvs().all(|t| t.is_ok()));
        if m.kind == Kind::Request {
            let echo = encode_reply(&m, &ReplyPolicy::MCAST).unwrap();
            assert_eq!(echo.len(), buf.len(), "mcast reply must equal the request's length");
            assert_eq!(echo.get(1..), buf.get(1..));
            assert_eq!(decode(&echo).unwrap().kind, Kind::Reply);
            let full = encode_reply(&m, &ReplyPolicy::SSMPINGD).unwrap();
            assert!(full.len() >= buf.len() && full.len() <= MAX_MESSAGE_LEN);
            // ssmpingd appends VER / PAD even when the request already had
            // one, so its reply may repeat them; anything else must decode.
            match decode(&full) {
                Ok(r) => assert_eq!(r.kind, Kind::Reply),
                Err(SsmpingError::DuplicateOption { kind, .. }) => assert!(kind == opt::VER || kind == opt::PAD),
                Err(e) => panic!("ssmpingd-style reply does not decode: {e}"),
            }
            let _ = reply_group(&m, Family::V4);
            let _ = reply_group(&m, Family::V6);
        }
    }

    #[test]
    fn exhaustive_short_inputs_never_panic() {
        for len in 0..=2usize {
            let total = 1usize << (8 * len);
            for n in 0..total {
                let buf: Vec<u8> = (0..len).map(|i| (n >> (8 * i)) as u8).collect();
                check_invariants(&buf);
            }
        }
        for n in 0..(1usize << 24) / 64 {
            // 'Q' followed by 3 bytes, sampled: every 64th combination.
            let x = n * 64 + (n % 64);
            check_invariants(&[b'Q', x as u8, (x >> 8) as u8, (x >> 16) as u8]);
        }
    }

    #[test]
    fn random_and_mutated_inputs_never_panic() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for _ in 0..100_000 {
            let len = rng.below(80);
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if let Some(first) = buf.first_mut() {
                *first = [b'Q', b'A', b'I', 0][rng.below(4)];
            }
            check_invariants(&buf);
        }
        let seeds: Vec<Vec<u8>> = [V4_REQ, V4_V_REQ, V4_V_S200_REQ, V4_S30_REQ, V4_ASM_REQ, V6_REQ, V4_V_REPLY].iter().map(|s| hex(s)).collect();
        for _ in 0..100_000 {
            let mut buf = seeds[rng.below(seeds.len())].clone();
            for _ in 0..1 + rng.below(4) {
                match rng.below(4) {
                    0 => {
                        let i = rng.below(buf.len());
                        buf[i] ^= 1 << rng.below(8);
                    }
                    1 => buf.truncate(rng.below(buf.len() + 1)),
                    2 => {
                        let i = rng.below(buf.len() + 1);
                        buf.insert(i, rng.next() as u8);
                    }
                    _ => {
                        let i = rng.below(buf.len());
                        buf[i] = rng.next() as u8;
                    }
                }
                if buf.is_empty() {
                    buf.push(b'Q');
                }
            }
            check_invariants(&buf);
        }
    }

    #[test]
    fn request_round_trips() {
        let mut rng = Rng(42);
        for _ in 0..2_000 {
            let group = match rng.below(3) {
                0 => None,
                1 => Some(IpAddr::V4(Ipv4Addr::from(rng.next() as u32))),
                _ => Some(IpAddr::V6(Ipv6Addr::from(u128::from(rng.next()) << 64 | u128::from(rng.next())))),
            };
            let params = RequestParams {
                client_id: rng.next() as u32,
                seq: rng.next() as u32,
                timestamp: Timestamp { secs: rng.next() as u32, micros: rng.next() as u32 },
                request_version: rng.below(2) == 1,
                reply_size: if rng.below(2) == 1 { Some(rng.next() as u16) } else { None },
                group,
            };
            let wire = encode_request(&params);
            let m = decode(&wire).unwrap();
            assert_eq!(m.kind, Kind::Request);
            assert_eq!(m.pid(), Some(params.client_id));
            assert_eq!(m.seq, Some(params.seq));
            assert_eq!(m.timestamp, Some(params.timestamp));
            assert_eq!(m.version_requested, params.request_version);
            assert_eq!(m.reply_size, params.reply_size);
            assert_eq!(m.group.map(|g| g.addr), params.group);
            let reply = encode_reply(&m, &ReplyPolicy::MCAST).unwrap();
            let r = decode(&reply).unwrap();
            assert!(r.is_reply_to(params.client_id));
            assert_eq!(r.timestamp, Some(params.timestamp));
            let full = encode_reply(&m, &ReplyPolicy::SSMPINGD).unwrap();
            let version_tlv = if params.request_version { TLV_HEADER_LEN + DEBIAN_SERVER_VERSION.len() } else { 0 };
            match params.reply_size.map(usize::from) {
                Some(size) if size >= wire.len() + version_tlv + TLV_HEADER_LEN => assert_eq!(full.len(), size),
                _ => assert_eq!(full.len(), wire.len() + version_tlv),
            }
        }
    }
}
