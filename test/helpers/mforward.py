#!/usr/bin/env python3
"""mforward: a userspace multicast router for the test labs.

Used by test/helpers/router.ts in the routed lab's router namespace when the
kernel cannot route multicast (built without CONFIG_IP_MROUTE /
CONFIG_IPV6_MROUTE), so the routed tests keep their assertions on every
kernel. Not a user-facing tool.

It behaves like a static multicast router (smcroute over the kernel's MFC) as
far as the tests can see:
  - only groups a route names are forwarded, from the route's inbound
    interface (and source, if the route names one) to its outbound ones;
  - TTL / hop limit <= threshold (default 1) is not forwarded; otherwise the
    packet leaves with TTL - 1 (IPv4 header checksum recomputed);
  - link-local groups (224.0.0.0/24, IPv6 scope <= 2 such as ff02::/16) are
    never forwarded, whatever the routes say.

Packets are read and written with AF_PACKET (SOCK_DGRAM: the kernel strips
and builds the Ethernet header). On veth a frame read this way often carries
an unfinished UDP checksum (checksum offload: only the pseudo-header sum is
there), and a frame written this way is sent as is, so the UDP checksum is
always computed here (IPv6 requires one).

Usage (routes as JSON, one object per route):
  mforward.py --routes '[{"from":"eth1","group":"239.0.0.0/8","to":["eth2"]}]'
              --state /run/.../state.json [--threshold 1]
Prints one JSON line {"ready": true, ...} on stdout once every socket is
bound; writes its forwarding table and counters to --state (atomically,
at most every 50 ms while traffic flows, and on SIGTERM/SIGINT).
"""
import argparse
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_ALLMULTI = 2
PACKET_MULTICAST = 2          # sll_pkttype of a frame sent to a multicast MAC
IPPROTO_UDP = 17
IPV6_EXT_HEADERS = (0, 43, 60)  # hop-by-hop, routing, destination options

LINK_LOCAL_V4 = ipaddress.ip_network("224.0.0.0/24")


