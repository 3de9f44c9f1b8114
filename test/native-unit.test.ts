// The Rust core's own unit tests (codecs, statistics, rate limiter, CIDR
// filter, struct layouts) as part of `npm test`: `cargo test` in a target
// directory of its own, so the addon build is never disturbed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import test from 'node:test';
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
