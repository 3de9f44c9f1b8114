// The only module that loads the native core. Types for every export are
// declared here by hand (napi build generates none for a crate without the
// napi crate); the Rust side is native/src/js/api.rs, and the snapshot types
// are in native-snapshots.ts.
//
// Defaults live on this side only. The core owns none: every value an engine
// needs (rates, limits, ports, sizes, intervals, ids, names, the reply TTL)
// arrives fully resolved, and a missing one is an ERR_INVALID_ARG. A command
// passes what its options say; the few values no command chooses are filled
// in once, below (`resolve*`, used by `native()`). An absent optional field
// means "none" (no count, no deadline, no allow list), never a value. What the
// core defines (catalog ids, the probe header length) is read from it
// (`catalog()`, `constants()`), not restated.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { systemError } from './errors.js';
import { packageFile } from './package-root.js';
import type {
  EngineHandle,
  EngineSnapshot,
  PingerSnapshot,
  QuerierSnapshot,
  ReceiverSnapshot,
  ResponderSnapshot,
  SenderSnapshot,
  SsmpingClientSnapshot,
  SsmpingServerSnapshot,
} from './native-snapshots.js';

export type * from './native-snapshots.js';

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

export type DecodedDatagram =
  | { kind: 'probe'; session: string; senderId: number; seq: bigint; ttl: number; length: number; sendTimeNs: bigint }
  | { kind: 'reply'; session: string; senderId: number; seq: bigint; recvTtl: number | null; length: number; name: string; echoMonoNs: bigint; report: boolean }
  | { kind: 'foreign' | 'malformed'; reason: string };

export type SeqFormat = 'u32be' | 'u32le' | 'u64be' | 'u64le';

export interface ReceiverOptions {
  maxPackets?: number;
  recvBuffer?: number;
  rtpClock?: number;
  /** Clocks of payload types from an SDP's a=rtpmap lines (at most 8). */
  sdpClocks?: { payloadType: number; clock: number }[];
  pcrMaxMs?: number;
  /** A counter the user placed (`--seq-format`, `--seq-offset`). */
  seqFormat?: SeqFormat;
  seqOffset?: number;
  /** A/B merging of the two groups (absent: off). */
  merge?: boolean;
}

export interface SenderOptions {
  rate: number;
  size: number;
  retry: boolean;
  /** After a late wake-up, send what is due at once instead of spreading it (--catch-up-bursts). */
  catchUpBursts: boolean;
  /** Each batch as one UDP GSO buffer (--gso); sendmmsg where the kernel refuses it. */
  gso: boolean;
  count?: number;
  durationMs?: number;
  sendBuffer?: number;
  /** Default: this process's id. */
  senderId?: number;
}

export interface ResponderOptions {
  perSourcePps: number;
  burst: number;
  globalPps: number;
  /** Default: the host name. */
  name?: string;
  allow?: string[];
  /** Default 4096. */
  maxSources?: number;
  ignoreSessions?: string[];
  /** Default 64. */
  replyTtl?: number;
}

export interface PingerOptions {
  intervalMs: number;
  size: number;
  waitMs: number;
  count?: number;
  deadlineMs?: number;
  /** Default: this process's id. */
  senderId?: number;
  /** 16 hex digits; default: a random session. */
  session?: string;
}

export interface SsmpingServerOptions {
  /** UDP port to serve. */
  port: number;
  /** Answer only requests arriving here; multicast copies leave here (0 = any, routing chooses). */
  ifindex: number;
  /** Requests answered per second per source (each answer is two copies). */
  perSourcePps: number;
  burst: number;
  /** Requests answered per second in all. */
  globalPps: number;
  allow?: string[];
  /** Default: both families. */
  ipv4?: boolean;
  ipv6?: boolean;
  /** Default 4096. */
  maxSources?: number;
}

export interface SsmpingClientOptions {
  /** A session joined JoinLeaf 'both' at port 0: (S,G) for ssm, (*,G') for asm. */
  socket: number;
  server: string;
  serverPort: number;
  mode: 'ssm' | 'asm';
  intervalMs: number;
  waitMs: number;
  count?: number;
  deadlineMs?: number;
  /** Default: random. */
  clientId?: number;
}

