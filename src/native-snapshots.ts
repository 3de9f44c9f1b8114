// What the native core's engines show of themselves: the objects
// engineSnapshot / engineStop return, one interface per engine. The Rust
// side that spells these names is native/src/js/snapshot/ (the engines
// return plain Rust structs; only that layer names fields), so a field is
// added or renamed there and here together.

export interface SenderSnapshot {
  /** Probes the kernel accepted. */
  sent: number;
  /** Probes the kernel's egress path refused; `skipped` of them were not sent again (retry off). */
  refused: number;
  skipped: number;
  retry: boolean;
  bytes: number;
  elapsedMs: number;
  askedRate: number;
  achievedRate: number;
  errors: { code: string; count: number }[];
  lastError: string | null;
  done: boolean;
  /** Why the sender stopped early (every engine says `error`), else null. */
  error: string | null;
  session: string;
  senderId: number;
  size: number;
  sendCalls: number;
  gapMinUs: number;
  gapMaxUs: number;
  sendBuffer: number;
  /** --gso was asked for. */
  gso: boolean;
  /** The errno name that made the sender give UDP GSO up for sendmmsg, else null. */
  gsoFallback: string | null;
}

/** Arrival times of a stream or a group (native/src/stats/arrival.rs). */
export interface Arrival {
  /** Typical gap between packets (null before the second packet). */
  interArrivalMs: number | null;
  /** Gap beyond which a silence counts as an outage (null until the pattern is known). */
  outageThresholdMs: number | null;
  /** Time from the last packet to the end of the window (null: nothing received). */
  silenceMs: number | null;
  longestGapMs: number;
  outages: {
    count: number;
    totalMs: number;
    /** Packets the stream would have carried meanwhile at its own spacing: an estimate. */
    missedEstimate: number;
    /** The newest (at most 32): start relative to the start of the run. */
    recent: { startMs: number; durationMs: number; missedEstimate: number }[];
  };
}

export interface SenderStats {
  address: string;
  port: number;
  group: string;
  received: number;
  bytes: number;
  /** Packets/s from this sender's first packet to the end of the window (a stopped stream decays). */
  rate: number;
  probes: number;
  lost: number;
  duplicates: number;
  reordered: number;
  ttl: { min: number | null; max: number | null; last: number | null };
  /** Kernel receive time of the first/last packet, ms since the epoch. */
  firstArrival: number;
  lastArrival: number;
  firstSeenMs: number;
  lastSeenMs: number;
  arrival: Arrival;
  /** Packets per bucket since the receiver started (zeros for silences, up to the end of the window). */
  timeline: { bucketMs: number; counts: number[] };
  probe: null | {
    session: string;
    senderId: number;
    senderTtl: number;
    hops: number | null;
    received: number;
    /** Exact: a bigint above 2^53 - 1 (a number taken from the network; printed as an exact integer). */
    highestSeq: number | bigint | null;
    /** Lowest sequence number accounted for in the current session. */
    firstSeq: number | bigint | null;
    /** Heard from the session's start: seq 0 arrived, or the receiver listened before it started. */
    startSeen: boolean;
    /** Sequence numbers missing before the first one heard (part of `lost`). */
    headLost: number;
    /** The sender's spacing between probes, from its own timestamps. */
    senderIntervalMs: number | null;
    /** The schedule the sender's probes announce (pacing block, docs/wire-format.md): null from senders that do not say. */
    announced: { intervalMs: number | null; planned: number | null } | null;
    /** Probes whose sequence number lay far outside the stream's window (forged, corrupt): counted, not accounted. */
    strays: number;
    /** Late probes of an earlier session of this sender (not a restart). */
    stale: number;
    sessions: number;
    delay: { min: number | null; avg: number | null; max: number | null; jitter: number };
  };
  foreign: { packets: number; bytes: number };
  replies: number;
  malformed: number;
  /** What the flow is (classified over its first 16 datagrams), and how sure. */
  kind: FlowKind;
  confidence: number;
  rtp: RtpStats | null;
  ts: TsStats | null;
  /** RFC 4445 Media Delivery Index: delay factor (ms, worst 1 s interval) and media loss rate (TS packets/s). */
  mdi: { df: number | null; dfLast: number | null; mlr: number } | null;
  /** Sequenced feeds: iperf2, MoldUDP64, a generic counter. */
  sequence: { format: string; offset: number; received: number; lost: number; duplicates: number; reordered: number; strays: number; heartbeats: number } | null;
  /** The sender's own habits that look like faults but are not the network's: `rtp-timestamps-out-of-order`, `pcr-spacing`. */
  quirks: FlowQuirk[];
}

