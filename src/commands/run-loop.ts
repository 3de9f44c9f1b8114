// The shared rhythm of long-running commands: tick until a stop condition,
// the deadline, or an interrupt; and a watch on the interface in use.

import { native } from '../native.js';

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

export type InterfaceFault = { kind: 'deleted' | 'down'; name: string; message: string };

/** Report when the interface disappears or goes down (checked at each tick). */
export function interfaceFault(ifindex: number, name: string): InterfaceFault | null {
  if (!ifindex) return null;
  const now = native().interfaces().find((i) => i.index === ifindex);
  if (!now) return { kind: 'deleted', name, message: `interface ${name} was deleted` };
  if (!now.up) return { kind: 'down', name, message: `interface ${name} went down` };
  return null;
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
