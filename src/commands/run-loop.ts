// The one run loop of every long-running command (join, send, respond, ping,
// ssmping client and server): it owns the tick, the spinner and live view,
// periodic NDJSON/progress output, interrupts, --duration, interface faults
// and cleanup, and returns why the run stopped as a typed StopReason. The
// exit code is one pure function of that outcome (exitCodeFor).

import { native } from '../native.js';
import { printable } from '../model/text.js';
import { ExitCode } from '../errors.js';
import { emitEvent } from '../ui/json.js';
import type { RunContext } from '../ui/context.js';

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

/**
 * Why a run stopped. In JSON it is the `stopReason` string (stopReasonText),
 * one of the values listed in docs/json.md ("stopReason").
 */
export type StopReason =
  /** --count packets or probes done: `count reached`. */
  | { kind: 'count-reached' }
  /** --duration ended: `duration over`. */
  | { kind: 'duration-over' }
  /** check --timeout ended probing early: `timeout`. */
  | { kind: 'timeout' }
  /** The engine ended by itself with nothing wrong: `stopped`. */
  | { kind: 'finished' }
  /** The first SIGINT / SIGTERM: `interrupted (SIGINT)`, `terminated (SIGTERM)`. */
  | { kind: 'interrupted'; signal: 'SIGINT' | 'SIGTERM' }
  /** stdout could not be written (src/ui/output.ts): `output failed`. */
  | { kind: 'output-failed' }
  /** The interface in use went down, was deleted or lost its address: the fault's message. */
  | { kind: 'fault'; fault: InterfaceFault }
  /** The engine failed: `error: …` (`receive error: …` for join, `send failed` for send). */
  | { kind: 'engine-error'; text: string };

export function stopReasonText(r: StopReason): string {
  switch (r.kind) {
    case 'count-reached':
      return 'count reached';
    case 'duration-over':
      return 'duration over';
    case 'timeout':
      return 'timeout';
    case 'finished':
      return 'stopped';
    case 'interrupted':
      return r.signal === 'SIGINT' ? 'interrupted (SIGINT)' : 'terminated (SIGTERM)';
    case 'output-failed':
      return 'output failed';
    case 'fault':
      return r.fault.message;
    case 'engine-error':
      return r.text;
  }
}

/** The stop reason for an aborted run (the AbortSignal's reason: a signal name, or `output failed`). */
export function abortReason(signal: AbortSignal): StopReason {
  const why = String(signal.reason);
  if (why === 'SIGINT' || why === 'SIGTERM') return { kind: 'interrupted', signal: why };
  return { kind: 'output-failed' };
}

/** An interface the run depends on (null: the kernel chose, nothing to watch). */
export type WatchedInterface = { iface: { index: number; name: string } } | null;

export interface EngineLoop<S> {
  ctx: RunContext;
  tickMs: number;
  /** A fresh snapshot of the command's engine(s). */
  read(): S;
  /** Stop the engine(s) and return their last snapshot. */
  stop(): S;
  ifaces: WatchedInterface[];
  /** Stop once this much time has passed (--duration kept by the loop). */
  durationMs?: number;
  /** With --duration an interface fault is announced and waited out (the run keeps what it measured); without, it stops the run. */
  waitOutFaults: boolean;
  /** Each tick, after the snapshot: the command's own events; returns the engine's reason to stop (count reached, error), or null. */
  onTick?(snap: S): StopReason | null;
  /**
   * A fault the command watches itself (and announces itself), e.g. send's interface without an
   * address; `waitOut`: recorded but not stopping the run (send --duration goes on counting).
   */
  extraFault?: { check(snap: S): InterfaceFault | null; waitOut: boolean };
  /** A spinner on stderr until `until(snap)`; the live view starts after it. */
  spinner?: { text: string; until(snap: S): boolean };
  /** The live view (stderr, people only). */
  live?(snap: S): string[];
  /** Called every `everyMs`: NDJSON stats, plain progress lines. */
  periodic?: { everyMs: number; run(snap: S): void };
  /** Before the engines stop (e.g. the querier watch). */
  beforeStop?(): void;
  /** After the engines stopped, whatever happened: close sessions. */
  close?(): void;
}

