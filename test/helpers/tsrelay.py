#!/usr/bin/env python3
"""tsrelay: a deterministic impairment relay for the stream tests.

A generator in a lab namespace sends MPEG-TS (raw, or inside RTP) by unicast
to 127.0.0.1:PORT; this relay, in the same namespace, re-sends every datagram
to a multicast group out of the namespace's interface, damaging chosen
datagrams on the way. Damage is chosen by the input datagram's number (from
1), so a test knows the ground truth exactly. Not a user-facing tool.

  --reorder K   hold datagram K and send it right after K+1
  --dup K       send datagram K twice
  --drop K      do not send datagram K
  --ts-drop K   remove one TS packet from datagram K: a payload-only packet
                (no adaptation field, no payload_unit_start) of a PID other
                than PAT/CAT/null, so that PID's continuity counter skips once
  --tei K       set transport_error_indicator on one TS packet of datagram K
  --crc K       break the CRC of the first PAT section at or after datagram K
  (each repeatable, or comma-separated; a TS action that finds no packet that
  fits in datagram K moves to the next datagram)

Prints {"ready": true} once bound; on SIGTERM/SIGINT, or after --idle seconds
without input once traffic started, prints what it did as one JSON line:
{"received", "sent", "reordered", "duplicated", "dropped", "tsDropped",
"tei", "crc"} and exits 0.
"""
import argparse
import json
import select
import signal
import socket
import struct
import sys

TS = 188


def numbers(values):
    out = set()
    for v in values or []:
        out.update(int(x) for x in v.split(',') if x)
    return out


def ts_offset(d):
    """Where the TS packets start: 0 for raw TS, after the RTP header otherwise."""
    if d[:1] == b'\x47' and len(d) % TS == 0:
        return 0
    if len(d) >= 12 and d[0] >> 6 == 2:
        off = 12 + 4 * (d[0] & 0x0F)
        if d[0] & 0x10 and len(d) >= off + 4:
            off += 4 + 4 * struct.unpack('!H', d[off + 2:off + 4])[0]
        if d[off:off + 1] == b'\x47':
            return off
    return None


def packets(d, off):
    return [off + i * TS for i in range((len(d) - off) // TS)]


def plain_payload_packet(d, p):
    pid = ((d[p + 1] & 0x1F) << 8) | d[p + 2]
    pusi = d[p + 1] & 0x40
    afc = (d[p + 3] >> 4) & 0x3
    return pid not in (0, 1, 0x1FFF) and not pusi and afc == 1


def ts_drop(d):
    off = ts_offset(d)
    if off is None:
        return None
    for p in packets(d, off):
        if plain_payload_packet(d, p):
            return d[:p] + d[p + TS:]
    return None


def tei(d):
    off = ts_offset(d)
    if off is None:
        return None
    for p in packets(d, off):
        if plain_payload_packet(d, p):
            b = bytearray(d)
            b[p + 1] |= 0x80
            return bytes(b)
    return None


def break_pat_crc(d):
    off = ts_offset(d)
    if off is None:
        return None
    for p in packets(d, off):
        pid = ((d[p + 1] & 0x1F) << 8) | d[p + 2]
        afc = (d[p + 3] >> 4) & 0x3
        if pid != 0 or not d[p + 1] & 0x40 or afc != 1:
            continue
        sec = p + 5 + d[p + 4]
        length = ((d[sec + 1] & 0x0F) << 8) | d[sec + 2]
        end = sec + 3 + length
        if d[sec] != 0 or end > p + TS:
            continue
        b = bytearray(d)
        b[end - 1] ^= 0x01  # the last byte of the CRC_32
        return bytes(b)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--listen', type=int, required=True, help='UDP port on 127.0.0.1')
    ap.add_argument('--group', required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--iface-addr', required=True, help='IPv4 address of the outgoing interface')
    ap.add_argument('--ttl', type=int, default=1)
    ap.add_argument('--idle', type=float, default=3.0)
    for a in ('reorder', 'dup', 'drop', 'ts-drop', 'tei', 'crc'):
        ap.add_argument('--' + a, action='append')
    o = ap.parse_args()
    reorder, dup, drop = numbers(o.reorder), numbers(o.dup), numbers(o.drop)
    pending = {'ts-drop': sorted(numbers(o.ts_drop)), 'tei': sorted(numbers(o.tei)), 'crc': sorted(numbers(o.crc))}
    actions = {'ts-drop': ts_drop, 'tei': tei, 'crc': break_pat_crc}
    done = {'received': 0, 'sent': 0, 'reordered': 0, 'duplicated': 0, 'dropped': 0, 'tsDropped': 0, 'tei': 0, 'crc': 0}
    key = {'ts-drop': 'tsDropped', 'tei': 'tei', 'crc': 'crc'}

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rx.bind(('127.0.0.1', o.listen))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, o.ttl)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(o.iface_addr))
    dest = (o.group, o.port)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print(json.dumps({'ready': True}), flush=True)

    held = None
    while not stop:
        r, _, _ = select.select([rx], [], [], o.idle if done['received'] else 0.2)
        if not r:
            if done['received']:
                break
            continue
        d = rx.recv(65535)
        done['received'] += 1
        k = done['received']
        for name, due in pending.items():
            if due and due[0] <= k:
                changed = actions[name](d)
                if changed is not None:
                    d = changed
                    due.pop(0)
                    done[key[name]] += 1
        if k in drop:
            done['dropped'] += 1
            continue
        copies = 2 if k in dup else 1
        done['duplicated'] += copies - 1
        if k in reorder and held is None:
            held = d
            continue
        for _ in range(copies):
            tx.sendto(d, dest)
            done['sent'] += 1
        if held is not None:
            tx.sendto(held, dest)
            done['sent'] += 1
            done['reordered'] += 1
            held = None
    if held is not None:
        tx.sendto(held, dest)
        done['sent'] += 1
    print(json.dumps(done), flush=True)


if __name__ == '__main__':
    sys.exit(main())
