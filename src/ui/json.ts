// Machine output: one JSON document (--json) or one event per line (--ndjson).
// Every document carries mcast's version and the schema version
// (docs/json.md); the schema version changes only when a field changes meaning.

import { readFileSync } from 'node:fs';

export const SCHEMA_VERSION = 1;

let cachedVersion: string | undefined;
export function mcastVersion(): string {
  if (!cachedVersion) {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    cachedVersion = pkg.version;
  }
  return cachedVersion;
}

export function jsonDocument(command: string, body: object): object {
  return { mcast: mcastVersion(), schema: SCHEMA_VERSION, command, ...body };
}

export function printJson(command: string, body: object): void {
  process.stdout.write(`${JSON.stringify(jsonDocument(command, body), null, 2)}\n`);
}

/** One NDJSON event: `{"event": name, "time": ISO, ...fields}`. */
export function emitEvent(event: string, fields: object = {}): void {
  process.stdout.write(`${JSON.stringify({ event, time: new Date().toISOString(), ...fields })}\n`);
}