export interface EngineRun<S> {
  /** The engines' last snapshot (from stop()). */
  final: S;
  stop: StopReason;
  /** The first interface fault of the run, or null. */
  fault: InterfaceFault | null;
  /** True when the fault stopped the run (no --duration to wait it out). */
  faultFatal: boolean;
  durationMs: number;
}

/** The interface watch: the first fault, announced once (stderr, and an NDJSON `fault` event). */
function watchInterfaces(l: EngineLoop<unknown>): InterfaceFault | null {
  for (const c of l.ifaces) {
    const f = c ? interfaceFault(c.iface.index, c.iface.name) : null;
    if (!f) continue;
    l.ctx.ui.warn(`${f.message}${l.waitOutFaults ? '; keeping what was measured and waiting until --duration ends' : '; stopping'}`);
    if (l.ctx.ui.ndjson) emitEvent('fault', f);
    return f;
  }
  return null;
}

/** Runs a started engine until it, the user, --duration or a fault stops it; always stops it and calls close(). */
export async function runEngine<S>(l: EngineLoop<S>): Promise<EngineRun<S>> {
  const { ui, signal } = l.ctx;
  const started = Date.now();
  const spinner = l.spinner ? ui.spinner(l.spinner.text) : null;
  let spinning = spinner !== null;
  let ifaceFault: InterfaceFault | null = null;
  let extraFault: InterfaceFault | null = null;
  let lastPeriodic = Date.now();
  let stop: StopReason = { kind: 'finished' };
  let final: S | undefined;
  try {
    for (;;) {
      await tick(l.tickMs, signal);
      const snap = l.read();
      // The command's own watch runs every tick (it counts); the interface watch until its first fault.
      const extra = l.extraFault?.check(snap) ?? null;
      extraFault ??= extra;
      ifaceFault ??= watchInterfaces(l as EngineLoop<unknown>);
      const fatal = ifaceFault && !l.waitOutFaults ? ifaceFault : extra && !l.extraFault!.waitOut ? extra : null;
      const engineStop = l.onTick?.(snap) ?? null;
      if (spinning && l.spinner!.until(snap)) {
        spinner!.stop();
        spinning = false;
      }
      if (!spinning && l.live) ui.redraw(l.live(snap));
      if (l.periodic && Date.now() - lastPeriodic >= l.periodic.everyMs) {
        lastPeriodic = Date.now();
        l.periodic.run(snap);
      }
      const why: StopReason | null = fatal
          ? { kind: 'fault', fault: fatal }
          : (engineStop ?? (signal.aborted ? abortReason(signal) : l.durationMs !== undefined && Date.now() - started >= l.durationMs ? { kind: 'duration-over' } : null));
      if (why) {
        stop = why;
        break;
      }
    }
  } finally {
    spinner?.stop();
    l.beforeStop?.();
    try {
      final = l.stop();
    } finally {
      ui.commit();
      l.close?.();
    }
  }
  return { final, stop, fault: ifaceFault ?? extraFault, faultFatal: stop.kind === 'fault', durationMs: Date.now() - started };
}

/**
 * The exit code of a long-running command, from its outcome alone: 3 when
 * the engine failed, a fault stopped the run or the command found its
 * result unusable (`broken`); 1 when it worked and found a problem (no
 * responder, --count not reached); else 0.
 */
export function exitCodeFor(o: { stop: StopReason; faultFatal: boolean; broken?: boolean; problem?: boolean }): ExitCode {
  if (o.stop.kind === 'engine-error' || o.faultFatal || o.broken) return ExitCode.System;
  if (o.problem) return ExitCode.Failed;
  return ExitCode.Ok;
}

/** The fields every long-running command's document ends with, in this order. */
export interface RunSummary {
  durationMs: number;
  stopReason: string;
  warnings: string[];
  fault: InterfaceFault | null;
}

export function runSummary(run: { durationMs: number; stop: StopReason; fault: InterfaceFault | null }, warnings: string[]): RunSummary {
  return { durationMs: run.durationMs, stopReason: stopReasonText(run.stop), warnings: [...new Set(warnings)], fault: run.fault };
}
