// The Rust core's own unit tests (codecs, statistics, rate limiter, CIDR
// filter, struct layouts) as part of `npm test`: `cargo test` in a target
// directory of its own, so the addon build is never disturbed. Then the N-API
// boundary itself: exceptions thrown during a call reach the caller, and the
// core refuses options with a value missing instead of inventing one.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import test from 'node:test';
import { native, type JoinLeafRequest, type NativeCore } from '../src/native.js';
import { REPO_ROOT } from './helpers/mcast.js';
import { toolExists } from './helpers/netlab.js';

test('cargo test: every unit test of the native core passes', { timeout: 600_000 }, (t) => {
  const cargo = toolExists('cargo') ? 'cargo' : join(process.env.HOME ?? '/root', '.cargo', 'bin', 'cargo');
  const r = spawnSync(cargo, ['test', '--manifest-path', join(REPO_ROOT, 'native', 'Cargo.toml')], {
    encoding: 'utf8',
    env: { ...process.env, CARGO_TARGET_DIR: join(REPO_ROOT, 'native', 'target', 'unit') },
    timeout: 590_000,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    t.skip('cargo is not installed');
    return;
  }
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out.slice(-4000));
  const results = [...out.matchAll(/test result: ok\. (\d+) passed; (\d+) failed/g)];
  assert.ok(results.length > 0, 'no test result lines');
  const passed = results.reduce((a, m) => a + Number(m[1]), 0);
  assert.ok(passed >= 60, `only ${passed} native unit tests ran`);
});

// The N-API boundary, on sockets that never join or send.

function udpV4(core: NativeCore): number {
  const p = core.catalog().find((x) => x.family === 'ipv4' && x.socketType === 'dgram' && x.multipoint);
  assert.ok(p, 'the catalog has a UDP/IPv4 entry');
  return p.id;
}

test('an exception JavaScript throws while the core reads an argument reaches the caller: never undefined', () => {
  const core = native();
  const c = core.constants();
  const h = core.socketOpen(udpV4(core), c.WSA_FLAG_MULTIPOINT_C_LEAF! | c.WSA_FLAG_MULTIPOINT_D_LEAF!);
  try {
    const request = {
      get group(): string {
        throw new Error('thrown by a getter');
      },
    } as unknown as JoinLeafRequest;
    assert.throws(() => core.socketJoinLeaf(h, request), /thrown by a getter/);
    // The socket is still usable and not in a session.
    assert.equal(core.socketInfo(h).session, null);
  } finally {
    core.socketClose(h);
  }
});

test('the core owns no defaults: a start function missing a value names it (src/native.ts fills them)', () => {
  const raw = createRequire(import.meta.url)(join(REPO_ROOT, 'native', `mcast-core.${process.platform}-${process.arch}-gnu.node`)) as Record<string, (o: object) => number>;
  const refusal = (f: () => unknown): { code?: string; message: string } => {
    try {
      f();
    } catch (e) {
      return e as { code?: string; message: string };
    }
    assert.fail('accepted options with a value missing');
  };
  const server = refusal(() => raw.ssmpingServerStart!({ ifindex: 0, perSourcePps: 2, burst: 5, globalPps: 100, ipv4: true, ipv6: true, maxSources: 16 }));
  assert.equal(server.code, 'ERR_INVALID_ARG');
  assert.equal(server.message, 'port is required');
  const querier = refusal(() => raw.querierStart!({ ipv4: true, ipv6: true }));
  assert.equal(querier.message, 'ifindex is required');
});
