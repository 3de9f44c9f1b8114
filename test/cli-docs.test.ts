// docs/cli.md and docs/mcast.1 are generated from the commander program
// (scripts/docs-cli.ts): they must be current, and what they list must be
// what the real `mcast COMMAND --help` prints.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { REPO_ROOT, runMcast } from './helpers/mcast.js';

const GENERATOR = join(REPO_ROOT, 'dist', 'scripts', 'docs-cli.js');

test('docs/cli.md and docs/mcast.1 are what `npm run docs:cli` writes now', () => {
  const r = spawnSync(process.execPath, [GENERATOR, '--check'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('every command and option that `mcast COMMAND --help` prints is in docs/cli.md and the man page', async () => {
  const md = readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
  const man = readFileSync(join(REPO_ROOT, 'docs', 'mcast.1'), 'utf8');
  const top = await runMcast(['--help']);
  const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  assert.ok(commands.length >= 10, top.stdout);
  for (const c of commands) {
    assert.match(md, new RegExp(`^## mcast ${c}$`, 'm'), `docs/cli.md has mcast ${c}`);
    assert.match(man, new RegExp(`^\\.SS mcast ${c.replace(/-/g, '\\\\-')}\\b`, 'm'), `the man page has mcast ${c}`);
    const help = await runMcast([c, '--help']);
    assert.equal(help.code, 0, help.stderr);
    const section = md.slice(md.indexOf(`## mcast ${c}\n`)).split(/\n## /)[0]!;
    for (const m of help.stdout.matchAll(/^ {2}(-[^ ]+(?: [^ ]+)*?)(?: {2,}|$)/gm)) {
      const term = m[1]!.replace(/\|/g, '\\|');
      assert.ok(section.includes(`\`${term}\``), `docs/cli.md lists ${m[1]} of mcast ${c}`);
    }
  }
});

test('a stale reference fails --check with the command that regenerates it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcast-cli-docs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(REPO_ROOT, 'docs', 'mcast.1'), join(dir, 'mcast.1'));
  writeFileSync(join(dir, 'cli.md'), readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8').replace('`-c, --count <n>`', '`-c, --count <number>`'));
  const r = spawnSync(process.execPath, [GENERATOR, '--check', '--docs', dir], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cli\.md is stale: run `npm run docs:cli` and commit the result/);
  assert.doesNotMatch(r.stderr, /mcast\.1/);
});
