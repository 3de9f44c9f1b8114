// The shared option grammar. Every parser takes `(raw, optionName)` and
// either returns the value or throws one usageError line of the form
//   "{option} must be …; got '{raw}'"
// so the message always names the flag the user typed.
//
// commander 14 calls an argParser as `fn(value, previous)`: wrap a parser
// with `asParser(parseTtl, '--ttl')`, or `asListParser(...)` for a
// repeatable option.

import { usageError } from '../errors.js';
import { quoteInput } from './text.js';
import { printable } from './text.js';

export type OptionParser<T> = (raw: string, optionName: string) => T;

/** Generic code for a bad option value (no dedicated E_* id in the model). */
export const E_OPTION_VALUE = 'E_OPTION_VALUE';

function fail(code: string, optionName: string, expectation: string, raw: string): never {
  throw usageError(code, `${optionName} must be ${expectation}; got '${quoteInput(raw)}'`);
}

const DECIMAL = String.raw`(?:\d+(?:\.\d+)?|\.\d+)`;
const INTEGER_RE = /^\d+$/;

// ---------------------------------------------------------------------------

/**
 * The one integer grammar of every option (ports, TTLs, counts, sizes,
 * buffers): decimal digits only, so `0x40`, `1e2`, `64.0`, `+5` and `''`
 * are refused alike, then the range. Returns the number.
 */
export function parseInteger(raw: string, optionName: string, range: { min: number; max?: number; expectation: string; code?: string }): number {
  const s = raw.trim();
  const n = Number(s);
  if (!INTEGER_RE.test(s) || !Number.isSafeInteger(n) || n < range.min || n > (range.max ?? Number.MAX_SAFE_INTEGER)) {
    fail(range.code ?? E_OPTION_VALUE, optionName, range.expectation, raw);
  }
  return n;
}

/** UDP port 1-65535. */
export function parsePort(raw: string, optionName: string): number {
  return parseInteger(raw, optionName, { min: 1, max: 65535, expectation: 'an integer 1-65535', code: 'E_PORT_RANGE' });
}

/** Largest delay a Node timer honours (2^31-1 ms); beyond it setTimeout fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;
/** The longest duration accepted: 24 days (576h), a round value below MAX_TIMER_MS. */
export const MAX_DURATION_MS = 24 * 86_400_000;

export interface DurationOptions {
  /** Accept 0 (e.g. "no timeout"). Default false: the duration must be positive. */
  allowZero?: boolean;
  /** Smallest accepted value in ms (after allowZero); default none. */
  minMs?: number;
  /** Largest accepted value in ms; default MAX_TIMER_MS. */
  maxMs?: number;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, min: 60_000, h: 3_600_000 };
const DURATION_RE = new RegExp(`^(${DECIMAL})(ms|s|min|m|h)?$`);

/** A bound as a person reads it, in units the option accepts: 576h (24 days), 2s, 200ms. */
function formatMs(ms: number): string {
  if (ms % 86_400_000 === 0 && ms >= 2 * 86_400_000) return `${ms / 3_600_000}h (${ms / 86_400_000} days)`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * A duration: plain seconds (`0.05`, `2`) or with a unit (`50ms`, `2s`, `1.5s`, `1m`, `1h`).
 * Returns milliseconds. Negative, NaN, empty and unknown units (`5x`) are rejected; zero only with `allowZero`.
 */
export function parseDuration(raw: string, optionName: string, options: DurationOptions = {}): number {
  const { allowZero = false, minMs, maxMs = MAX_DURATION_MS } = options;
  const expectation = `a ${allowZero ? '' : 'positive '}duration such as 500ms, 2s, 1.5m or 1h (a plain number means seconds)`;
  const m = DURATION_RE.exec(raw.trim());
  if (!m) fail(E_OPTION_VALUE, optionName, expectation, raw);
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? ''];
  // Round away binary noise (0.1 s -> 100 ms, not 100.00000000000001).
  const value = Math.round(ms * 1e6) / 1e6;
  if (!Number.isFinite(value)) fail(E_OPTION_VALUE, optionName, expectation, raw);
  if (value === 0 && !allowZero) fail(E_OPTION_VALUE, optionName, expectation, raw);
  if (minMs !== undefined && value < minMs && !(value === 0 && allowZero)) {
    fail(E_OPTION_VALUE, optionName, `a duration of at least ${formatMs(minMs)}`, raw);
  }
  if (value > maxMs) fail(E_OPTION_VALUE, optionName, `a duration of at most ${formatMs(maxMs)}`, raw);
  return value;
}

