// The documentation's examples run: what README.md shows for `mcast scope`
// (no network) must be exactly what mcast prints, the "Testing on one
// machine" script must run to the end every time, and the completion script
// must complete. A changed output fails here until the document is updated.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { execLocal, labSupport } from './helpers/netlab.js';
import { MCAST_BIN, REPO_ROOT, runMcast } from './helpers/mcast.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The fenced blocks of a Markdown text with their language tag. */
function blocks(md: string): { lang: string; body: string }[] {
  return [...md.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

/** `$ mcast ARGS` examples in text blocks: the command and the lines shown after it (up to `…`). */
function examples(md: string, command: string): { args: string[]; shown: string[]; complete: boolean }[] {
  const out: { args: string[]; shown: string[]; complete: boolean }[] = [];
  for (const b of blocks(md).filter((x) => x.lang === 'text')) {
    const lines = b.body.replace(/\n$/, '').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = new RegExp(`^\\$ mcast (${command}(?: .*)?)$`).exec(lines[i]!);
      if (!m) continue;
      const shown: string[] = [];
      let complete = true;
      for (let k = i + 1; k < lines.length && !lines[k]!.startsWith('$ '); k++) {
        if (lines[k]!.trim() === '…') {
          complete = false;
          break;
        }
        shown.push(lines[k]!);
      }
      while (shown.length && shown[shown.length - 1] === '') shown.pop();
      out.push({ args: m[1]!.split(' '), shown, complete });
    }
  }
  return out;
}

test('every `mcast scope` example in README.md prints exactly what the README shows', async () => {
  const ex = examples(README, 'scope');
  assert.ok(ex.length >= 2, 'the README has scope examples');
  for (const e of ex) {
    const r = await runMcast(e.args, { env: { COLUMNS: '200' } });
    assert.equal(r.code, 0, r.stderr);
    const got = r.stdout.replace(/\n$/, '').split('\n');
    assert.deepEqual(e.complete ? got : got.slice(0, e.shown.length), e.shown, `mcast ${e.args.join(' ')}`);
  }
});

test('the README\'s "Testing on one machine" script runs to the end (root, network namespaces of its own)', { timeout: 90_000 }, async (t) => {
  const support = labSupport();
  if (!support.ok) return t.skip(`netlab unavailable: ${support.reason}`);
  const section = README.slice(README.indexOf('## Testing on one machine'));
  const script = blocks(section).find((b) => b.lang === 'sh' && b.body.includes('ip netns add mc-$h'));
  assert.ok(script, 'the script is in the README');
  const cleanup = (): void => {
    for (const n of ['mc-h1', 'mc-h2']) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  };
  cleanup();
  t.after(cleanup);
  const r = await execLocal('sh', ['-ec', script.body], { cwd: REPO_ROOT, timeoutMs: 60_000, env: { NO_COLOR: '1' } });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /--- mcast join summary \([\d.]+s, count reached\) ---/);
  assert.match(r.stdout, /239\.1\.2\.3 port 5000 on eth0 \(any source\): 5 packets/);
  assert.match(r.stdout, /--- mcast send summary \(duration over\) ---/);
});

test('mcast completion: bash completes commands, options and interfaces; zsh and fish scripts are generated; other shells exit 2', async () => {
  const run = (words: string[]): string => {
    const r = spawnSync('bash', ['-c', `source <("${process.execPath}" "${MCAST_BIN}" completion bash); COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _mcast; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.equal(run(['mcast', 'mon']), 'monitor');
  assert.equal(run(['mcast', 'join', '--synced']), '--synced-clocks');
  assert.equal(run(['mcast', 'check', '--max-s']), '--max-silence');
  assert.equal(run(['mcast', 'join', '-i', 'l']), 'lo');
  assert.equal(run(['mcast', 'completion', 'f']), 'fish');
  for (const shell of ['zsh', 'fish']) {
    const r = await runMcast(['completion', shell]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, shell === 'zsh' ? /^#compdef mcast/ : /__fish_seen_subcommand_from join' -l synced-clocks/m);
  }
  const bad = await runMcast(['completion', 'tcsh']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown shell 'tcsh': expected one of bash, zsh, fish/);
});
