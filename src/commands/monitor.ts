// `mcast monitor`: one long-running process that keeps groups joined and
// measures what arrives, answers probes, and pings groups periodically,
// exporting it all as Prometheus metrics (src/metrics/exporter.ts). Hosts are
// orchestrated by what operators already run (Prometheus, Kubernetes,
// systemd), not by mcast. SIGHUP re-reads --config: targets that did not
// change keep running (and keep their counts); removed ones stop, new ones start.

import { createServer, type Server } from 'node:http';
import { closeSession, openSession, type OpenSession } from '../model/session.js';
import { buildConfig, loadConfigFile, targetKey, type JoinTarget, type MonitorConfig, type PingTarget, type RespondTarget } from '../model/monitor-config.js';
import { native, type QuerierSnapshot, type ReceiverSnapshot, type ResponderSnapshot } from '../native.js';
import { ExitCode, McastError, systemError } from '../errors.js';
import { MetricsExporter } from '../metrics/exporter.js';
import { createUi } from '../ui/terminal.js';
import { tick } from './run-loop.js';
import { DEFAULT_RECV_BUFFER } from './join.js';
import { startResponder } from './respond.js';
import { runPing } from './ping.js';
import type { RunContext } from '../ui/context.js';

export interface MonitorOptions {
  /** The file behind the configuration (re-read on SIGHUP), if any. */
  configFile?: string;
  config: MonitorConfig;
  durationMs?: number;
}

export interface MonitorResult {
  metrics: string;
  targets: { join: number; respond: number; ping: number };
  reloads: number;
  durationMs: number;
  stopReason: string;
  warnings: string[];
}

interface Running {
  key: string;
  kind: 'join' | 'respond' | 'ping';
  group: { group: string; port: number; interface?: string };
  /** Snapshot into the exporter (join, respond); ping rounds report themselves. */
  collect?: () => void;
  stop: () => Promise<void>;
}

const groupOf = (t: JoinTarget | RespondTarget | PingTarget) => ({ group: t.group.address, port: t.group.port });