export type FlowQuirk = 'rtp-timestamps-out-of-order' | 'pcr-spacing';

export type FlowKind = 'mcast-probe' | 'rtp' | 'rtp-mpeg-ts' | 'mpeg-ts' | 'rtcp' | 'iperf2' | 'ssmping' | 'moldudp64' | 'counter' | 'unknown';

export interface RtpStats {
  received: number;
  lost: number;
  duplicates: number;
  reordered: number;
  resets: number;
  ssrc: string;
  ssrcChanges: number;
  payloadType: number;
  markers: number;
  markerRate: number;
  timestampsBackwards: number;
  jitterMs: number | null;
  clock: number | null;
  clockInferred: boolean;
  /** Where the clock came from: the static payload-type table, `--clock`, the SDP's a=rtpmap, or inferred. */
  clockSource: 'payload-type' | 'given' | 'sdp' | 'inferred' | null;
}

export interface TsStats {
  packets: number;
  syncLoss: number;
  syncByteErrors: number;
  patErrors: number;
  ccErrors: number;
  pmtErrors: number;
  transportErrors: number;
  crcErrors: number;
  pidErrors: number;
  ptsErrors: number;
  pcrRepetitionErrors: number;
  pcrDiscontinuities: number;
  pcrMaxIntervalMs: number;
  /** PCR intervals judged, and their mean (ms; null before one). */
  pcrIntervals: number;
  pcrAvgIntervalMs: number | null;
  pidOverflow: number;
  programs: { program: number; pmtPid: number }[];
  pids: { pid: number; packets: number; bitrate: number }[];
}

export interface MergeStats {
  streams: {
    kind: 'mcast-probe' | 'rtp';
    /** Probe session (16 hex digits) or RTP SSRC (`0x…`). */
    id: string;
    /** Distinct sequence numbers received on either leg, and those missing on both. */
    received: number;
    lost: number;
    /** Numbers seen on both legs. */
    pairs: number;
    /** B's arrival minus A's for the same number (ms). */
    skewMs: { min: number; avg: number; max: number } | null;
  }[];
  /** Streams beyond the 64 merged at once. */
  overflow: number;
}

export interface ReceiverSnapshot {
  elapsedMs: number;
  received: number;
  bytes: number;
  probes: number;
  replies: number;
  foreign: number;
  malformed: number;
  malformedReasons: Record<string, number>;
  truncated: number;
  unexpected: number;
  overflow: number;
  /** Packets and senders beyond the 4096-sender table: in the totals, in no sender's row. */
  untracked: Untracked;
  recvCalls: number;
  recvBuffer: number;
  countReached: boolean;
  done: boolean;
  error: string | null;
  /** A/B merging of two groups (join --merge): per probe session or RTP SSRC seen on the legs; null without --merge. */
  merge: MergeStats | null;
  /** Probes outside every stream's accounting (sum of the senders' strays and stale). */
  strays: number;
  stale: number;
  groups: {
    group: string;
    port: number;
    ifindex: number;
    received: number;
    bytes: number;
    /** Senders of this group beyond the sender table (see `untracked`). */
    untrackedSenders: number;
    joinLatencyMs: number | null;
    /** When the group was joined, its first and last packet, relative to the start of the run. */
    joinedMs: number;
    firstPacketMs: number | null;
    lastPacketMs: number | null;
    /** From the join to the end of the window. */
    windowMs: number;
    arrival: Arrival;
  }[];
  senders: SenderStats[];
}

