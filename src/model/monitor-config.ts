// What `mcast monitor` watches: groups to keep joined, groups to answer
// probes on, groups to ping periodically, and where metrics are served. From
// flags for a few targets, or from a file (JSON or YAML) for many; validated
// completely before anything starts, each mistake named by its place in the
// file and what is accepted (exit 2).

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { usageError } from '../errors.js';
import { parseGroupSpec, parseSourceAddress, type GroupSpec } from './address-input.js';
import { DEFAULT_PORT, parseCount, parseDuration, parseRate } from './options.js';

export const DEFAULT_METRICS = '127.0.0.1:9464';

export type Group = GroupSpec & { port: number };

export interface JoinTarget {
  group: Group;
  source: string[];
}

export interface RespondTarget {
  group: Group;
  maxRepliesPerSecond: number;
}

export interface PingTarget {
  group: Group;
  everyMs: number;
  count: number;
  intervalMs: number;
  ttl: number;
}

export interface MonitorConfig {
  interface?: string;
  metrics: { host: string; port: number };
  join: JoinTarget[];
  respond: RespondTarget[];
  ping: PingTarget[];
}

/** A stable key per target: a reload keeps the targets whose key did not change. */
export function targetKey(kind: 'join' | 'respond' | 'ping', t: JoinTarget | RespondTarget | PingTarget): string {
  return `${kind} ${JSON.stringify(t)}`;
}

const KEYS = {
  top: ['interface', 'metrics', 'join', 'respond', 'ping'],
  join: ['group', 'port', 'source'],
  respond: ['group', 'port', 'maxRepliesPerSecond'],
  ping: ['group', 'port', 'every', 'count', 'interval', 'ttl'],
};

/** Where in the input a value came from, for messages: `monitor.yaml: ping[1].every`. */
class Place {
  constructor(readonly origin: string) {}
  at(path: string): string {
    return `${this.origin} ${path}`;
  }
}

function bad(where: string, what: string): never {
  throw usageError('E_CONFIG', `${where}: ${what}`);
}

/** Run an option parser, re-labelling its error with the place in the file. */
function field<T>(where: string, parse: (raw: string, name: string) => T, raw: unknown): T {
  if (typeof raw !== 'string' && typeof raw !== 'number') bad(where, `expected a string or a number, got ${JSON.stringify(raw)}`);
  try {
    return parse(String(raw), where);
  } catch (e) {
    bad(where, (e as Error).message.replace(/^.*?: /, ''));
  }
}

function group(where: string, raw: unknown, port: unknown): Group {
  if (typeof raw !== 'string' || raw.trim() === '') bad(where, `expected a multicast group such as 239.1.2.3, 239.1.2.3:5000 or [ff15::1]:5000, got ${JSON.stringify(raw)}`);
  let g: GroupSpec & { port?: number };
  try {
    g = parseGroupSpec(raw);
  } catch (e) {
    bad(where, (e as Error).message);
  }
  const portPlace = `${where.replace(/\.group$/, '')}.port`;
  const p = port === undefined ? (g.port ?? DEFAULT_PORT) : field(portPlace, (r, n) => parseCount(r, n), port);
  if (p < 1 || p > 65535) bad(portPlace, `expected a port 1-65535, got ${p}`);
  return { ...g, port: p };
}

function object(where: string, raw: unknown, keys: string[], groupKey = 'group'): Record<string, unknown> {
  if (typeof raw === 'string') return { [groupKey]: raw };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad(where, `expected a group or an object with ${keys.join(', ')}, got ${JSON.stringify(raw)}`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`${where}.${k}`, `unknown setting (accepted: ${keys.join(', ')})`);
  if (o[groupKey] === undefined) bad(where, `${groupKey} is missing`);
  return o;
}

function list(where: string, raw: unknown): unknown[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) bad(where, `expected a list, got ${JSON.stringify(raw)}`);
  return raw;
}