def checksum16(data: bytes) -> int:
    """RFC 1071 ones'-complement sum, complemented."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_checksum(pseudo: bytes, udp: bytearray) -> int:
    udp[6:8] = b"\0\0"
    c = checksum16(pseudo + bytes(udp))
    return c or 0xFFFF  # 0 means "no checksum" in UDP: send all-ones instead


class Route:
    def __init__(self, spec: dict):
        self.iif = spec["from"]
        self.group = ipaddress.ip_network(spec["group"], strict=False)
        self.source = ipaddress.ip_network(spec["source"], strict=False) if spec.get("source") else None
        to = spec["to"]
        self.oifs = [to] if isinstance(to, str) else list(to)

    def matches(self, iif: str, src, dst) -> bool:
        return (
            iif == self.iif
            and dst.version == self.group.version
            and dst in self.group
            and (self.source is None or src in self.source)
        )


class Forwarder:
    def __init__(self, routes, threshold: int, state_path: str):
        self.routes = routes
        self.threshold = threshold
        self.state_path = state_path
        self.entries = {}  # (source, group, iif) -> {"oifs": [...], "packets": n, "bytes": n}
        self.dropped = {"ttl": 0, "linkLocal": 0, "noRoute": 0, "malformed": 0, "sendError": 0}
        self.received = 0
        self.dirty = True
        self.last_write = 0.0
        ifnames = sorted({r.iif for r in routes} | {o for r in routes for o in r.oifs})
        self.rx = {}
        self.tx = {}
        for name in sorted({r.iif for r in routes}):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
            s.bind((name, ETH_P_ALL))
            # All multicast frames reach the socket, whatever the device's filter.
            mreq = struct.pack("iHH8s", socket.if_nametoindex(name), PACKET_MR_ALLMULTI, 0, b"")
            s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            s.setblocking(False)
            self.rx[s.fileno()] = (name, s)
        for name in ifnames:
            self.tx[name] = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
        self.ifnames = ifnames

    # -- per packet ------------------------------------------------------------

    def handle(self, iif: str, pkt: bytes) -> None:
        self.received += 1
        self.dirty = True
        if not pkt:
            self.dropped["malformed"] += 1
            return
        version = pkt[0] >> 4
        out = self.rewrite_v4(pkt) if version == 4 else self.rewrite_v6(pkt) if version == 6 else None
        if out is None:
            return
        data, src, dst, ethertype, mac = out
        oifs = []
        for r in self.routes:
            if r.matches(iif, src, dst):
                oifs.extend(o for o in r.oifs if o != iif and o not in oifs)
        if not oifs:
            self.dropped["noRoute"] += 1
            return
        key = (str(src), str(dst), iif)
        entry = self.entries.setdefault(key, {"oifs": oifs, "packets": 0, "bytes": 0})
        for o in oifs:
            try:
                self.tx[o].sendto(data, (o, ethertype, 0, 0, mac))
            except OSError as e:
                self.dropped["sendError"] += 1
                print(json.dumps({"sendError": str(e), "oif": o}), flush=True)
                continue
        entry["packets"] += 1
        entry["bytes"] += len(data)

    def rewrite_v4(self, pkt: bytes):
        if len(pkt) < 20:
            self.dropped["malformed"] += 1
            return None
        ihl = (pkt[0] & 0x0F) * 4
        total = struct.unpack_from("!H", pkt, 2)[0]
        if ihl < 20 or total < ihl or total > len(pkt):
            self.dropped["malformed"] += 1
            return None
        dst = ipaddress.IPv4Address(pkt[16:20])
        src = ipaddress.IPv4Address(pkt[12:16])
        if not dst.is_multicast:
            return None  # unicast is the kernel's business (ip_forward=1)
        if dst in LINK_LOCAL_V4:
            self.dropped["linkLocal"] += 1
            return None
        ttl = pkt[8]
        if ttl <= self.threshold:
            self.dropped["ttl"] += 1
            return None
        p = bytearray(pkt[:total])
        p[8] = ttl - 1
        p[10:12] = b"\0\0"
        p[10:12] = struct.pack("!H", checksum16(bytes(p[:ihl])))
        frag = struct.unpack_from("!H", p, 6)[0]
        first_fragment = (frag & 0x1FFF) == 0
        if p[9] == IPPROTO_UDP and first_fragment and not (frag & 0x2000) and total - ihl >= 8:
            udp = bytearray(p[ihl:])
            pseudo = bytes(p[12:20]) + struct.pack("!BBH", 0, IPPROTO_UDP, len(udp))
            udp[6:8] = struct.pack("!H", udp_checksum(pseudo, udp))
            p[ihl:] = udp
        b = dst.packed
        mac = bytes([0x01, 0x00, 0x5E, b[1] & 0x7F, b[2], b[3]])
        return bytes(p), src, dst, ETH_P_IP, mac

    def rewrite_v6(self, pkt: bytes):
        if len(pkt) < 40:
            self.dropped["malformed"] += 1
            return None
        plen = struct.unpack_from("!H", pkt, 4)[0]
        if 40 + plen > len(pkt):
            self.dropped["malformed"] += 1
            return None
        dst = ipaddress.IPv6Address(pkt[24:40])
        src = ipaddress.IPv6Address(pkt[8:24])
        if not dst.is_multicast:
            return None
        if (pkt[25] & 0x0F) <= 2:  # scope: interface-local (1) or link-local (2)
            self.dropped["linkLocal"] += 1
            return None
        hops = pkt[7]
        if hops <= self.threshold:
            self.dropped["ttl"] += 1
            return None
        p = bytearray(pkt[: 40 + plen])
        p[7] = hops - 1
        nxt, off = p[6], 40
        while nxt in IPV6_EXT_HEADERS and off + 8 <= len(p):
            nxt, off = p[off], off + (p[off + 1] + 1) * 8
        if nxt == IPPROTO_UDP and off + 8 <= len(p):
            udp = bytearray(p[off:])
            pseudo = bytes(p[8:40]) + struct.pack("!IxxxB", len(udp), IPPROTO_UDP)
            udp[6:8] = struct.pack("!H", udp_checksum(pseudo, udp))
            p[off:] = udp
        mac = bytes([0x33, 0x33]) + dst.packed[12:16]
        return bytes(p), src, dst, ETH_P_IPV6, mac

    # -- state -------------------------------------------------------------------

    def write_state(self) -> None:
        state = {
            "received": self.received,
            "dropped": self.dropped,
            "entries": [
                {"source": s, "group": g, "iif": i, **e} for (s, g, i), e in sorted(self.entries.items())
            ],
        }
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.state_path)
        self.dirty = False
        self.last_write = time.monotonic()

    def run(self) -> None:
        poller = select.poll()
        for fd in self.rx:
            poller.register(fd, select.POLLIN)
        self.write_state()
        print(json.dumps({"ready": True, "pid": os.getpid(), "interfaces": self.ifnames}), flush=True)
        while True:
            for fd, _ in poller.poll(50):
                name, s = self.rx[fd]
                while True:
                    try:
                        pkt, addr = s.recvfrom(65535)
                    except BlockingIOError:
                        break
                    # addr = (ifname, proto, pkttype, hatype, mac): only frames
                    # that arrived for a multicast MAC, never our own output.
                    if addr[2] == PACKET_MULTICAST and addr[1] in (ETH_P_IP, ETH_P_IPV6):
                        self.handle(name, pkt)
            if self.dirty and time.monotonic() - self.last_write >= 0.05:
                self.write_state()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--routes", required=True, help="JSON list of {from, group, source?, to}")
    ap.add_argument("--state", required=True, help="file to write the forwarding table and counters to")
    ap.add_argument("--threshold", type=int, default=1, help="forward only when TTL/hop limit > this")
    a = ap.parse_args()
    fwd = Forwarder([Route(r) for r in json.loads(a.routes)], a.threshold, a.state)

    def stop(*_):
        fwd.write_state()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    fwd.run()


if __name__ == "__main__":
    main()
