// Prometheus metrics of `mcast monitor`, through prom-client. Figures come
// from engine snapshots taken when Prometheus scrapes (never per packet):
// the engines keep cumulative counts, and each scrape adds what grew since
// the previous one to the Prometheus counters, so a target restarted by a
// reload never makes a counter go backwards. Label sets are bounded: group,
// port, interface, source (a sender's address), responder, reason; no
// sequence numbers or other unbounded values. docs/monitoring.md lists every
// metric.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QuerierSnapshot, ReceiverSnapshot, ResponderSnapshot } from '../native.js';
import type { PingResult } from '../commands/ping.js';

type Labels = Record<string, string>;

/** Adds the growth of cumulative values to counters, per label set. */
class Deltas {
  private readonly last = new Map<string, number>();

  add(counter: Counter<string>, labels: Labels, cumulative: number, identity: string): void {
    const key = `${(counter as unknown as { name: string }).name}|${identity}|${JSON.stringify(labels)}`;
    const prev = this.last.get(key) ?? 0;
    this.last.set(key, cumulative);
    // inc(0) on first sight: a series exists (at 0) before its first event.
    counter.inc(labels, Math.max(0, cumulative - prev));
  }

  /** Forget a target's engine (it stopped): its next engine starts from 0. */
  forget(identity: string): void {
    for (const k of this.last.keys()) if (k.split('|')[1] === identity) this.last.delete(k);
  }
}

