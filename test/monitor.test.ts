// `mcast monitor`: long-running measurement exported to Prometheus. A real
// Prometheus server (Debian's package) scrapes the monitor inside the lab and
// its HTTP API must report the loss nftables caused; promtool checks the
// exposition and the shipped alerting rules (with their unit tests); SIGHUP
// re-reads the config without dropping unchanged targets; bad configuration
// is refused with exit 2 and one line.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { execLocal, sleep, useLab, type Lab, type NftTable } from './helpers/netlab.js';
import { requireTools } from './helpers/peers.js';
import { REPO_ROOT, runMcast, spawnMcast, type McastProcess } from './helpers/mcast.js';
import { isJoined } from './helpers/membership.js';

function skipWithout(t: TestContext, ...tools: string[]): boolean {
  const why = requireTools(...tools);
  if (why) t.skip(why);
  return why !== undefined;
}

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcast-monitor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** GET a URL from inside a node's namespace. */
async function get(lab: Lab, node: string, url: string): Promise<string> {
  const r = await lab.exec(node, process.execPath, ['-e', `fetch(${JSON.stringify(url)}).then(async (r) => { if (!r.ok) { console.error(r.status); process.exit(1); } process.stdout.write(await r.text()); })`]);
  assert.equal(r.code, 0, `GET ${url}: ${r.stderr}`);
  return r.stdout;
}

