// What is known about the IGMP/MLD querier of one interface and family, from
// the passive listener (native/src/engine/querier.rs) or, without
// CAP_NET_RAW, from what procfs proves (the version in force, the querier timers). Pure.
//
// Rules: the lowest address wins the election (RFC 3376 6.6.2, RFC 3810
// 7.6.2); the interval is the median gap between general queries when two
// were heard, else the querier's own QQIC; no query heard over 1.5 default
// query intervals means none reaches this host, anything shorter is
// inconclusive (start-up queries come every 31 s, then every 125 s).

import type { HeardQuerier, QuerierListening } from '../native.js';

/** RFC 3376 / 3810 defaults. */
export const DEFAULT_QUERY_INTERVAL_S = 125;
export const DEFAULT_QUERY_RESPONSE_S = 10;
export const DEFAULT_ROBUSTNESS = 2;
/** Group Membership Interval: 2 x 125 + 10 = 260 s. */
export const DEFAULT_GMI_S = DEFAULT_ROBUSTNESS * DEFAULT_QUERY_INTERVAL_S + DEFAULT_QUERY_RESPONSE_S;
/** Listening this long without a query proves no querier reaches this host. */
export const CONCLUSIVE_LISTEN_S = 1.5 * DEFAULT_QUERY_INTERVAL_S;

export type QuerierSource = 'listen' | 'proc-igmp' | 'dev-snmp6' | 'none';
export type QuerierVerdict = 'heard' | 'missing' | 'inconclusive' | 'unknown';

export interface QuerierSeen {
  address: string;
  version: string;
  queries: number;
  generalQueries: number;
  /** Seconds since it was last heard, at the end of the listen. */
  lastHeardS: number;
  /** The lowest address heard: the one the election makes querier. */
  elected: boolean;
  /** Not elected, yet it sent general queries after the elected one was heard. */
  keepsQuerying: boolean;
}

export interface QuerierReport {
  family: 'ipv4' | 'ipv6';
  /** true heard, false proven absent, null not known. */
  heard: boolean | null;
  verdict: QuerierVerdict;
  /** The elected querier (null when unknown or not learned, e.g. from dev_snmp6). */
  address: string | null;
  version: string | null;
  /** The query interval in seconds: measured when possible, else QQIC. */
  intervalS: number | null;
  measuredIntervalS: number | null;
  qqicS: number | null;
  maxRespS: number | null;
  qrv: number | null;
  /** 2 x interval + max response (RFC 3376 8.4): how long a membership lives without a report. */
  membershipIntervalS: number | null;
  lastHeardS: number | null;
  queries: number;
  generalQueries: number;
  source: QuerierSource;
  queriers: QuerierSeen[];
  /** One sentence for people: what was learned, or what would tell. */
  note: string;
}