const RTT_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export class MetricsExporter {
  readonly registry = new Registry();
  private readonly deltas = new Deltas();
  private readonly m;

  constructor() {
    const r = [this.registry];
    const counter = (name: string, help: string, labelNames: string[]) => new Counter({ name, help, labelNames, registers: r });
    const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: r });
    const stream = ['group', 'port', 'source'];
    const grp = ['group', 'port'];
    this.m = {
      packets: counter('mcast_receive_packets_total', 'Datagrams received on a joined group, per sender.', stream),
      bytes: counter('mcast_receive_bytes_total', 'Bytes (UDP payload) received on a joined group, per sender.', stream),
      lost: counter('mcast_receive_lost_total', "Packets lost, from the flow's own sequence numbers (mcast probes, RTP, iperf2, feeds), per sender.", stream),
      duplicates: counter('mcast_receive_duplicates_total', 'Packets received twice, per sender.', stream),
      reordered: counter('mcast_receive_reordered_total', 'Packets that arrived after a later one, per sender.', stream),
      ccErrors: counter('mcast_ts_cc_errors_total', 'MPEG-TS continuity-count errors (TR 101 290 1.4), per sender.', stream),
      malformed: counter('mcast_receive_malformed_total', "Datagrams with mcast's magic that failed validation, per group.", grp),
      streamUp: gauge('mcast_receive_stream_up', '1 while a sender is receiving, 0 once it stalled (silent for 10 of its typical gaps, at least 1 s).', stream),
      joined: gauge('mcast_group_joined', '1 while the group is joined.', ['group', 'port', 'interface']),
      silence: gauge('mcast_group_seconds_since_last_packet', 'Seconds since the last packet of the group (since the join when none arrived).', grp),
      probes: counter('mcast_responder_probes_total', 'Probes received by the responder.', grp),
      replies: counter('mcast_responder_replies_total', 'Replies the responder sent.', grp),
      refused: counter('mcast_responder_refused_total', 'Probes the responder refused, by reason.', [...grp, 'reason']),
      pingSent: counter('mcast_ping_probes_sent_total', 'Probes sent by the periodic pinger.', grp),
      pingReplies: counter('mcast_ping_replies_total', 'Replies received from each responder.', [...grp, 'responder']),
      pingLost: counter('mcast_ping_lost_total', 'Probes lost on the way to or from each responder (refusals excluded).', [...grp, 'responder']),
      pingRefused: counter('mcast_ping_refused_total', "Probes a responder refused (its rate limit): never loss.", [...grp, 'responder']),
      pingResponders: gauge('mcast_ping_responders', 'Responders that answered the last round.', grp),
      rtt: new Histogram({ name: 'mcast_ping_rtt_seconds', help: "Each round's mean round-trip time per responder.", labelNames: [...grp, 'responder'], buckets: RTT_BUCKETS_S, registers: r }),
      targets: gauge('mcast_monitor_targets', 'Targets being monitored, by kind.', ['kind']),
      querierListening: gauge('mcast_querier_listening', '1 while queries are listened for (needs CAP_NET_RAW), per family.', ['family']),
      querierQueries: counter('mcast_querier_queries_total', 'IGMP/MLD queries heard, per querier (never sent by mcast).', ['interface', 'family', 'querier', 'protocol']),
      querierSilence: gauge('mcast_querier_seconds_since_general_query', 'Seconds since the last general query on an interface (since listening began when none was heard).', ['interface', 'family']),
      up: gauge('mcast_monitor_engine_up', '1 while the engine of a target runs, 0 when it stopped with an error.', ['kind', 'group', 'port']),
    };
    this.processHealth(r);
  }

  /**
   * The process's own health, in the standard names. (prom-client's default
   * collector also exports gauges named `nodejs_active_*_total`, which
   * `promtool check metrics` rejects.)
   */
  private processHealth(r: Registry[]): void {
    const started = Date.now() / 1000 - process.uptime();
    let cpuSeen = 0;
    new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch, in seconds.', registers: r, collect() { this.set(started); } });
    new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', registers: r, collect() { this.set(process.memoryUsage().rss); } });
    new Gauge({ name: 'nodejs_heap_size_used_bytes', help: 'V8 heap in use, in bytes.', registers: r, collect() { this.set(process.memoryUsage().heapUsed); } });
    new Counter({
      name: 'process_cpu_seconds_total',
      help: 'User and system CPU time spent, in seconds.',
      registers: r,
      collect() {
        const u = process.cpuUsage();
        const now = (u.user + u.system) / 1e6;
        this.inc(Math.max(0, now - cpuSeen));
        cpuSeen = now;
      },
    });
  }

  /** Receiver snapshot of one joined group (`identity`: the target's key). */
  receiver(identity: string, g: { group: string; port: number; interface: string }, snap: ReceiverSnapshot): void {
    const grp = { group: g.group, port: String(g.port) };
    this.m.joined.set({ ...grp, interface: g.interface }, snap.error ? 0 : 1);
    this.m.up.set({ kind: 'join', ...grp }, snap.error ? 0 : 1);
    this.deltas.add(this.m.malformed, grp, snap.malformed, identity);
    const group = snap.groups[0];
    const silenceMs = group?.arrival?.silenceMs ?? group?.windowMs ?? 0;
    this.m.silence.set(grp, silenceMs / 1000);
    // A sender restarted on a new port is a new stream with the same labels:
    // sum per label set first, so the counters only ever grow.
    const bySource = new Map<string, { packets: number; bytes: number; lost: number; dup: number; reord: number; cc: number; seq: boolean; ts: boolean; up: boolean }>();
    for (const s of snap.senders) {
      const a = bySource.get(s.address) ?? { packets: 0, bytes: 0, lost: 0, dup: 0, reord: 0, cc: 0, seq: false, ts: false, up: false };
      a.packets += s.received;
      a.bytes += s.bytes;
      const seq = s.probe ? { lost: s.lost, dup: s.duplicates, reord: s.reordered } : s.rtp ? { lost: s.rtp.lost, dup: s.rtp.duplicates, reord: s.rtp.reordered } : s.sequence ? { lost: s.sequence.lost, dup: s.sequence.duplicates, reord: s.sequence.reordered } : null;
      if (seq) {
        a.seq = true;
        a.lost += seq.lost;
        a.dup += seq.dup;
        a.reord += seq.reord;
      }
      if (s.ts) {
        a.ts = true;
        a.cc += s.ts.ccErrors;
      }
      const silence = s.arrival.silenceMs ?? Infinity;
      a.up ||= silence <= Math.max(1000, 10 * (s.arrival.interArrivalMs ?? 300));
      bySource.set(s.address, a);
    }
    for (const [source, a] of bySource) {
      const l = { ...grp, source };
      this.deltas.add(this.m.packets, l, a.packets, identity);
      this.deltas.add(this.m.bytes, l, a.bytes, identity);
      if (a.seq) {
        this.deltas.add(this.m.lost, l, a.lost, identity);
        this.deltas.add(this.m.duplicates, l, a.dup, identity);
        this.deltas.add(this.m.reordered, l, a.reord, identity);
      }
      if (a.ts) this.deltas.add(this.m.ccErrors, l, a.cc, identity);
      this.m.streamUp.set(l, a.up ? 1 : 0);
    }
  }

  responder(identity: string, g: { group: string; port: number }, snap: ResponderSnapshot & { error?: string | null }): void {
    const grp = { group: g.group, port: String(g.port) };
    this.m.up.set({ kind: 'respond', ...grp }, snap.error ? 0 : 1);
    this.deltas.add(this.m.probes, grp, snap.probes, identity);
    this.deltas.add(this.m.replies, grp, snap.replies, identity);
    for (const [reason, n] of Object.entries(snap.refused)) this.deltas.add(this.m.refused, { ...grp, reason }, n, identity);
  }

  /** One finished ping round: counters grow by what the round counted; `up` unless its engine failed. */
  pingRound(g: { group: string; port: number }, r: PingResult, up: boolean): void {
    const grp = { group: g.group, port: String(g.port) };
    this.m.up.set({ kind: 'ping', ...grp }, up ? 1 : 0);
    this.m.pingSent.inc(grp, r.sent);
    this.m.pingResponders.set(grp, r.responders.length);
    for (const x of r.responders) {
      const l = { ...grp, responder: x.address };
      this.m.pingReplies.inc(l, x.received);
      this.m.pingLost.inc(l, x.lost);
      this.m.pingRefused.inc(l, x.refused);
      if (x.rtt.avg !== null) this.m.rtt.observe(l, x.rtt.avg / 1000);
    }
  }

  /** The passive querier listener: queries per querier, and how long since a general query per interface and family. */
  querier(snap: QuerierSnapshot, ifname: (index: number) => string, interfaces: { index: number; name: string }[]): void {
    for (const family of ['ipv4', 'ipv6'] as const) {
      const listening = snap[family].listening;
      this.m.querierListening.set({ family }, listening ? 1 : 0);
      if (!listening) continue;
      for (const i of interfaces) {
        const heard = snap.queriers.filter((q) => q.family === family && q.ifindex === i.index && q.lastGeneralMs !== null);
        const last = heard.length ? Math.max(...heard.map((q) => q.lastGeneralMs ?? 0)) : 0;
        this.m.querierSilence.set({ interface: i.name, family }, Math.max(0, snap.elapsedMs - last) / 1000);
      }
    }
    for (const q of snap.queriers) {
      this.deltas.add(this.m.querierQueries, { interface: ifname(q.ifindex), family: q.family, querier: q.source, protocol: q.protocol }, q.queries, 'querier');
    }
  }

  targets(kind: 'join' | 'respond' | 'ping', n: number): void {
    this.m.targets.set({ kind }, n);
  }

  /** A target stopped: drop its label sets that only it had (gauges), and its counter baselines. */
  removed(identity: string, kind: 'join' | 'respond' | 'ping', g: { group: string; port: number; interface?: string }): void {
    this.deltas.forget(identity);
    const grp = { group: g.group, port: String(g.port) };
    this.m.up.remove({ kind, ...grp });
    if (kind === 'join') {
      if (g.interface) this.m.joined.remove({ ...grp, interface: g.interface });
      this.m.silence.remove(grp);
    }
  }
}
