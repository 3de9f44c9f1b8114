// Issue 13, item 9, for `mcast check --expect HOST`: an expected host that
// stays silent gets unicast probes to its responder port, and the failure says
// which path fails. Responders answer unicast probes addressed to the host as
// they answer the group's. nftables in the responder's namespace drops only the
// multicast probes, then every probe (multicast and unicast); its counters are
// the truth.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useLab, type Lab } from './helpers/netlab.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, runMcast, spawnMcast, type McastProcess } from './helpers/mcast.js';
import { extractSchemas, validate } from './helpers/schema.js';

const SCHEMA = extractSchemas(readFileSync(join(REPO_ROOT, 'docs', 'json.md'), 'utf8')).schemas.get('check')!;

const GROUP = '239.1.3.13';

async function responder(lab: Lab, node: string, name: string): Promise<McastProcess> {
  const p = spawnMcast(['respond', GROUP, '-i', 'eth0', '--ndjson', '--name', name], { lab, node, timeoutMs: 90_000 });
  await p.waitForLine(/"event":"joined"/, 15_000, 'stdout');
  return p;
}

async function stop(ps: McastProcess[]): Promise<void> {
  for (const p of ps) p.kill('SIGINT');
  for (const p of ps) await p.result(15_000).catch(() => undefined);
}

const block = (lab: Lab, rule: string) =>
  lab.nft('h2', `table inet uni_block {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    ${rule} counter drop\n  }\n}\n`);

for (const [what, rule, cause, text] of [
  ['only multicast', (h1: string) => `ip saddr ${h1} ip daddr 224.0.0.0/4`, 'multicast', /responder 10\.200\.1\.2 never answered: a multicast problem \(it answered 5 of 5 unicast probes/],
  ['multicast and unicast', (h1: string) => `ip saddr ${h1} udp dport 5000`, 'path', /responder 10\.200\.1\.2 never answered: a path problem \(it answered none of 5 unicast probes either/],
] as const) {
  test(`check --expect: a responder behind a rule dropping ${what} is named a ${cause} problem; the other passes`, { timeout: 90_000 }, async (t) => {
    const lab = await useLab(t, 'link3');
    if (!lab) return;
    const [h1, h2, h3] = ['h1', 'h2', 'h3'].map((n) => lab.addr(n, 4)) as [string, string, string];
    await block(lab, rule(h1));
    const ps = [await responder(lab, 'h2', 'two'), await responder(lab, 'h3', 'three')];
    try {
      const args = ['check', `${GROUP}:5000`, '-i', 'eth0', '--expect', h2, '--expect', h3, '--count', '10', '--interval', '100ms', '--timeout', '15s'];
      const [j, plain] = await Promise.all([
        runMcast([...args, '--json'], { lab, node: 'h1', timeoutMs: 30_000 }),
        runMcast(args, { lab, node: 'h1', timeoutMs: 30_000 }),
      ]);
      assert.equal(j.code, 1, `${j.stdout}\n${j.stderr}`);
      const doc = j.json;
      assert.deepEqual(validate(SCHEMA, doc), [], 'the document fits docs/json.md');
      t.diagnostic(JSON.stringify(doc.expected));
      const e2 = doc.expected.find((e: any) => e.host === h2);
      const e3 = doc.expected.find((e: any) => e.host === h3);
      assert.deepEqual([e3.answered, e3.unicast, e3.cause], [true, null, null], 'h3 answered the group: no unicast needed');
      assert.equal(e2.answered, false);
      assert.equal(e2.address, h2);
      assert.equal(e2.cause, cause);
      assert.equal(e2.unicast.sent, 5);
      assert.equal(e2.unicast.received, cause === 'multicast' ? 5 : 0);
      if (cause === 'multicast') assert.ok(e2.unicast.rtt.avg > 0 && e2.unicast.rtt.avg < 100, JSON.stringify(e2.unicast));
      assert.equal(doc.failures.length, 1, JSON.stringify(doc.failures));
      assert.match(doc.failures[0], text);
      assert.equal(plain.code, 1);
      assert.match(plain.stdout + plain.stderr, text);
      // The rule saw the probes it dropped: multicast from both runs, and unicast too when it drops those.
      const [dropped] = await lab.nftCounters({ node: 'h2', family: 'inet', name: 'uni_block' });
      assert.ok(dropped! >= (cause === 'path' ? 2 * (10 + 5) - 4 : 2 * 10 - 4), `nftables dropped ${dropped}`);
    } finally {
      await stop(ps);
    }
  });
}
