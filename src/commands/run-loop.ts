// The shared rhythm of long-running commands: tick until a stop condition,
// the deadline, or an interrupt; and a watch on the interface in use.

import { native } from '../native.js';
import { printable } from '../model/text.js';

/** Sleep `ms`, returning early when `signal` aborts. */
export function tick(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export type InterfaceFault = { kind: 'deleted' | 'down' | 'no-address'; name: string; message: string };

/** Report when the interface disappears or goes down (checked at each tick). */
export function interfaceFault(ifindex: number, rawName: string): InterfaceFault | null {
  if (!ifindex) return null;
  const name = printable(rawName);
  const now = native().interfaces().find((i) => i.index === ifindex);
  if (!now) return { kind: 'deleted', name, message: `interface ${name} was deleted` };
  if (!now.up) return { kind: 'down', name, message: `interface ${name} went down` };
  return null;
}

/**
 * A sender's interface that is up but has no address of the group's family
 * left (removed, DHCP lease lost): the kernel keeps sending multicast out of
 * it with source 0.0.0.0 (or ::), which receivers and routers cannot use.
 * Null while it has one (or when nothing is watched).
 */
export function addressFault(ifindex: number, rawName: string, family: 4 | 6): InterfaceFault | null {
  if (!ifindex) return null;
  const now = native().interfaces().find((i) => i.index === ifindex);
  if (!now || !now.up) return null; // deleted / down: interfaceFault says so
  const want = family === 6 ? 'ipv6' : 'ipv4';
  if (now.addresses.some((a) => a.family === want)) return null;
  const name = printable(rawName);
  const what = family === 6 ? 'probes have no source address (the kernel refuses them, EADDRNOTAVAIL)' : 'probes would leave with source 0.0.0.0';
  return { kind: 'no-address', name, message: `interface ${name} has no IPv${family} address left: ${what}` };
}

export function describeStop(reason: string | undefined): string {
  switch (reason) {
    case 'SIGINT':
      return 'interrupted (SIGINT)';
    case 'SIGTERM':
      return 'terminated (SIGTERM)';
    default:
      return reason ?? 'stopped';
  }
}

export interface RunWatchOptions {
  /** The interfaces in use (null entries: the kernel chose, nothing to watch). */
  ifaces: ({ iface: { index: number; name: string } } | null)[];
  ui: { warn(text: string): void };
  signal: AbortSignal;
  /** Stop once this much time has passed (--duration). */
  durationMs?: number;
  /** When an interface fails: keep measuring (true with --duration) or stop. */
  keepWaitingOnFault: boolean;
  /** Called once, on the first fault (e.g. an NDJSON event). */
  onFault?: (f: InterfaceFault) => void;
}

/**
 * The stop rules every long-running command shares: an interrupt, the end of
 * --duration, or an interface that went down or away (announced once; with
 * --duration the run keeps what it measured and waits).
 */
export class RunWatch {
  fault: InterfaceFault | null = null;
  readonly started = Date.now();

  constructor(private readonly o: RunWatchOptions) {}

  /** Why the run must stop now, or null to go on. */
  stopReason(): string | null {
    this.watchInterfaces();
    if (this.o.signal.aborted) return describeStop(String(this.o.signal.reason));
    if (this.o.durationMs !== undefined && Date.now() - this.started >= this.o.durationMs) return 'duration over';
    if (this.fault && !this.o.keepWaitingOnFault) return this.fault.message;
    return null;
  }

  /** A fault ends the run with exit 3 unless --duration asked to wait it out. */
  get fatal(): boolean {
    return this.fault !== null && !this.o.keepWaitingOnFault;
  }

  private watchInterfaces(): void {
    if (this.fault) return;
    for (const c of this.o.ifaces) {
      const f = c ? interfaceFault(c.iface.index, c.iface.name) : null;
      if (!f) continue;
      this.fault = f;
      this.o.ui.warn(`${f.message}${this.o.keepWaitingOnFault ? '; keeping what was measured and waiting until --duration ends' : '; stopping'}`);
      this.o.onFault?.(f);
      return;
    }
  }
}