export interface ResponderSnapshot {
  elapsedMs: number;
  name: string;
  received: number;
  probes: number;
  replies: number;
  bytesIn: number;
  bytesOut: number;
  refused: { notAllowed: number; badSource: number; localSource: number; lowPort: number; sourceRate: number; globalRate: number; own: number };
  /** Refusal reports sent: datagrams that answer no probe and tell a prober which of its last probes were refused. */
  reports: number;
  sendErrors: number;
  lastSendError: string | null;
  foreign: number;
  malformed: number;
  repliesSeen: number;
  probers: {
    address: string;
    probes: number;
    replies: number;
    refused: number;
    refusedSourceRate: number;
    refusedGlobalRate: number;
    reports: number;
    bytesIn: number;
    bytesOut: number;
    ttl: number | null;
    firstSeenMs: number;
  }[];
  proberOverflow: number;
  untracked: Untracked;
  trackedSources: number;
  evictions: number;
  limits: { perSourcePps: number; burst: number; globalPps: number; maxSources: number };
  done: boolean;
  error: string | null;
}

export interface RttSummary {
  min: number | null;
  avg: number | null;
  max: number | null;
  mdev: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** What did not fit in a bounded table: packets, bytes and distinct senders (a lower bound when sendersCapped). */
export interface Untracked {
  packets: number;
  bytes: number;
  senders: number;
  sendersCapped: boolean;
}

export interface ResponderStats {
  address: string;
  /** The port its replies come from: two responders on one host are two rows. */
  port: number;
  name: string;
  received: number;
  /** Probes the responder said it refused (its rate limits), never counted as loss: sent = received + refused + lost. */
  refused: number;
  refusedBy: { proberLimit: number; globalLimit: number };
  /** The responder reports its refusals (it and the probe size support the refusal block). */
  refusalsReported: boolean;
  /** Its per-prober limit in replies/s, once it said it. */
  limitPerSecond: number | null;
  /** sent - refused: the probes whose round trip could be measured. */
  judged: number;
  /** Refusal reports received from it. */
  reports: number;
  lost: number;
  lossPercent: number;
  lostSinceFirst: number;
  lossSinceFirstPercent: number;
  duplicates: number;
  reordered: number;
  firstSeq: number;
  firstSeenMs: number;
  lastSeenMs: number;
  hops: number | null;
  recvTtl: number | null;
  ttlChanged: boolean;
  rtt: RttSummary;
  jitter: number;
  oneWay: { min: number | null; avg: number | null; max: number | null };
}

export interface PingerSnapshot {
  elapsedMs: number;
  session: string;
  sent: number;
  received: number;
  stray: number;
  foreign: number;
  malformed: number;
  overflow: number;
  /** Replies of responders beyond the 1024 listed: packets and responders (senders). */
  untracked: Untracked;
  sendErrors: { code: string; count: number }[];
  lastSendError: string | null;
  sendingDone: boolean;
  done: boolean;
  error: string | null;
  responders: ResponderStats[];
}

export interface SsmpingClientRecord {
  address: string;
  requests: number;
  unicastReplies: number;
  multicastReplies: number;
  refused: number;
  bytesIn: number;
  bytesOut: number;
  lastSeq: number | null;
  lastGroup: string | null;
  ttl: number | null;
  firstSeenMs: number;
  lastSeenMs: number;
}

export interface SsmpingServerSnapshot {
  elapsedMs: number;
  port: number;
  listening: { family: 'ipv4' | 'ipv6'; address: string; port: number }[];
  /** Why IPv6 is not served although asked for (no IPv6 here), else null. */
  ipv6Unavailable: string | null;
  ifindex: number;
  received: number;
  bytesIn: number;
  requests: number;
  requestBytes: number;
  unicastReplies: number;
  multicastReplies: number;
  unicastBytes: number;
  multicastBytes: number;
  bytesOut: number;
  /** Largest (reply - request) length seen: 0, replies are never larger than requests. */
  maxGrowth: number;
  ignored: number;
  malformed: number;
  malformedReasons: Record<string, number>;
  refused: { notAllowed: number; badSource: number; localSource: number; lowPort: number; badDestination: number; otherInterface: number; sourceRate: number; globalRate: number };
  multicastRefused: { familyMismatch: number; notSsmpingGroupId: number; notMulticast: number; reservedScope: number };
  sendErrors: number;
  lastSendError: string | null;
  clients: SsmpingClientRecord[];
  clientOverflow: number;
  untracked: Untracked;
  trackedSources: number;
  evictions: number;
  limits: { perSourcePps: number; burst: number; globalPps: number; maxSources: number; minClientPort: number; maxRequestBytes: number };
  done: boolean;
  error: string | null;
}

export interface SsmpingPathStats {
  received: number;
  lost: number;
  lossPercent: number;
  duplicates: number;
  reordered: number;
  rtt: { min: number | null; avg: number | null; max: number | null; mdev: number | null };
  /** 64 - TTL (ssmping::hops_from_ttl) of the last reply; null before any. */
  hops: number | null;
  ttl: number | null;
  ttlChanged: boolean;
  bytes: number;
  firstSeq: number | null;
  firstSeenMs: number | null;
}

export interface SsmpingMulticastStats extends SsmpingPathStats {
  /** Loss counted from the first multicast reply on (as Debian's ssmping). */
  lostSinceFirst: number;
  lossSinceFirstPercent: number;
}

export interface SsmpingReplyEvent {
  /** 1, 2, 3 ... over the run: print those above the last one printed. */
  n: number;
  path: 'unicast' | 'multicast';
  seq: number;
  ttl: number | null;
  hops: number | null;
  rttMs: number | null;
  bytes: number;
  duplicate: boolean;
}

export interface SsmpingClientSnapshot {
  elapsedMs: number;
  server: string;
  serverPort: number;
  group: string;
  mode: 'ssm' | 'asm';
  clientId: number;
  localAddress: string | null;
  localPort: number | null;
  sent: number;
  requestBytes: number;
  received: number;
  unicast: SsmpingPathStats;
  multicast: SsmpingMulticastStats;
  ignored: { wrongSource: number; notOurs: number; tooShort: number; malformed: number; unexpectedSeq: number; otherGroup: number };
  sendErrors: number;
  lastSendError: string | null;
  /** The last 256 replies (duplicates included). */
  events: SsmpingReplyEvent[];
  eventCount: number;
  sendingDone: boolean;
  done: boolean;
  error: string | null;
}


/** One IGMP/MLD query as heard (fields of the last general query for a querier). */
export interface HeardQuery {
  family: 'ipv4' | 'ipv6';
  protocol: 'IGMPv1' | 'IGMPv2' | 'IGMPv3' | 'MLDv1' | 'MLDv2';
  version: number;
  source: string;
  destination: string | null;
  /** 0.0.0.0 / :: for a general query. */
  group: string;
  general: boolean;
  maxRespMs: number;
  sFlag: boolean;
  qrv: number | null;
  qqicS: number | null;
  sources: number;
  ttl: number | null;
  routerAlert: boolean | null;
}

export interface HeardQuerier extends HeardQuery {
  ifindex: number;
  queries: number;
  generalQueries: number;
  firstHeardMs: number;
  lastHeardMs: number;
  lastGeneralMs: number | null;
  sinceLastMs: number;
  /** Gaps between consecutive general queries (the last 32). */
  gapsMs: number[];
}

export interface QueryEvent extends HeardQuery {
  /** 1, 2, ...: a poller shows the events with n above the last it saw. */
  n: number;
  atMs: number;
  ifindex: number;
}

export interface QuerierListening {
  asked: boolean;
  listening: boolean;
  /** Why not (e.g. `EPERM (socket failed: ...)` without CAP_NET_RAW). */
  error: string | null;
}

export interface QuerierSnapshot {
  elapsedMs: number;
  ipv4: QuerierListening;
  ipv6: QuerierListening;
  queriers: HeardQuerier[];
  events: QueryEvent[];
  eventCount: number;
  malformed: number;
  /** MLD queries the kernel would discard too (source not link-local, hop limit not 1). */
  ignored: number;
  otherInterface: number;
  done: boolean;
  error: string | null;
}


/** Every engine's snapshot. Each has `done` and `error` (why it stopped early, else null). */
export type EngineSnapshot = ReceiverSnapshot | SenderSnapshot | ResponderSnapshot | PingerSnapshot | SsmpingServerSnapshot | SsmpingClientSnapshot | QuerierSnapshot;

declare const snapshotOf: unique symbol;

/**
 * An engine's handle: a number for the core, typed with the snapshot its
 * engine gives, so `engineSnapshot(handle)` needs no cast. A plain number is
 * accepted too (then the snapshot type comes from the caller's context).
 */
export type EngineHandle<S extends EngineSnapshot = EngineSnapshot> = number & { readonly [snapshotOf]?: S };