const SI: Record<string, number> = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9, t: 1e12, T: 1e12 };

/** Packet rate in packets/s: `10`, `0.5`, `1k`, `2.5k`, `1M`. Positive. */
export function parseRate(raw: string, optionName: string): number {
  const expectation = 'a positive packet rate such as 10, 0.5, 1k or 1M (packets/s)';
  const m = new RegExp(`^(${DECIMAL})([kKM]?)(?:pps|/s)?$`).exec(raw.trim());
  if (!m) fail(E_OPTION_VALUE, optionName, expectation, raw);
  const v = Number(m[1]) * SI[m[2]];
  if (!(v > 0) || !Number.isFinite(v)) fail(E_OPTION_VALUE, optionName, expectation, raw);
  return v;
}

/**
 * Bit rate in bits/s with decimal SI prefixes: `1000000`, `500k`, `10M`, `1.5G`, `1.5Gbit`, `10Mbps`, `10Mbit/s`.
 * A capital `B` (bytes) is rejected rather than guessed. Positive.
 */
export function parseBitrate(raw: string, optionName: string): number {
  const expectation = 'a positive bit rate such as 500k, 10M, 1.5G or 1000000 (bits/s, decimal units)';
  const m = new RegExp(`^(${DECIMAL})\\s*([kKmMgGtT]?)(bits?|bps|b/s|bit/s)?$`).exec(raw.trim());
  if (!m) fail(E_OPTION_VALUE, optionName, expectation, raw);
  const v = Number(m[1]) * SI[m[2]];
  if (!(v > 0) || !Number.isFinite(v)) fail(E_OPTION_VALUE, optionName, expectation, raw);
  return Math.round(v * 1e3) / 1e3;
}

/** TTL / hop limit, an integer 0-255. */
export function parseTtl(raw: string, optionName: string): number {
  return parseInteger(raw, optionName, { min: 0, max: 255, expectation: 'an integer 0-255', code: 'E_SCOPE_RANGE' });
}

/** A positive integer count (1 … 2^53-1). */
export function parseCount(raw: string, optionName: string): number {
  return parseInteger(raw, optionName, { min: 1, expectation: 'a positive integer' });
}

/** A count that may be 0 (error limits: `--max-cc-errors 0`). */
export function parseLimit(raw: string, optionName: string): number {
  return parseInteger(raw, optionName, { min: 0, expectation: 'a non-negative integer' });
}

/** Where a feed's counter is and how it is written (`--seq-format`). */
export const SEQ_FORMATS = ['u32be', 'u32le', 'u64be', 'u64le'] as const;
export function parseSeqFormat(raw: string, optionName: string): (typeof SEQ_FORMATS)[number] {
  const s = raw.trim().toLowerCase();
  const f = SEQ_FORMATS.find((x) => x === s);
  if (!f) fail(E_OPTION_VALUE, optionName, `one of ${SEQ_FORMATS.join(', ')}`, raw);
  return f!;
}

/** A byte offset in a datagram (`--seq-offset`). */
export function parseByteOffset(raw: string, optionName: string): number {
  return parseInteger(raw, optionName, { min: 0, max: 65_527, expectation: 'a byte offset, an integer 0-65527' });
}

/** An RTP media clock in Hz (`--clock 90000`). */
export function parseClockRate(raw: string, optionName: string): number {
  return parseInteger(raw, optionName, { min: 1, max: 1_000_000_000, expectation: 'a clock rate in Hz, an integer such as 8000, 48000 or 90000' });
}

/** A parser for an integer byte size in [min, max]; the message names the range. */
export function parseSize(min: number, max: number): OptionParser<number> {
  return (raw: string, optionName: string): number => parseInteger(raw, optionName, { min, max, expectation: `an integer ${min}-${max} (bytes)` });
}

/** The UDP port of a group given without one (--port's default). */
export const DEFAULT_PORT = 5000;

/** The probe header (native/src/probe/wire.rs): the smallest probe. */
export const PROBE_HEADER_LEN = 48;
const UDP_MAX_PAYLOAD = { 4: 65507, 6: 65527 } as const;

/**
 * Datagram size (-l, --size): an integer from the probe header to the UDP
 * maximum of the group's family. When the option is read the family is not
 * known yet: only the integer syntax is checked then, and the range once the
 * group is parsed (`checkDatagramSize`), in the same words.
 */