export interface QuerierEvidence {
  family: 'ipv4' | 'ipv6';
  listenMs: number;
  listening: QuerierListening;
  /** The listener's queriers on this interface and family. */
  heard: HeardQuerier[];
  /** /proc/net/igmp shows V1/V2 (not forced): an old querier was heard recently. */
  igmpOldQuerier?: 'v1' | 'v2' | null;
  /** Icmp6InGroupMembQueries before and after the listen (dev_snmp6). */
  mldQueries?: { before: number; after: number } | null;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Numeric order of IPv4 / IPv6 text (the election compares addresses as numbers). */
export function compareAddresses(a: string, b: string): number {
  const key = (x: string): bigint => {
    if (!x.includes(':')) return x.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    const [head, tail] = x.split('%')[0]!.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
  };
  const d = key(a) - key(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

function fromListener(e: QuerierEvidence): QuerierReport {
  const listenS = e.listenMs / 1000;
  const sorted = [...e.heard].sort((a, b) => compareAddresses(a.source, b.source));
  const elected = sorted.find((q) => q.generalQueries > 0) ?? sorted[0];
  const base = { family: e.family, source: 'listen' as const, queries: 0, generalQueries: 0 };
  if (!elected) {
    const conclusive = listenS >= CONCLUSIVE_LISTEN_S;
    const proto = e.family === 'ipv4' ? 'IGMP' : 'MLD';
    return {
      ...base,
      heard: conclusive ? false : null,
      verdict: conclusive ? 'missing' : 'inconclusive',
      address: null,
      version: null,
      intervalS: null,
      measuredIntervalS: null,
      qqicS: null,
      maxRespS: null,
      qrv: null,
      membershipIntervalS: null,
      lastHeardS: null,
      queriers: [],
      note: conclusive
        ? `no ${proto} query in ${round1(listenS)} s (more than 1.5 default query intervals): no querier reaches this host`
        : `no ${proto} query in ${round1(listenS)} s: inconclusive (a querier with the default 125 s interval may not have queried yet; --listen 190s decides)`,
    };
  }
  const measured = median(elected.gapsMs);
  const measuredS = measured === null ? null : round1(measured / 1000);
  const qqic = elected.version === 3 || (elected.family === 'ipv6' && elected.version === 2) ? elected.qqicS : null;
  const intervalS = measuredS ?? qqic;
  const maxRespS = elected.maxRespMs / 1000;
  const robustness = elected.qrv && elected.qrv > 0 ? elected.qrv : DEFAULT_ROBUSTNESS;
  const queriers: QuerierSeen[] = sorted.map((q) => ({
    address: q.source,
    version: q.protocol,
    queries: q.queries,
    generalQueries: q.generalQueries,
    lastHeardS: round1(q.sinceLastMs / 1000),
    elected: q === elected,
    keepsQuerying: q !== elected && q.lastGeneralMs !== null && q.lastGeneralMs > elected.firstHeardMs + 1000,
  }));
  const parts = [`querier ${elected.source} (${elected.protocol})`];
  if (qqic !== null) parts.push(`QQIC ${qqic} s`);
  if (measuredS !== null) parts.push(`heard every ${measuredS} s (n=${elected.gapsMs.length})`);
  parts.push(`max-resp ${round1(maxRespS)} s`);
  if (elected.qrv !== null) parts.push(`QRV ${elected.qrv}`);
  parts.push(`last heard ${round1(elected.sinceLastMs / 1000)} s ago`);
  if (queriers.length > 1) parts.push(`${queriers.length} queriers heard, elected: lowest address`);
  return {
    ...base,
    heard: true,
    verdict: 'heard',
    address: elected.source,
    version: elected.protocol,
    intervalS,
    measuredIntervalS: measuredS,
    qqicS: qqic,
    maxRespS,
    qrv: elected.qrv,
    membershipIntervalS: intervalS === null ? null : round1(robustness * intervalS + maxRespS),
    lastHeardS: round1(elected.sinceLastMs / 1000),
    queries: elected.queries,
    generalQueries: elected.generalQueries,
    queriers,
    note: parts.join(', '),
  };
}

/** The unprivileged evidence: V1/V2 in /proc/net/igmp, the dev_snmp6 query counter. */
function fromProcfs(e: QuerierEvidence): QuerierReport {
  const empty = {
    family: e.family,
    address: null,
    version: null,
    intervalS: null,
    measuredIntervalS: null,
    qqicS: null,
    maxRespS: null,
    qrv: null,
    membershipIntervalS: null,
    lastHeardS: null,
    queries: 0,
    generalQueries: 0,
    queriers: [],
  };
  const why = e.listening.error ? ` (listening needs CAP_NET_RAW: ${e.listening.error.split(' ')[0]})` : '';
  const tell = e.listening.error ? 'run as root or with CAP_NET_RAW to listen' : `listening tells (--listen 190s)`;
  if (e.family === 'ipv4') {
    if (e.igmpOldQuerier) {
      const v = e.igmpOldQuerier === 'v1' ? 'IGMPv1' : 'IGMPv2';
      return { ...empty, heard: true, verdict: 'heard', version: v, source: 'proc-igmp', note: `an ${v} querier was heard recently (/proc/net/igmp shows ${e.igmpOldQuerier.toUpperCase()}); its address needs the listener${why}` };
    }
    return { ...empty, heard: null, verdict: 'unknown', source: 'none', note: `IGMP querier unknown${why}: /proc/net/igmp shows V3 with or without a querier; ${tell}` };
  }
  const m = e.mldQueries;
  if (m && m.after > m.before) {
    return { ...empty, heard: true, verdict: 'heard', queries: m.after - m.before, source: 'dev-snmp6', note: `${m.after - m.before} MLD queries heard during the listen (Icmp6InGroupMembQueries); address and version need the listener${why}` };
  }
  if (m && m.after > 0) {
    return { ...empty, heard: null, verdict: 'unknown', source: 'dev-snmp6', note: `MLD queries were heard since the interface came up (${m.after}), none during the listen${why}` };
  }
  return { ...empty, heard: null, verdict: 'unknown', source: 'none', note: `MLD querier unknown${why}: no MLD query counted on this interface; ${tell}` };
}

export function querierReport(e: QuerierEvidence): QuerierReport {
  if (e.listening.listening && e.listenMs > 0) return fromListener(e);
  if (e.listening.listening && e.heard.length > 0) return fromListener(e);
  return fromProcfs(e);
}
