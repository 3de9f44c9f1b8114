// `mcast monitor`: one long-running process that keeps groups joined and
// measures what arrives, answers probes, and pings groups periodically,
// exporting it all as Prometheus metrics (src/metrics/exporter.ts). Hosts are
// orchestrated by what operators already run (Prometheus, Kubernetes,
// systemd), not by mcast. SIGHUP re-reads --config: targets that did not
// change keep running (and keep their counts); removed ones stop, new ones start.

import { createServer, type Server } from 'node:http';
import { buildConfig, loadConfigFile, type MonitorConfig } from '../model/monitor-config.js';
import { native, type NativeCore, type QuerierSnapshot } from '../native.js';
import { ExitCode, systemError } from '../errors.js';
import { MetricsExporter } from '../metrics/exporter.js';
import { tick } from './run-loop.js';
import { MonitorTargets } from './monitor-targets.js';
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

export async function run(o: MonitorOptions, ctx: RunContext): Promise<{ result: MonitorResult; exitCode: number }> {
  const { ui, signal } = ctx;
  const core = native();
  const exporter = new MetricsExporter();
  const warnings: string[] = [];
  const warn = (w: string): void => {
    if (!warnings.includes(w) && warnings.length < 100) warnings.push(w);
    ui.warn(w);
  };
  const targets = new MonitorTargets({ ui, signal, exporter, warn }, o.config);
  await targets.apply(o.config);
  const querier = startQuerierListener(warn);
  const server = await serveMetrics(exporter, o.config.metrics, () => {
    targets.collect();
    if (querier) exportQuerier(exporter, core.engineSnapshot(querier));
  });
  const { host, port } = o.config.metrics;
  const where = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
  ui.info(`metrics on ${where} (bound to ${host} only)`);

  const reloader = new HupReloader(o.configFile, targets, ui, warn);
  const started = Date.now();
  let stopReason: string;
  try {
    stopReason = await untilStopped(signal, started, o.durationMs);
  } finally {
    await reloader.close();
    await new Promise<void>((r) => server.close(() => r()));
    if (querier) core.engineStop(querier);
    await targets.stopAll();
  }
  return {
    result: {
      metrics: where,
      targets: { join: targets.count('join'), respond: targets.count('respond'), ping: targets.count('ping') },
      reloads: reloader.reloads,
      durationMs: Date.now() - started,
      stopReason,
      warnings,
    },
    exitCode: ExitCode.Ok,
  };
}

/**
 * The querier listener: does a querier reach this host (the usual reason
 * joined streams stop after a few minutes)? Without CAP_NET_RAW it says it
 * cannot listen (mcast_querier_listening 0) and the rest goes on.
 */
function startQuerierListener(warn: (w: string) => void): ReturnType<NativeCore['querierStart']> | 0 {
  try {
    return native().querierStart({});
  } catch (e) {
    warn(`querier listener: ${(e as Error).message.split('\n')[0]}`);
    return 0;
  }
}

/** The querier's metrics, with one interface listing per scrape for the names and the interfaces to report. */
function exportQuerier(exporter: MetricsExporter, snap: QuerierSnapshot): void {
  const ifs = native().interfaces();
  const ifname = (index: number): string => ifs.find((i) => i.index === index)?.name ?? String(index);
  const multicast = ifs.filter((i) => i.up && i.multicast && !i.loopback).map((i) => ({ index: i.index, name: i.name }));
  exporter.querier(snap, ifname, multicast);
}

/** SIGHUP re-reads --config and applies it; a bad file leaves the running configuration. */
class HupReloader {
  reloads = 0;
  private pending = Promise.resolve();
  private readonly onHup = (): void => {
    this.pending = this.pending.then(() => this.reload());
  };

  constructor(
    private readonly file: string | undefined,
    private readonly targets: MonitorTargets,
    private readonly ui: RunContext['ui'],
    private readonly warn: (w: string) => void,
  ) {
    process.on('SIGHUP', this.onHup);
  }

  private async reload(): Promise<void> {
    if (!this.file) return this.ui.warn('SIGHUP: no --config file to re-read');
    try {
      await this.targets.apply(loadConfigFile(this.file));
      this.reloads++;
      this.ui.info(`reloaded ${this.file}: ${this.targets.size} targets`);
    } catch (e) {
      this.warn(`SIGHUP: ${(e as Error).message.split('\n')[0]}; the running configuration stays`);
    }
  }

  /** Stop listening and let a reload in progress finish. */
  async close(): Promise<void> {
    process.off('SIGHUP', this.onHup);
    await this.pending;
  }
}

/** Wait for an interrupt or the end of --duration; the stop reason. */
async function untilStopped(signal: AbortSignal, started: number, durationMs: number | undefined): Promise<string> {
  for (;;) {
    await tick(500, signal);
    if (signal.aborted) return String(signal.reason) === 'SIGTERM' ? 'terminated (SIGTERM)' : 'interrupted (SIGINT)';
    if (durationMs !== undefined && Date.now() - started >= durationMs) return 'duration over';
  }
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
