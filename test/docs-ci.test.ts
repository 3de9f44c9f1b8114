// docs/ci.md's shell example is a script people copy into pipelines: it is
// run here as written, on h1 of a three-host lab, in the three situations
// the page shows (both responders up, both gone, a host without eth0), and
// what it printed must be the page's text block line for line.

import assert from 'node:assert/strict';
import test from 'node:test';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useLab, type Lab } from './helpers/netlab.js';
import { MCAST_BIN, REPO_ROOT } from './helpers/mcast.js';
import { skipWithout } from './helpers/streams.js';

/** The first ```sh block after `heading` and the first ```text block after that. */
function scriptAndOutput(markdown: string, heading: string): { script: string; output: string[] } {
  const from = markdown.indexOf(heading);
  assert.ok(from >= 0, `${heading} in docs/ci.md`);
  const sh = /```sh\n([\s\S]*?)```/.exec(markdown.slice(from));
  assert.ok(sh, 'a sh block under Shell');
  const rest = markdown.slice(from + sh.index + sh[0].length);
  const text = /```text\n([\s\S]*?)```/.exec(rest);
  assert.ok(text, 'the text block showing what it prints');
  return { script: sh[1]!, output: text[1]!.trimEnd().split('\n') };
}

/** Runs the script in `dir` on `node`, with `mcast` on PATH being this checkout's. */
async function runScript(lab: Lab, node: string, dir: string): Promise<{ code: number | null; lines: string[] }> {
  // stderr into stdout, in the order a terminal shows them.
  const r = await lab.exec(node, 'sh', ['-c', 'exec sh ./check.sh 2>&1'], { cwd: dir, env: { PATH: `${dir}:${process.env.PATH}`, NO_COLOR: '1' }, timeoutMs: 60_000 });
  return { code: r.code, lines: r.stdout.trimEnd().split('\n') };
}

test('docs/ci.md: the shell example prints what the page says, and exits 0, 1 and 2 in its three situations', { timeout: 180_000 }, async (t) => {
  if (skipWithout(t, 'jq')) return;
  const { script, output } = scriptAndOutput(readFileSync(join(REPO_ROOT, 'docs', 'ci.md'), 'utf8'), '## Shell');
  const dir = mkdtempSync(join(tmpdir(), 'mcast-ci-doc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'check.sh'), script);
  writeFileSync(join(dir, 'mcast'), `#!/bin/sh\nexec ${process.execPath} ${MCAST_BIN} "$@"\n`);
  chmodSync(join(dir, 'mcast'), 0o755);

  const lab = await useLab(t, 'link3', { ipv6: false });
  if (!lab) return;
  const responders = ['h2', 'h3'].map((h) => lab.start(h, process.execPath, [MCAST_BIN, 'respond', '239.1.2.3', '-i', 'eth0', '-d', '60s'], { env: { ...process.env, NO_COLOR: '1' } }));
  await Promise.all(responders.map((r) => r.waitForLine(/./, 20_000)));
  const ok = await runScript(lab, 'h1', dir);
  await Promise.all(responders.map((r) => r.stop('SIGTERM')));
  const degraded = await runScript(lab, 'h1', dir);
  assert.ok(JSON.parse(readFileSync(join(dir, 'mcast-check.json'), 'utf8')).failures.length > 0, 'the JSON the script reads');
  assert.match(readFileSync(join(dir, 'mcast-junit.xml'), 'utf8'), /<testsuite[\s\S]*<failure/, 'the JUnit report beside it');

  const bare = await useLab(t, 'single');
  if (!bare) return;
  const wrong = await runScript(bare, 'h1', dir);

  assert.deepEqual([ok.code, degraded.code, wrong.code], [0, 1, 2], JSON.stringify({ ok, degraded, wrong }));
  assert.deepEqual([...ok.lines, ...degraded.lines, ...wrong.lines], output, 'the page shows what the script printed');
});
