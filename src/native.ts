// The only module that loads the native core. Types for every export are
// declared here by hand (napi build generates none for a crate without the
// napi crate); the Rust side is native/src/js/api.rs.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemError } from './errors.js';

export interface ProtocolInfo {
  id: number;
  name: string;
  family: 'ipv4' | 'ipv6';
  addressFamily: number;
  winsockAddressFamily: number;
  socketType: 'dgram' | 'stream' | 'raw';
  protocol: number;
  protocolMaxOffset: number;
  /** dwServiceFlags1 bit set (XP1_*). */
  serviceFlags: number;
  flags: string[];
  providerFlags: number;
  multipoint: boolean;
  controlPlane: 'rooted' | 'nonrooted' | null;
  dataPlane: 'rooted' | 'nonrooted' | null;
  scopeControl: boolean;
  loopbackControl: boolean;
  sourceSpecific: boolean;
  messageSize: number;
  minSockaddrLength: number;
  maxSockaddrLength: number;
  available: boolean;
  reason: string | null;
}

export interface NativeInterface {
  name: string;
  index: number;
  flags: number;
  up: boolean;
  running: boolean;
  multicast: boolean;
  loopback: boolean;
  addresses: { family: 'ipv4' | 'ipv6'; address: string; prefixLength: number }[];
}

export interface JoinLeafRequest {
  group: string;
  port: number;
  ifindex: number;
  /** JL_SENDER_ONLY | JL_RECEIVER_ONLY | JL_BOTH (exactly one). */
  flags: number;
  sources?: string[];
  filterMode?: 'include' | 'exclude';
  localAddress?: string;
  localPort?: number;
}

export interface SessionInfo {
  group: string;
  port: number;
  ifindex: number;
  mode: 'sender-only' | 'receiver-only' | 'both';
  filterMode: 'include' | 'exclude';
  sources: string[];
}

export interface SocketInfo {
  protocolId: number;
  protocol: string;
  control: 'c_root' | 'c_leaf';
  data: 'd_root' | 'd_leaf';
  loopback: boolean;
  scope: number;
  localAddress: string | null;
  localPort: number | null;
  session: SessionInfo | null;
}

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

export type SeqFormat = 'u32be' | 'u32le' | 'u64be' | 'u64le';

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

export type DecodedDatagram =
  | { kind: 'probe'; session: string; senderId: number; seq: bigint; ttl: number; length: number; sendTimeNs: bigint }
  | { kind: 'reply'; session: string; senderId: number; seq: bigint; recvTtl: number | null; length: number; name: string }
  | { kind: 'foreign' | 'malformed'; reason: string };

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

export interface NativeCore {
  version(): string;
  constants(): Record<string, number>;
  catalog(): ProtocolInfo[];
  interfaces(): NativeInterface[];
  socketOpen(protocolId: number, roleFlags: number): number;
  socketJoinLeaf(handle: number, request: JoinLeafRequest): SessionInfo;
  socketSetLoopback(handle: number, on: boolean): void;
  socketSetScope(handle: number, scope: number): void;
  socketInfo(handle: number): SocketInfo;
  socketLeave(handle: number): void;
  socketClose(handle: number): boolean;
  receiverStart(
    sockets: number[],
    options: {
      maxPackets?: number;
      recvBuffer?: number;
      rtpClock?: number;
      /** Clocks of payload types from an SDP's a=rtpmap lines (at most 8). */
      sdpClocks?: { payloadType: number; clock: number }[];
      pcrMaxMs?: number;
      /** A counter the user placed (`--seq-format`, `--seq-offset`). */
      seqFormat?: SeqFormat;
      seqOffset?: number;
      merge?: boolean;
    },
  ): number;
  senderStart(
    socket: number,
    options: { rate: number; size: number; count?: number; durationMs?: number; senderId?: number; sendBuffer?: number; retry?: boolean },
  ): number;
  engineSnapshot(handle: number): any;
  engineStop(handle: number): any;
  probeDecode(datagram: Buffer): DecodedDatagram;
  probeEncode(probe: { size?: number; session?: number; senderId?: number; seq?: number; ttl?: number }): Buffer;
  responderStart(
    sockets: number[],
    options: { name?: string; allow?: string[]; perSourcePps?: number; burst?: number; globalPps?: number; maxSources?: number; ignoreSessions?: string[]; replyTtl?: number },
  ): number;
  pingerStart(socket: number, options: { intervalMs: number; count?: number; size: number; waitMs: number; deadlineMs?: number; senderId?: number; session?: string }): number;
  randomSession(): string;
  fuzzDecode(iterations: number, seed: number): { total: number; probes: number; replies: number; foreign: number; malformed: number; panics: number };
}

