// Machine output: one JSON document (--json) or one event per line (--ndjson).
// Every document carries mcast's version and the schema version
// (docs/json.md); the schema version changes only when a field changes meaning.

import { packageVersion } from '../package-root.js';

export const SCHEMA_VERSION = 2;

/** mcast's version, from its package.json (read once, by package-root.ts). */
export function mcastVersion(): string {
  return packageVersion();
}

export function jsonDocument(command: string, body: object): object {
  return { mcast: mcastVersion(), schema: SCHEMA_VERSION, command, ...body };
}

/** Marks a bigint while stringifying; random per process, so no string from the network can imitate it. */
const BIG = `\u0000${Math.random().toString(36).slice(2)}:`;
const BIG_QUOTED = new RegExp(`"${JSON.stringify(BIG).slice(1, -1).replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}(\\d+)"`, 'g');

/**
 * JSON.stringify that prints a bigint (a 64-bit number from the network
 * above 2^53 - 1, e.g. a sequence number) as an exact integer instead of
 * throwing; everything else as JSON.stringify does (docs/json.md).
 */
export function stringifyExact(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${BIG}${v.toString()}` : v), indent).replace(BIG_QUOTED, '$1');
}

export function printJson(command: string, body: object): void {
  process.stdout.write(`${stringifyExact(jsonDocument(command, body), 2)}\n`);
}

/** One NDJSON event: `{"event": name, "time": ISO, ...fields}`. */
export function emitEvent(event: string, fields: object = {}): void {
  process.stdout.write(`${stringifyExact({ event, time: new Date().toISOString(), ...fields })}\n`);
}
