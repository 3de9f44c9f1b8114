// The pieces the option table (src/commands/index.ts) is built from: option
// builders with their parsers, the output flags, and how a result is printed.

import { Option, type Command } from 'commander';
import { parseGroupSpec } from '../model/address-input.js';
import { quoteInput } from '../model/text.js';
import { asListParser, asParser, DEFAULT_PORT, parseDatagramSize, parseDuration, parseText } from '../model/options.js';
import { usageError } from '../errors.js';
import { printJson, emitEvent } from '../ui/json.js';
import type { OutputOptions, RunContext } from '../ui/context.js';


/** Builds a command's RunContext from its output flags (src/cli.ts). */
export type CtxFor = (opts: OutputOptions) => RunContext;

/** Repeatable option values, in order. */
export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function outputOptions(cmd: Command, { ndjson = false } = {}): Command {
  cmd.option('--json', 'print one JSON document at the end (docs/json.md)');
  if (ndjson) cmd.option('--ndjson', 'print one JSON event per line as things happen');
  return cmd.option('-q, --quiet', 'print only the result (no notices or live view)').option('--no-color', 'never use colour');
}

/** Print a command's result the way the user asked (JSON document, NDJSON summary event, or text) and set the exit code. */
export function finish<R extends object>(command: string, o: OutputOptions, ctx: RunContext, done: { result: R; exitCode: number }, render: (r: R, c: RunContext['ui']['color']) => string): void {
  if (o.json) printJson(command, done.result);
  else if (o.ndjson) emitEvent('summary', done.result);
  else ctx.ui.out(render(done.result, ctx.ui.color));
  process.exitCode = done.exitCode;
}

export function checkOutput(o: OutputOptions): void {
  if (o.json && o.ndjson) throw usageError('E_USAGE', '--json and --ndjson cannot be combined; choose one output format');
}

/** Flags given in both forms on the command line (e.g. --loopback --no-loopback). */
export function rejectContradictions(argv: string[], pairs: [string, string][]): void {
  for (const [a, b] of pairs) {
    if (argv.includes(a) && argv.includes(b)) throw usageError('E_USAGE', `${a} and ${b} contradict each other; give one of them`);
  }
}

/** Options that mean nothing in a mode (e.g. --ttl with ping --ssmping): a usage error naming the first one given. */
export function rejectInMode(given: [unknown, string][], why: string): void {
  for (const [value, flag] of given) {
    if (value !== undefined) throw usageError('E_USAGE', `${flag} does not apply to ${why}`);
  }
}

export function parseGroups(raw: string[], port: number | undefined): (ReturnType<typeof parseGroupSpec> & { port: number })[] {
  if (raw.length === 0) throw usageError('E_USAGE', 'at least one group is required, e.g. 239.1.2.3 or [ff15::1]:5000');
  const groups = raw.map((g) => {
    const spec = parseGroupSpec(g);
    return { ...spec, port: spec.port ?? port ?? DEFAULT_PORT };
  });
  const seen = new Set<string>();
  for (const g of groups) {
    const k = `${g.address}|${g.port}`;
    if (seen.has(k)) throw usageError('E_USAGE', `group ${g.address} port ${g.port} is given twice`);
    seen.add(k);
  }
  return groups;
}

// Text options: never empty (an empty -i or --expect would silently mean "the default" or "anyone").
export const IFACE = asParser(parseText('an interface name, index or address, e.g. eth0, 2 or 10.0.0.1'), '--interface');
export const sourceList = (name: string) => asListParser(parseText("a sender's unicast address, e.g. 192.0.2.10 or 2001:db8::10"), name);
export const sizeOption = asParser(parseDatagramSize, '--size');

/** --peers A,B,C (repeatable): every entry a non-empty address. */
export function peersParser(v: string, prev: string[] = []): string[] {
  const entries = v.split(',').map((x) => x.trim());
  if (entries.some((x) => x === '')) {
    throw usageError('E_OPTION_VALUE', `--peers must be a comma-separated list of host addresses, e.g. 10.0.0.1,10.0.0.2; got '${quoteInput(v)}'`);
  }
  return [...prev, ...entries];
}

const durationParser = (name: string) => asParser((raw, n) => parseDuration(raw, n), name);

/** Durations in ms internally; --help shows defaults the way users type them (1s, 200ms). */
export function durationOption(flags: string, description: string, name: string, defaultMs?: number): Option {
  const o = new Option(flags, description).argParser(durationParser(name));
  if (defaultMs === undefined) return o;
  const shown = defaultMs % 1000 === 0 ? `${defaultMs / 1000}s` : `${defaultMs}ms`;
  return o.default(defaultMs, shown);
}

/** --listen TIME for the querier listener: 0 allowed (no listening). */
export function listenOption(description: string, defaultMs: number): Option {
  const o = new Option('--listen <time>', description).argParser(asParser((raw, n) => parseDuration(raw, n, { allowZero: true }), '--listen'));
  return defaultMs > 0 ? o.default(defaultMs, `${defaultMs / 1000}s`) : o;
}