export function parseMetricsAddress(raw: string, where: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) bad(where, `expected HOST:PORT such as 127.0.0.1:9464 or [::1]:9464, got '${raw}'`);
  return { host: m[1] ?? m[2]!, port };
}

/** Build and validate a configuration from its plain form (parsed flags or a file's content). */
export function buildConfig(raw: unknown, origin: string): MonitorConfig {
  const place = new Place(origin);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad(origin.replace(/:$/, ''), 'expected a mapping with join, respond, ping, metrics or interface');
  const top = raw as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!KEYS.top.includes(k)) bad(place.at(k), `unknown setting (accepted: ${KEYS.top.join(', ')})`);
  if (top.interface !== undefined && (typeof top.interface !== 'string' || top.interface.trim() === '')) bad(place.at('interface'), 'expected an interface name, index or address');
  const metricsRaw = top.metrics ?? DEFAULT_METRICS;
  if (typeof metricsRaw !== 'string') bad(place.at('metrics'), 'expected HOST:PORT');
  const cfg: MonitorConfig = {
    interface: top.interface as string | undefined,
    metrics: parseMetricsAddress(metricsRaw, place.at('metrics')),
    join: list(place.at('join'), top.join).map((x, i) => {
      const w = place.at(`join[${i}]`);
      const o = object(w, x, KEYS.join);
      const g = group(`${w}.group`, o.group, o.port);
      const source = list(`${w}.source`, o.source).map((s, k) => {
        if (typeof s !== 'string') bad(`${w}.source[${k}]`, 'expected a source address');
        try {
          return parseSourceAddress(s, g).address;
        } catch (e) {
          bad(`${w}.source[${k}]`, (e as Error).message);
        }
      });
      return { group: g, source };
    }),
    respond: list(place.at('respond'), top.respond).map((x, i) => {
      const w = place.at(`respond[${i}]`);
      const o = object(w, x, KEYS.respond);
      const limit = o.maxRepliesPerSecond === undefined ? 10 : field(`${w}.maxRepliesPerSecond`, parseRate, o.maxRepliesPerSecond);
      return { group: group(`${w}.group`, o.group, o.port), maxRepliesPerSecond: limit };
    }),
    ping: list(place.at('ping'), top.ping).map((x, i) => {
      const w = place.at(`ping[${i}]`);
      const o = object(w, x, KEYS.ping);
      const everyMs = o.every === undefined ? 10_000 : field(`${w}.every`, (r, n) => parseDuration(r, n, { minMs: 1000 }), o.every);
      const count = o.count === undefined ? 10 : field(`${w}.count`, parseCount, o.count);
      const intervalMs = o.interval === undefined ? 200 : field(`${w}.interval`, (r, n) => parseDuration(r, n, { minMs: 1 }), o.interval);
      const ttl = o.ttl === undefined ? 1 : field(`${w}.ttl`, (r, n) => parseCount(r, n), o.ttl);
      if (count * intervalMs >= everyMs) bad(`${w}.every`, `a round of ${count} probes every ${intervalMs}ms does not fit in ${everyMs}ms: raise every or lower count/interval`);
      if (ttl > 255) bad(`${w}.ttl`, `expected 1-255, got ${ttl}`);
      return { group: group(`${w}.group`, o.group, o.port), everyMs, count, intervalMs, ttl };
    }),
  };
  if (cfg.join.length + cfg.respond.length + cfg.ping.length === 0) bad(origin.replace(/:$/, ''), 'nothing to monitor: give at least one of join, respond or ping');
  return cfg;
}

/** Read and validate a config file: `.json` as JSON, anything else as YAML (a superset of JSON). */
export function loadConfigFile(path: string): MonitorConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw usageError('E_CONFIG', `cannot read the config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { strict: true, uniqueKeys: true });
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw usageError('E_CONFIG', `${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${msg}`);
  }
  return buildConfig(raw, `${path}:`);
}
