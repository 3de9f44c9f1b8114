// The targets `mcast monitor` keeps running (joins, responders, ping loops),
// each with its metrics, and how a new configuration is applied to them:
// targets that did not change keep running (and keep their counts), removed
// ones stop, new ones start.

import { closeSession, openSession } from '../model/session.js';
import { targetKey, type JoinTarget, type MonitorConfig, type PingTarget, type RespondTarget } from '../model/monitor-config.js';
import { native } from '../native.js';
import { McastError } from '../errors.js';
import type { MetricsExporter } from '../metrics/exporter.js';
import { createUi, type Ui } from '../ui/terminal.js';
import { tick } from './run-loop.js';
import { DEFAULT_RECV_BUFFER } from './join.js';
import { startResponder } from './respond.js';
import { runPing } from './ping.js';

type Kind = 'join' | 'respond' | 'ping';

interface Running {
  kind: Kind;
  group: { group: string; port: number; interface?: string };
  /** Snapshot into the exporter (join, respond); ping rounds report themselves. */
  collect?: () => void;
  stop: () => Promise<void>;
}

export interface TargetsEnv {
  ui: Ui;
  signal: AbortSignal;
  exporter: MetricsExporter;
  /** A warning kept for the result document and shown. */
  warn: (w: string) => void;
}

const groupOf = (t: JoinTarget | RespondTarget | PingTarget) => ({ group: t.group.address, port: t.group.port });

export class MonitorTargets {
  private readonly running = new Map<string, Running>();
  private config: MonitorConfig;
  /** Targets' own progress lines stay quiet: the monitor's log says what started. */
  private readonly quietUi = createUi({ quiet: true });

  constructor(private readonly env: TargetsEnv, config: MonitorConfig) {
    this.config = config;
  }

  get size(): number {
    return this.running.size;
  }

  count(kind: Kind): number {
    return [...this.running.values()].filter((r) => r.kind === kind).length;
  }

  /** Refresh every target's metrics (before a scrape). */
  collect(): void {
    for (const r of this.running.values()) r.collect?.();
  }

  /**
   * Bring the running targets in line with `cfg`: keep, stop, start. A target
   * that cannot start is a warning once another runs; with none running the
   * error is the command's.
   */
  async apply(cfg: MonitorConfig): Promise<void> {
    this.config = cfg;
    const wanted = new Map<string, () => Promise<Running> | Running>();
    for (const t of cfg.join) wanted.set(targetKey('join', t), () => this.startJoin(t, targetKey('join', t)));
    for (const t of cfg.respond) wanted.set(targetKey('respond', t), () => this.startRespond(t, targetKey('respond', t)));
    for (const t of cfg.ping) wanted.set(targetKey('ping', t), () => this.startPing(t));
    for (const [key, r] of [...this.running]) {
      if (wanted.has(key)) continue;
      await r.stop();
      this.env.exporter.removed(key, r.kind, r.group);
      this.running.delete(key);
    }
    for (const [key, start] of wanted) {
      if (this.running.has(key)) continue;
      try {
        this.running.set(key, await start());
      } catch (e) {
        if (!(e instanceof McastError) || this.running.size > 0) {
          this.env.warn(`${key.split(' ')[0]} ${(e as Error).message.split('\n')[0]}`);
          continue;
        }
        throw e;
      }
    }
    for (const kind of ['join', 'respond', 'ping'] as const) this.env.exporter.targets(kind, this.count(kind));
  }

  async stopAll(): Promise<void> {
    for (const r of this.running.values()) await r.stop();
  }

  private async startJoin(t: JoinTarget, key: string): Promise<Running> {
    const core = native();
    const s = await openSession({ group: t.group, role: 'receiver', iface: this.config.interface, sources: t.source, filterMode: 'include' });
    let engine: ReturnType<typeof core.receiverStart>;
    try {
      engine = core.receiverStart([s.handle], { recvBuffer: DEFAULT_RECV_BUFFER });
    } catch (e) {
      closeSession(s);
      throw e;
    }
    const g = { ...groupOf(t), interface: s.ifaceName };
    this.env.ui.info(`joined ${t.group.address} port ${t.group.port} on ${s.ifaceName}`);
    return {
      kind: 'join',
      group: g,
      collect: () => this.env.exporter.receiver(key, g, core.engineSnapshot(engine)),
      stop: async () => {
        this.env.exporter.receiver(key, g, core.engineStop(engine));
        closeSession(s);
      },
    };
  }

  private async startRespond(t: RespondTarget, key: string): Promise<Running> {
    const core = native();
    const { engine, sessions } = await startResponder(
      { groups: [t.group], iface: this.config.interface, source: [], allow: [], perSourcePps: t.maxRepliesPerSecond, globalPps: 1000 },
      { ui: this.quietUi, signal: this.env.signal },
    );
    this.env.ui.info(`answering probes on ${t.group.address} port ${t.group.port}`);
    const g = groupOf(t);
    return {
      kind: 'respond',
      group: g,
      collect: () => this.env.exporter.responder(key, g, core.engineSnapshot(engine)),
      stop: async () => {
        this.env.exporter.responder(key, g, core.engineStop(engine));
        for (const s of sessions) closeSession(s);
      },
    };
  }

  /** Ping rounds back to back on the target's period, each a complete `ping`. */
  private startPing(t: PingTarget): Running {
    const stopper = new AbortController();
    const both = AbortSignal.any([this.env.signal, stopper.signal]);
    const g = groupOf(t);
    const loop = (async () => {
      while (!both.aborted) {
        const started = Date.now();
        try {
          const { result, run } = await runPing(
            { group: t.group, count: t.count, intervalMs: t.intervalMs, size: 64, ttl: t.ttl, iface: this.config.interface, waitMs: Math.min(2000, t.everyMs / 4), syncedClocks: false, live: false },
            { ui: this.quietUi, signal: both },
          );
          if (!both.aborted) this.env.exporter.pingRound(g, result, run.stop.kind !== 'engine-error');
        } catch (e) {
          this.env.warn(`ping ${t.group.address}: ${(e as Error).message.split('\n')[0]}`);
        }
        await tick(Math.max(0, t.everyMs - (Date.now() - started)), both);
      }
    })();
    this.env.ui.info(`pinging ${t.group.address} port ${t.group.port}: ${t.count} probes every ${t.everyMs / 1000}s`);
    return {
      kind: 'ping',
      group: g,
      stop: async () => {
        stopper.abort();
        await loop;
      },
    };
  }
}