export async function run(o: MonitorOptions, ctx: RunContext): Promise<{ result: MonitorResult; exitCode: number }> {
  const { ui, signal } = ctx;
  const core = native();
  const exporter = new MetricsExporter();
  const running = new Map<string, Running>();
  const warnings: string[] = [];
  let config = o.config;
  const quiet: RunContext = { ui: createUi({ quiet: true }), signal };
  const warn = (w: string): void => {
    if (!warnings.includes(w) && warnings.length < 100) warnings.push(w);
    ui.warn(w);
  };

  const startJoin = async (t: JoinTarget, key: string): Promise<Running> => {
    const s: OpenSession = await openSession({ group: t.group, role: 'receiver', iface: config.interface, sources: t.source, filterMode: 'include' });
    let engine: number;
    try {
      engine = core.receiverStart([s.handle], { recvBuffer: DEFAULT_RECV_BUFFER });
    } catch (e) {
      closeSession(s);
      throw e;
    }
    const g = { ...groupOf(t), interface: s.ifaceName };
    ui.info(`joined ${t.group.address} port ${t.group.port} on ${s.ifaceName}`);
    return {
      key,
      kind: 'join',
      group: g,
      collect: () => exporter.receiver(key, g, core.engineSnapshot(engine) as ReceiverSnapshot),
      stop: async () => {
        exporter.receiver(key, g, core.engineStop(engine) as ReceiverSnapshot);
        closeSession(s);
      },
    };
  };

  const startRespond = async (t: RespondTarget, key: string): Promise<Running> => {
    const { engine, sessions } = await startResponder(
      { groups: [t.group], iface: config.interface, source: [], allow: [], perSourcePps: t.maxRepliesPerSecond, globalPps: 1000 },
      quiet,
    );
    ui.info(`answering probes on ${t.group.address} port ${t.group.port}`);
    const g = groupOf(t);
    return {
      key,
      kind: 'respond',
      group: g,
      collect: () => exporter.responder(key, g, core.engineSnapshot(engine) as ResponderSnapshot),
      stop: async () => {
        exporter.responder(key, g, core.engineStop(engine) as ResponderSnapshot);
        for (const s of sessions) closeSession(s);
      },
    };
  };

  const startPing = (t: PingTarget, key: string): Running => {
    const stopper = new AbortController();
    const both = AbortSignal.any([signal, stopper.signal]);
    const g = groupOf(t);
    // Rounds back to back on the target's period, each a complete `ping`.
    const loop = (async () => {
      while (!both.aborted) {
        const started = Date.now();
        try {
          const { result, run } = await runPing(
            { group: t.group, count: t.count, intervalMs: t.intervalMs, size: 64, ttl: t.ttl, iface: config.interface, waitMs: Math.min(2000, t.everyMs / 4), syncedClocks: false, live: false },
            { ui: quiet.ui, signal: both },
          );
          if (!both.aborted) exporter.pingRound(g, result, run.stop.kind !== 'engine-error');
        } catch (e) {
          warn(`ping ${t.group.address}: ${(e as Error).message.split('\n')[0]}`);
        }
        await tick(Math.max(0, t.everyMs - (Date.now() - started)), both);
      }
    })();
    ui.info(`pinging ${t.group.address} port ${t.group.port}: ${t.count} probes every ${t.everyMs / 1000}s`);
    return {
      key,
      kind: 'ping',
      group: g,
      stop: async () => {
        stopper.abort();
        await loop;
      },
    };
  };

  /** Bring the running targets in line with `cfg`: keep, stop, start. */
  const apply = async (cfg: MonitorConfig): Promise<void> => {
    config = cfg;
    const wanted = new Map<string, () => Promise<Running> | Running>();
    for (const t of cfg.join) wanted.set(targetKey('join', t), () => startJoin(t, targetKey('join', t)));
    for (const t of cfg.respond) wanted.set(targetKey('respond', t), () => startRespond(t, targetKey('respond', t)));
    for (const t of cfg.ping) wanted.set(targetKey('ping', t), () => startPing(t, targetKey('ping', t)));
    for (const [key, r] of [...running]) {
      if (wanted.has(key)) continue;
      await r.stop();
      exporter.removed(key, r.kind, r.group);
      running.delete(key);
    }
    for (const [key, start] of wanted) {
      if (running.has(key)) continue;
      try {
        running.set(key, await start());
      } catch (e) {
        if (!(e instanceof McastError) || running.size > 0) {
          warn(`${key.split(' ')[0]} ${(e as Error).message.split('\n')[0]}`);
          continue;
        }
        throw e;
      }
    }
    for (const kind of ['join', 'respond', 'ping'] as const) exporter.targets(kind, [...running.values()].filter((r) => r.kind === kind).length);
  };

  await apply(config);
  // The querier listener: does a querier reach this host (the usual reason
  // joined streams stop after a few minutes)? Without CAP_NET_RAW it says
  // it cannot listen (mcast_querier_listening 0) and the rest goes on.
  let querier = 0;
  try {
    querier = core.querierStart({});
  } catch (e) {
    warn(`querier listener: ${(e as Error).message.split('\n')[0]}`);
  }
  const server = await serveMetrics(exporter, config.metrics, () => {
    for (const r of running.values()) r.collect?.();
    if (!querier) return;
    // One interface listing per scrape, for the names and the interfaces to report.
    const ifs = core.interfaces();
    const ifname = (index: number): string => ifs.find((i) => i.index === index)?.name ?? String(index);
    const multicast = ifs.filter((i) => i.up && i.multicast && !i.loopback).map((i) => ({ index: i.index, name: i.name }));
    exporter.querier(core.engineSnapshot(querier) as QuerierSnapshot, ifname, multicast);
  });
  const where = `http://${config.metrics.host.includes(':') ? `[${config.metrics.host}]` : config.metrics.host}:${config.metrics.port}/metrics`;
  ui.info(`metrics on ${where} (bound to ${config.metrics.host} only)`);

  let reloads = 0;
  let reloading = Promise.resolve();
  const onHup = (): void => {
    reloading = reloading.then(async () => {
      if (!o.configFile) return ui.warn('SIGHUP: no --config file to re-read');
      try {
        const next = loadConfigFile(o.configFile);
        await apply(next);
        reloads++;
        ui.info(`reloaded ${o.configFile}: ${running.size} targets`);
      } catch (e) {
        warn(`SIGHUP: ${(e as Error).message.split('\n')[0]}; the running configuration stays`);
      }
    });
  };
  process.on('SIGHUP', onHup);

  const started = Date.now();
  let stopReason = 'stopped';
  try {
    for (;;) {
      await tick(500, signal);
      if (signal.aborted) {
        stopReason = String(signal.reason) === 'SIGTERM' ? 'terminated (SIGTERM)' : 'interrupted (SIGINT)';
        break;
      }
      if (o.durationMs !== undefined && Date.now() - started >= o.durationMs) {
        stopReason = 'duration over';
        break;
      }
    }
  } finally {
    process.off('SIGHUP', onHup);
    await reloading;
    await new Promise<void>((r) => server.close(() => r()));
    if (querier) core.engineStop(querier);
    for (const r of running.values()) await r.stop();
  }
  const count = (k: string) => [...running.values()].filter((r) => r.kind === k).length;
  return {
    result: { metrics: where, targets: { join: count('join'), respond: count('respond'), ping: count('ping') }, reloads, durationMs: Date.now() - started, stopReason, warnings },
    exitCode: ExitCode.Ok,
  };
}

/** /metrics (Prometheus text format) and /healthz on HOST:PORT; `refresh` runs before each scrape. */
async function serveMetrics(exporter: MetricsExporter, at: { host: string; port: number }, refresh: () => void): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
      return;
    }
    try {
      refresh();
    } catch {
      // A target that failed mid-scrape shows as mcast_monitor_engine_up 0; the rest is still served.
    }
    exporter.registry
      .metrics()
      .then((text) => res.writeHead(200, { 'content-type': exporter.registry.contentType }).end(text))
      .catch((e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(systemError(e.code === 'EADDRINUSE' ? 'E_PORT_IN_USE' : 'E_METRICS', `cannot serve metrics on ${at.host}:${at.port}: ${e.code ?? e.message}${e.code === 'EADDRINUSE' ? ' (another process uses the port: choose another with --metrics HOST:PORT)' : ''}`)),
    );
    server.listen(at.port, at.host, () => resolve());
  });
  return server;
}

/** The configuration from flags (`--join`, `--respond`, `--ping`, `--every`, ...), validated like a file. */
export function configFromFlags(f: { join: string[]; respond: string[]; ping: string[]; every?: string; count?: string; interval?: string; interface?: string; metrics?: string; maxRepliesPerSecond?: string }): MonitorConfig {
  return buildConfig(
    {
      ...(f.interface !== undefined ? { interface: f.interface } : {}),
      ...(f.metrics !== undefined ? { metrics: f.metrics } : {}),
      join: f.join,
      respond: f.respond.map((g) => (f.maxRepliesPerSecond !== undefined ? { group: g, maxRepliesPerSecond: f.maxRepliesPerSecond } : g)),
      ping: f.ping.map((g) => ({ group: g, ...(f.every ? { every: f.every } : {}), ...(f.count ? { count: f.count } : {}), ...(f.interval ? { interval: f.interval } : {}) })),
    },
    'command line:',
  );
}