export function parseDatagramSize(raw: string, optionName: string, family?: 4 | 6): number {
  const upTo = family === undefined ? `${UDP_MAX_PAYLOAD[4]} (IPv6: ${UDP_MAX_PAYLOAD[6]})` : `${UDP_MAX_PAYLOAD[family]} (the UDP/IPv${family} maximum)`;
  const range = family === undefined ? { min: 0 } : { min: PROBE_HEADER_LEN, max: UDP_MAX_PAYLOAD[family] };
  return parseInteger(raw, optionName, { ...range, expectation: `an integer from ${PROBE_HEADER_LEN} (the probe header) to ${upTo}`, code: 'E_SIZE_RANGE' });
}

/** A --size already parsed, checked against the group's family (IPv4 stops at 65507). */
export function checkDatagramSize(size: number, family: 4 | 6): void {
  parseDatagramSize(String(size), '--size', family);
}

/**
 * A text value (an interface, an address, a host, a file): never empty or
 * blank, which would otherwise silently mean "the default".
 */
export function parseText(expectation: string): OptionParser<string> {
  return (raw: string, optionName: string): string => {
    if (raw.trim() === '') fail(E_OPTION_VALUE, optionName, expectation, raw);
    return raw;
  };
}

/** Longest responder name: what one reply carries (MAX_NAME_LEN in native/src/probe/wire.rs). */
export const MAX_NAME_BYTES = 64;

/** --name: 1-64 bytes (UTF-8) of printable text, since it is shown on other hosts' terminals. */
export function parseName(raw: string, optionName: string): string {
  const expectation = `1-${MAX_NAME_BYTES} bytes of printable text (it is carried in every reply)`;
  const bytes = Buffer.byteLength(raw, 'utf8');
  if (raw.trim() === '' || printable(raw) !== raw) fail(E_OPTION_VALUE, optionName, expectation, raw);
  if (bytes > MAX_NAME_BYTES) fail(E_OPTION_VALUE, optionName, `${expectation}; this one is ${bytes} bytes`, raw);
  return raw;
}

/** A percentage 0-100: `5`, `5%`, `0.5%`. Returns the number (5 for "5%"). */
export function parsePercent(raw: string, optionName: string): number {
  const m = new RegExp(`^(${DECIMAL})\\s*%?$`).exec(raw.trim());
  const expectation = 'a percentage 0-100 such as 5, 0.5 or 0.5%';
  if (!m) fail(E_OPTION_VALUE, optionName, expectation, raw);
  const v = Number(m[1]);
  if (!(v >= 0 && v <= 100)) fail(E_OPTION_VALUE, optionName, expectation, raw);
  return v;
}

/**
 * A threshold in milliseconds: plain numbers are ms (`20`), or with a unit (`20ms`, `500us`, `0.5s`).
 * Zero is accepted (a threshold of 0 is meaningful); negatives are not.
 */
export function parseMilliseconds(raw: string, optionName: string): number {
  const expectation = 'a time in milliseconds such as 20, 20ms, 500us or 0.5s (a plain number means ms)';
  const m = new RegExp(`^(${DECIMAL})\\s*(ms|us|µs|s)?$`).exec(raw.trim());
  if (!m) fail(E_OPTION_VALUE, optionName, expectation, raw);
  const factor = m[2] === 's' ? 1000 : m[2] === 'us' || m[2] === 'µs' ? 0.001 : 1;
  const v = Math.round(Number(m[1]) * factor * 1e6) / 1e6;
  if (!Number.isFinite(v)) fail(E_OPTION_VALUE, optionName, expectation, raw);
  return v;
}

// ---------------------------------------------------------------------------
// commander adapters

/** Adapt a parser to commander's `argParser(fn(value, previous))`. */
export function asParser<T>(parser: OptionParser<T>, optionName: string): (value: string, previous?: unknown) => T {
  return (value: string) => parser(value, optionName);
}

/** For a repeatable option: each occurrence is parsed and appended (the default, if any, is replaced). */
export function asListParser<T>(
  parser: OptionParser<T>,
  optionName: string,
): (value: string, previous?: T[]) => T[] {
  const seen = new WeakSet<T[]>();
  return (value: string, previous?: T[]) => {
    const parsed = parser(value, optionName);
    // The first call receives commander's default: start a fresh list instead of appending to it.
    if (!previous || !seen.has(previous)) {
      const list = [parsed];
      seen.add(list);
      return list;
    }
    previous.push(parsed);
    return previous;
  };
}