export interface QuerierOptions {
  /** Default 0: every interface. */
  ifindex?: number;
  /** Default: both families. */
  ipv4?: boolean;
  ipv6?: boolean;
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
  receiverStart(sockets: number[], options: ReceiverOptions): EngineHandle<ReceiverSnapshot>;
  senderStart(socket: number, options: SenderOptions): EngineHandle<SenderSnapshot>;
  responderStart(sockets: number[], options: ResponderOptions): EngineHandle<ResponderSnapshot>;
  pingerStart(socket: number, options: PingerOptions): EngineHandle<PingerSnapshot>;
  ssmpingServerStart(options: SsmpingServerOptions): EngineHandle<SsmpingServerSnapshot>;
  ssmpingClientStart(options: SsmpingClientOptions): EngineHandle<SsmpingClientSnapshot>;
  /** Passive listener: never sends a query. */
  querierStart(options: QuerierOptions): EngineHandle<QuerierSnapshot>;
  engineSnapshot<S extends EngineSnapshot>(handle: EngineHandle<S>): S;
  /** Stops the engine, waits for its thread and returns its final snapshot; the handle is gone after. */
  engineStop<S extends EngineSnapshot>(handle: EngineHandle<S>): S;
  probeDecode(datagram: Buffer): DecodedDatagram;
  probeEncode(probe: { size?: number; session?: number; senderId?: number; seq?: number; ttl?: number }): Buffer;
  randomSession(): string;
  fuzzDecode(iterations: number, seed: number): { total: number; probes: number; replies: number; foreign: number; malformed: number; panics: number };
  /** The querier a bridge on this host follows; null when the link is not a bridge or the kernel does not say. */
  bridgeQuerierState(ifindex: number): { ipv4: BridgeQuerierFamily; ipv6: BridgeQuerierFamily } | null;
}

/** The core as loaded: every start function takes fully resolved options. */
type RawCore = Omit<NativeCore, 'senderStart' | 'responderStart' | 'pingerStart' | 'ssmpingServerStart' | 'ssmpingClientStart' | 'querierStart'> & {
  senderStart(socket: number, options: Required<Omit<SenderOptions, 'count' | 'durationMs' | 'sendBuffer'>> & SenderOptions): EngineHandle<SenderSnapshot>;
  responderStart(sockets: number[], options: Required<Omit<ResponderOptions, 'allow' | 'ignoreSessions'>> & ResponderOptions): EngineHandle<ResponderSnapshot>;
  pingerStart(socket: number, options: Required<Omit<PingerOptions, 'count' | 'deadlineMs'>> & PingerOptions): EngineHandle<PingerSnapshot>;
  ssmpingServerStart(options: Required<Omit<SsmpingServerOptions, 'allow'>> & SsmpingServerOptions): EngineHandle<SsmpingServerSnapshot>;
  ssmpingClientStart(options: Required<Omit<SsmpingClientOptions, 'count' | 'deadlineMs'>> & SsmpingClientOptions): EngineHandle<SsmpingClientSnapshot>;
  querierStart(options: Required<QuerierOptions>): EngineHandle<QuerierSnapshot>;
};

/** Table sizes the engines keep per source (responder probers, ssmping clients). */
const MAX_SOURCES = 4096;
/** TTL / hop limit of the responder's unicast replies. */
const REPLY_TTL = 64;

/** The values no command chooses, filled in once (see the top of this file). */
function withDefaults(raw: RawCore): NativeCore {
  return {
    ...raw,
    senderStart: (socket, o) => raw.senderStart(socket, { ...o, senderId: o.senderId ?? process.pid }),
    responderStart: (sockets, o) =>
      raw.responderStart(sockets, { ...o, name: o.name ?? hostname(), maxSources: o.maxSources ?? MAX_SOURCES, replyTtl: o.replyTtl ?? REPLY_TTL }),
    pingerStart: (socket, o) => raw.pingerStart(socket, { ...o, senderId: o.senderId ?? process.pid, session: o.session ?? randomHex(8) }),
    ssmpingServerStart: (o) => raw.ssmpingServerStart({ ...o, ipv4: o.ipv4 ?? true, ipv6: o.ipv6 ?? true, maxSources: o.maxSources ?? MAX_SOURCES }),
    ssmpingClientStart: (o) => raw.ssmpingClientStart({ ...o, clientId: o.clientId ?? crypto.getRandomValues(new Uint32Array(1))[0] }),
    querierStart: (o) => raw.querierStart({ ifindex: o.ifindex ?? 0, ipv4: o.ipv4 ?? true, ipv6: o.ipv6 ?? true }),
  };
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
  const names = [`mcast-core.${process.platform}-${process.arch}-gnu.node`, 'mcast-core.node'];
  return names.map((n) => packageFile('native', n));
}

// Web Crypto's global, not node:crypto: importing that module costs start-up
// time on every command, and only ping's session id needs randomness.
function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
}

let loaded: NativeCore | undefined;

/** The native core, loaded once. Throws one actionable line when it is missing. */
export function native(): NativeCore {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    throw systemError('E_UNSUPPORTED_OS', `mcast's native core supports Linux only; this is ${process.platform}.`);
  }
  const require = createRequire(packageFile('package.json'));
  const tried = candidates();
  const found = tried.find((p) => existsSync(p));
  if (!found) {
    throw systemError('E_NATIVE_MISSING', `mcast's native core is not built (looked for ${tried[0]}); run '${BUILD_HINT}'.`);
  }
  try {
    loaded = withDefaults(require(found) as RawCore);
  } catch (e) {
    throw systemError('E_NATIVE_LOAD', `mcast's native core at ${found} failed to load (${(e as Error).message.split('\n')[0]}); rebuild with '${BUILD_HINT}'.`, e);
  }
  return loaded;
}