/** A native error as thrown by the core: `code` is an errno name or an E_* id. */
export interface NativeError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as NativeError).code === 'string';
}

const BUILD_HINT = 'npm run build:native';

function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/native.js -> ../../native ; src/native.ts (ts-node style) -> ../native
  const roots = [join(here, '..', '..', 'native'), join(here, '..', 'native')];
  const names = [`mcast-core.${process.platform}-${process.arch}-gnu.node`, 'mcast-core.node'];
  return roots.flatMap((r) => names.map((n) => join(r, n)));
}

let loaded: NativeCore | undefined;

/** The native core, loaded once. Throws one actionable line when it is missing. */
export function native(): NativeCore {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    throw systemError('E_UNSUPPORTED_OS', `mcast's native core supports Linux only; this is ${process.platform}.`);
  }
  const require = createRequire(import.meta.url);
  const tried = candidates();
  const found = tried.find((p) => existsSync(p));
  if (!found) {
    throw systemError('E_NATIVE_MISSING', `mcast's native core is not built (looked for ${tried[0]}); run '${BUILD_HINT}'.`);
  }
  try {
    loaded = require(found) as NativeCore;
  } catch (e) {
    throw systemError('E_NATIVE_LOAD', `mcast's native core at ${found} failed to load (${(e as Error).message.split('\n')[0]}); rebuild with '${BUILD_HINT}'.`, e);
  }
  return loaded;
}

// ---- ssmping / asmping (native/src/engine/ssmping_{server,client}.rs) ----

export interface SsmpingServerOptions {
  /** UDP port to serve (default 4321). */
  port?: number;
  ipv4?: boolean;
  ipv6?: boolean;
  /** Answer only requests arriving here; multicast copies leave here (0 = any, routing chooses). */
  ifindex?: number;
  allow?: string[];
  /** Requests answered per second per source (each answer is two copies); default 2, burst 5. */
  perSourcePps?: number;
  burst?: number;
  /** Requests answered per second in all (default 100). */
  globalPps?: number;
  maxSources?: number;
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

export interface SsmpingClientOptions {
  /** A session joined JoinLeaf 'both' at port 0: (S,G) for ssm, (*,G') for asm. */
  socket: number;
  server: string;
  serverPort?: number;
  mode?: 'ssm' | 'asm';
  intervalMs?: number;
  count?: number;
  waitMs?: number;
  deadlineMs?: number;
  clientId?: number;
}

export interface NativeCore {
  ssmpingServerStart(options: SsmpingServerOptions): number;
  ssmpingClientStart(options: SsmpingClientOptions): number;
}

// ---- passive querier listener (native/src/engine/querier.rs) ----

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

export interface NativeCore {
  /** Passive listener: never sends a query. Engine handle for engineSnapshot/engineStop (QuerierSnapshot). */
  querierStart(options: { ifindex?: number; ipv4?: boolean; ipv6?: boolean }): number;
}

/** What a Linux bridge knows about one family's querier (rtnetlink IFLA_BR_MCAST_QUERIER_STATE). */
export interface BridgeQuerierFamily {
  address: string | null;
  /** ifindex of the bridge port it was heard on (0 or null: the bridge itself). */
  port: number | null;
  /** Centiseconds left of "other querier present" (0: none heard). */
  otherTimerCs: number | null;
}

export interface NativeCore {
  /** The querier a bridge on this host follows; null when the link is not a bridge or the kernel does not say. */
  bridgeQuerierState(ifindex: number): { ipv4: BridgeQuerierFamily; ipv6: BridgeQuerierFamily } | null;
}
