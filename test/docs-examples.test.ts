// The documentation's examples run: every command example of README.md and
// docs/guide.md is marked with its lab and run there (test/helpers/doc-examples.ts),
// its output compared with the document's; the "Testing on one machine" script
// of docs/development.md must run to the end every time, and the completion
// script must complete. A changed output fails here until the document is updated.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { execLocal, Lab, labSupport } from './helpers/netlab.js';
import { MCAST_BIN, REPO_ROOT, runMcast } from './helpers/mcast.js';
import { commandBlocks, compareOutput, parseExamples, runExample, type DocExample } from './helpers/doc-examples.js';

const DEVELOPMENT = readFileSync(join(REPO_ROOT, 'docs', 'development.md'), 'utf8');

/** The fenced blocks of a Markdown text with their language tag. */
function blocks(md: string): { lang: string; body: string }[] {
  return [...md.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

const DOCUMENTS = ['README.md', 'docs/guide.md'];
const UPDATE = process.env.MCAST_DOCS_UPDATE === '1';

test('every command example (`$ mcast …` / `hN$ mcast …`) in README.md and docs/guide.md is marked to run here', () => {
  const unmarked: string[] = [];
  for (const file of DOCUMENTS) {
    for (const b of commandBlocks(readFileSync(join(REPO_ROOT, file), 'utf8'))) if (!b.marked) unmarked.push(`${file}:${b.line}`);
  }
  assert.deepEqual(unmarked, [], 'command blocks without an <!-- example --> marker (test/helpers/doc-examples.ts says how to mark one)');
});

for (const file of DOCUMENTS) {
  test(`${file}: every marked example prints what the document shows (MCAST_DOCS_UPDATE=1 rewrites them)`, { timeout: 600_000 }, async (t) => {
    const path = join(REPO_ROOT, file);
    let md = readFileSync(path, 'utf8');
    const examples = parseExamples(file, md);
    assert.ok(examples.length > 0, `${file} has marked examples`);
    const needsLab = examples.some((e) => e.lab !== 'none');
    const support = labSupport();
    const shared = new Map<string, Lab>();
    t.after(async () => {
      for (const lab of shared.values()) await lab.destroy();
    });
    const updates: { ex: DocExample; output: string[] }[] = [];
    const failures: string[] = [];
    for (const ex of examples) {
      if (ex.lab !== 'none' && !support.ok) continue;
      // An example with setup steps changes its lab (firewall rules, qdiscs): it gets one of its own.
      let lab: Lab | undefined;
      let own = false;
      if (ex.lab !== 'none') {
        own = ex.steps.some((s) => s.kind === 'setup');
        lab = own ? await Lab.create(ex.lab) : shared.get(ex.lab);
        if (!lab) {
          lab = await Lab.create(ex.lab);
          shared.set(ex.lab, lab);
        }
      }
      const where = `${file}:${ex.line} \`${ex.command}\``;
      try {
        const r = await runExample(ex, lab, 60_000);
        const diff = compareOutput(ex.expected, r.output);
        if (r.code !== ex.exit) failures.push(`${where}: exit ${r.code}, the document says ${ex.exit}\n${r.output.join('\n')}`);
        else if (diff) {
          if (UPDATE) updates.push({ ex, output: r.output });
          else failures.push(`${where}: ${diff}`);
        }
      } catch (err) {
        failures.push(`${where}: ${(err as Error).message}`);
      } finally {
        if (own) await lab?.destroy();
      }
    }
    for (const u of updates.sort((a, b) => b.ex.bodyStart - a.ex.bodyStart)) {
      const body = md.slice(u.ex.bodyStart, u.ex.bodyEnd).split('\n');
      const replaced = [...body.slice(0, u.ex.commandLines), ...u.output, ''].join('\n');
      md = md.slice(0, u.ex.bodyStart) + replaced + md.slice(u.ex.bodyEnd);
    }
    if (updates.length) writeFileSync(path, md);
    if (needsLab && !support.ok) t.diagnostic(`lab examples not run: ${support.reason}`);
    assert.deepEqual(failures, [], 'update the document (MCAST_DOCS_UPDATE=1 node test/run.js docs-examples rewrites the outputs) or fix mcast');
    if (needsLab && !support.ok) t.skip(`netlab unavailable: ${support.reason}`);
  });
}

test('docs/development.md\'s "Testing on one machine" script runs to the end (root, network namespaces of its own)', { timeout: 90_000 }, async (t) => {
  const support = labSupport();
  if (!support.ok) return t.skip(`netlab unavailable: ${support.reason}`);
  const section = DEVELOPMENT.slice(DEVELOPMENT.indexOf('## Testing on one machine'));
  const script = blocks(section).find((b) => b.lang === 'sh' && b.body.includes('ip netns add mc-$h'));
  assert.ok(script, 'the script is in docs/development.md');
  // The document's namespace names (mc-h1, mc-h2), made this run's own: another run as root on
  // this machine (another checkout's tests) must not delete them under it, nor this one its.
  const prefix = `mc${process.pid.toString(36)}-`;
  const body = script.body.replaceAll('mc-', prefix);
  const cleanup = (): void => {
    for (const n of ['h1', 'h2']) spawnSync('ip', ['netns', 'del', `${prefix}${n}`], { stdio: 'ignore' });
  };
  cleanup();
  t.after(cleanup);
  const r = await execLocal('sh', ['-ec', body], { cwd: REPO_ROOT, timeoutMs: 60_000, env: { NO_COLOR: '1' } });
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