/** The value of one sample of the exposition, e.g. sample(text, 'mcast_receive_lost_total', { group: '239.1.1.1' }). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function waitFor(what: string, cond: () => Promise<boolean>, procs: McastProcess[], ms = 20_000): Promise<void> {
  for (const deadline = Date.now() + ms; ; await sleep(100)) {
    if (await cond()) return;
    const dead = procs.find((p) => p.proc.exited);
    if (dead) throw dead.proc.failure(`exited while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

test('bad configuration is refused before anything starts: exit 2 and one line naming the place and what is accepted', { timeout: 120_000 }, async (t) => {
  const dir = scratch(t);
  const cases: [string, string, RegExp][] = [
    ['syntax.yaml', 'join: [239.1.1.1\n', /not valid YAML/],
    ['list.yaml', '- 239.1.1.1\n', /expected a mapping/],
    ['unknown.yaml', 'joins: [239.1.1.1]\n', /joins: unknown setting \(accepted: interface, metrics, join, respond, ping\)/],
    ['notlist.yaml', 'join: 239.1.1.1\n', /join: expected a list/],
    ['unicast.yaml', 'join: [10.0.0.1]\n', /join\[0\]\.group: .*multicast/i],
    ['port.yaml', 'join: [{ group: 239.1.1.1, port: 70000 }]\n', /join\[0\]\.port/],
    ['source.yaml', 'join: [{ group: 232.1.1.1, source: [nonsense] }]\n', /join\[0\]\.source\[0\]/],
    ['every.yaml', 'ping: [{ group: 239.1.1.1, every: 100ms }]\n', /ping\[0\]\.every/],
    ['fit.yaml', 'ping: [{ group: 239.1.1.1, every: 2s, count: 20, interval: 200ms }]\n', /ping\[0\]\.every: a round of 20 probes every 200ms does not fit in 2000ms/],
    ['metrics.yaml', 'metrics: localhost\njoin: [239.1.1.1]\n', /metrics: expected HOST:PORT/],
    ['empty.yaml', '{}\n', /nothing to monitor/],
    ['key.json', '{"ping": [{"group": "239.1.1.1", "rate": 5}]}', /ping\[0\]\.rate: unknown setting/],
  ];
  const results = await Promise.all(
    cases.map(([file, text]) => {
      writeFileSync(join(dir, file), text);
      return runMcast(['monitor', '--config', join(dir, file)]);
    }),
  );
  cases.forEach(([file, , re], i) => {
    const r = results[i]!;
    assert.equal(r.code, 2, `${file}: exit ${r.code}\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${file}: one line, got\n${r.stderr}`);
    assert.match(lines[0]!, re, file);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });
  const missing = await runMcast(['monitor', '--config', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read the config file .*ENOENT/);
  const mixed = await runMcast(['monitor', '--config', join(dir, 'empty.yaml'), '--join', '239.1.1.1']);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /do not mix/);
  const flags = await runMcast(['monitor', '--ping', '239.1.1.1', '--every', '1s', '--count', '10', '--interval', '200ms']);
  assert.equal(flags.code, 2);
  assert.match(flags.stderr, /command line: ping\[0\]\.every: a round of 10 probes/);
});

test('the shipped Kubernetes config validates, and the alerting rules pass promtool check and their unit tests', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'promtool')) return;
  const dir = scratch(t);
  const cm = parseYaml(readFileSync(join(REPO_ROOT, 'deploy', 'kubernetes', 'configmap.yaml'), 'utf8')) as { data: Record<string, string> };
  const file = join(dir, 'monitor.yaml');
  writeFileSync(file, cm.data['monitor.yaml']!);
  const { loadConfigFile } = await import('../src/model/monitor-config.js');
  const cfg = loadConfigFile(file);
  assert.deepEqual([cfg.join.length, cfg.respond.length, cfg.ping.length, cfg.metrics.port], [2, 1, 1, 9464]);
  const rulesDir = join(REPO_ROOT, 'deploy', 'prometheus');
  const check = await execLocal('promtool', ['check', 'rules', join(rulesDir, 'mcast-alerts.yml')]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const unit = await execLocal('promtool', ['test', 'rules', 'mcast-alerts.test.yml'], { cwd: rulesDir });
  assert.equal(unit.code, 0, unit.stdout + unit.stderr);
  assert.match(unit.stdout, /SUCCESS/);
});

test('a real Prometheus scraping the monitor reports the loss nftables caused; promtool accepts the exposition; /healthz answers', { timeout: 120_000 }, async (t) => {
  if (skipWithout(t, 'prometheus', 'promtool', 'nft')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.14.1.1';
  const monitor = spawnMcast(['monitor', '--join', group, '-i', 'eth0', '--metrics', '127.0.0.1:9464', '-d', '60s', '--json'], { lab, node: 'h2', timeoutMs: 90_000 });
  await waitFor('the monitor joined', () => isJoined(lab, 'h2', group), [monitor]);
  const promDir = join(lab.tmpdir, 'prometheus');
  writeFileSync(join(lab.tmpdir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mcast-monitor\n    static_configs:\n      - targets: ['127.0.0.1:9464']\n`);
  const prom = lab.start('h2', 'prometheus', [`--config.file=${join(lab.tmpdir, 'prometheus.yml')}`, `--storage.tsdb.path=${promDir}`, '--web.listen-address=127.0.0.1:9090', '--log.level=warn']);
  // Every 10th probe dropped on its way into h2 (the 10th, 20th, ...: never the first; the 500th is).
  await lab.nft('h2', `table inet monloss {\n chain c {\n  type filter hook input priority 0; policy accept;\n  udp dport 5000 numgen inc mod 10 == 9 counter drop\n }\n}\n`);
  const sent = await runMcast(['send', group, '-i', 'eth0', '-c', '500', '-r', '250', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.equal(sent.code, 0, sent.stderr);
  const [dropped] = await lab.nftCounters({ node: 'h2', family: 'inet', name: 'monloss' } as NftTable);
  assert.ok(dropped! >= 40, `nftables dropped ${dropped}`);
  const query = async (q: string): Promise<number | undefined> => {
    const body = JSON.parse(await get(lab, 'h2', `http://127.0.0.1:9090/api/v1/query?query=${encodeURIComponent(q)}`));
    const v = body.data?.result?.[0]?.value?.[1];
    return v === undefined ? undefined : Number(v);
  };
  await waitFor('Prometheus saw the packets', async () => (await query(`sum(mcast_receive_packets_total{group="${group}"})`).catch(() => undefined)) === 500 - dropped!, [monitor], 30_000);
  // The 500th probe is the 50th dropped: a tail the sequence numbers cannot see, the rest is loss.
  assert.equal(await query(`sum(mcast_receive_lost_total{group="${group}"})`), dropped! - 1, 'PromQL loss = the nftables counter, less the dropped last probe');
  assert.equal(await query(`mcast_group_joined{group="${group}"}`), 1);
  const text = await get(lab, 'h2', 'http://127.0.0.1:9464/metrics');
  assert.equal(sample(text, 'mcast_receive_lost_total', { group }), dropped! - 1);
  const file = join(lab.tmpdir, 'metrics.txt');
  writeFileSync(file, text);
  const lint = await execLocal('sh', ['-c', `promtool check metrics < ${file}`]);
  assert.equal(lint.code, 0, `promtool check metrics:\n${lint.stdout}${lint.stderr}`);
  assert.equal((await get(lab, 'h2', 'http://127.0.0.1:9464/healthz')).trim(), 'ok');
  await prom.stop();
  monitor.kill('SIGTERM');
  const r = await monitor.result(20_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.stopReason, 'terminated (SIGTERM)');
  t.diagnostic(`500 sent, nftables dropped ${dropped} (the last among them); Prometheus: lost ${dropped! - 1}`);
});

test('SIGHUP re-reads the config: unchanged targets keep running and counting, removed ones leave their group, new ones join', { timeout: 120_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const file = join(lab.tmpdir, 'monitor.yaml');
  writeFileSync(file, 'interface: eth0\nmetrics: 127.0.0.1:9465\njoin:\n  - 239.14.2.1\n  - 239.14.2.2\n');
  const monitor = spawnMcast(['monitor', '--config', file, '-d', '60s', '--json'], { lab, node: 'h2', timeoutMs: 90_000 });
  await waitFor('both joined', async () => (await isJoined(lab, 'h2', '239.14.2.1')) && (await isJoined(lab, 'h2', '239.14.2.2')), [monitor]);
  await runMcast(['send', '239.14.2.1', '-i', 'eth0', '-c', '40', '-r', '200'], { lab, node: 'h1' });
  await sleep(300);
  const before = await get(lab, 'h2', 'http://127.0.0.1:9465/metrics');
  assert.equal(sample(before, 'mcast_receive_packets_total', { group: '239.14.2.1' }), 40);
  writeFileSync(file, 'interface: eth0\nmetrics: 127.0.0.1:9465\njoin:\n  - 239.14.2.1\n  - 239.14.2.3\n');
  monitor.kill('SIGHUP');
  await waitFor('the new group joined and the removed one left', async () => (await isJoined(lab, 'h2', '239.14.2.3')) && !(await isJoined(lab, 'h2', '239.14.2.2')), [monitor]);
  assert.ok(await isJoined(lab, 'h2', '239.14.2.1'), 'the unchanged target stayed joined');
  await runMcast(['send', '239.14.2.1', '-i', 'eth0', '-c', '10', '-r', '200'], { lab, node: 'h1' });
  await sleep(300);
  const after = await get(lab, 'h2', 'http://127.0.0.1:9465/metrics');
  assert.equal(sample(after, 'mcast_receive_packets_total', { group: '239.14.2.1' }), 50, 'the count went on from 40');
  assert.equal(sample(after, 'mcast_group_joined', { group: '239.14.2.2' }), undefined, 'the removed group is gone');
  assert.equal(sample(after, 'mcast_group_joined', { group: '239.14.2.3' }), 1);
  // A broken file on SIGHUP keeps the running configuration, with a warning.
  writeFileSync(file, 'join: [10.0.0.1]\n');
  monitor.kill('SIGHUP');
  await waitFor('the warning', async () => /SIGHUP: .*the running configuration stays/.test(monitor.stderr), [monitor]);
  assert.ok(await isJoined(lab, 'h2', '239.14.2.3'));
  monitor.kill('SIGINT');
  const r = await monitor.result(20_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.reloads, 1);
  assert.deepEqual(r.json.targets, { join: 2, respond: 0, ping: 0 });
});

test('memory stays flat: a monitor with 20 groups and 60 senders over a minute (RSS and heap from its own metrics)', { timeout: 180_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const groups = Array.from({ length: 20 }, (_, i) => `239.14.3.${i + 1}`);
  const file = join(lab.tmpdir, 'monitor.yaml');
  writeFileSync(file, `interface: eth0\nmetrics: 127.0.0.1:9466\njoin:\n${groups.map((g) => `  - ${g}`).join('\n')}\n`);
  const monitor = spawnMcast(['monitor', '--config', file, '-d', '120s', '--json'], { lab, node: 'h2', timeoutMs: 150_000 });
  await waitFor('all joined', async () => (await Promise.all(groups.map((g) => isJoined(lab, 'h2', g)))).every(Boolean), [monitor], 30_000);
  // Three senders to all 20 groups: 60 (sender, group) streams at 20 packets/s each.
  const senders = [0, 1, 2].map(() => spawnMcast(['send', ...groups, '-i', 'eth0', '-r', '20', '-d', '75s'], { lab, node: 'h1', timeoutMs: 120_000 }));
  const memory = async (): Promise<{ rss: number; heap: number; packets: number }> => {
    const text = await get(lab, 'h2', 'http://127.0.0.1:9466/metrics');
    const packets = text.split('\n').filter((l) => l.startsWith('mcast_receive_packets_total{')).reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    return { rss: sample(text, 'process_resident_memory_bytes')!, heap: sample(text, 'nodejs_heap_size_used_bytes')!, packets };
  };
  await sleep(15_000);
  const early = await memory();
  await sleep(45_000);
  const late = await memory();
  const streams = (await get(lab, 'h2', 'http://127.0.0.1:9466/metrics')).split('\n').filter((l) => l.startsWith('mcast_receive_packets_total{')).length;
  for (const s of senders) s.kill('SIGINT');
  await Promise.all(senders.map((s) => s.result(20_000)));
  monitor.kill('SIGINT');
  assert.equal((await monitor.result(20_000)).code, 0);
  assert.ok(late.packets > early.packets + 40_000, `traffic flowed: ${early.packets} -> ${late.packets}`);
  assert.equal(streams, 20, 'one series per (group, sender address): the three senders share h1\'s address');
  const mib = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
  t.diagnostic(`RSS ${mib(early.rss)} -> ${mib(late.rss)}, heap ${mib(early.heap)} -> ${mib(late.heap)} over 45 s and ${late.packets - early.packets} packets`);
  assert.ok(late.rss - early.rss < 16 * 1048576, `RSS grew ${mib(late.rss - early.rss)}`);
  assert.ok(late.heap - early.heap < 8 * 1048576, `heap grew ${mib(late.heap - early.heap)}`);
});

test('the monitor hears the querier: queries per querier and the time since a general query, which grows once queries stop reaching the host', { timeout: 120_000 }, async (t) => {
  if (skipWithout(t, 'nft')) return;
  const lab = await useLab(t, 'link3', { snooping: true, ipv6: false });
  if (!lab) return;
  // The bridge queries every second from its own address (options one per command, restarted so the timers apply now).
  await lab.check('sw', 'ip', ['addr', 'add', '10.200.1.100/24', 'dev', 'br0']);
  for (const [k, v] of [['mcast_querier', '0'], ['mcast_query_use_ifaddr', '1'], ['mcast_query_interval', '100'], ['mcast_startup_query_interval', '100'], ['mcast_query_response_interval', '50'], ['mcast_querier', '1']]) {
    await lab.check('sw', 'ip', ['link', 'set', 'br0', 'type', 'bridge', k!, v!]);
  }
  const monitor = spawnMcast(['monitor', '--join', '239.14.4.1', '-i', 'eth0', '--metrics', '127.0.0.1:9467', '-d', '60s', '--json'], { lab, node: 'h2', timeoutMs: 90_000 });
  await waitFor('the monitor joined', () => isJoined(lab, 'h2', '239.14.4.1'), [monitor]);
  const metrics = (): Promise<string> => get(lab, 'h2', 'http://127.0.0.1:9467/metrics');
  await waitFor('a query heard', async () => (sample(await metrics(), 'mcast_querier_queries_total', { interface: 'eth0', family: 'ipv4', querier: '10.200.1.100' }) ?? 0) >= 2, [monitor], 20_000);
  const before = await metrics();
  assert.equal(sample(before, 'mcast_querier_listening', { family: 'ipv4' }), 1);
  assert.ok(sample(before, 'mcast_querier_seconds_since_general_query', { interface: 'eth0', family: 'ipv4' })! < 3, before.split('\n').filter((l) => l.startsWith('mcast_querier')).join('\n'));
  // Queries stop reaching h2 (nftables in the switch): the silence grows.
  await lab.nft('sw', `table bridge noquery {\n chain f {\n  type filter hook forward priority 0; policy accept;\n  oifname "p2" ip protocol igmp drop\n }\n chain o {\n  type filter hook output priority 0; policy accept;\n  oifname "p2" ip protocol igmp drop\n }\n}\n`);
  await waitFor('the silence grows', async () => (sample(await metrics(), 'mcast_querier_seconds_since_general_query', { interface: 'eth0', family: 'ipv4' }) ?? 0) > 5, [monitor], 30_000);
  monitor.kill('SIGINT');
  assert.equal((await monitor.result(20_000)).code, 0);
});
