// Every relative link in the repository's Markdown points at a file that
// exists and, with a #fragment, at a heading (GitHub's anchor for it) or an
// explicit <a id> of that file.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import test from 'node:test';
import { REPO_ROOT } from './helpers/mcast.js';

const SKIP_DIRS = new Set(['node_modules', 'dist', 'target', '.git']);

function markdownFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...markdownFiles(p));
    else if (e.name.endsWith('.md')) out.push(p);
  }
  return out;
}

/** The text outside fenced code blocks and inline code spans. */
function prose(md: string): string {
  return md.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchors: lower case, punctuation but - and _ dropped, spaces to -, duplicates -1, -2... */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = md.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
  for (const m of text.matchAll(/^#{1,6}\s+(.*?)\s*#*$/gm)) {
    const base = m[1]!
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}

test('every relative link and #anchor in the Markdown files resolves', () => {
  const files = markdownFiles(REPO_ROOT);
  assert.ok(files.some((f) => f.endsWith('README.md')));
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    const md = readFileSync(file, 'utf8');
    for (const m of prose(md).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      checked++;
      const [path, fragment] = target.split('#') as [string, string | undefined];
      const dest = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
      const where = `${relative(REPO_ROOT, file)}: ${target}`;
      if (!existsSync(dest)) {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (fragment === undefined || statSync(dest).isDirectory()) continue;
      if (!dest.endsWith('.md')) continue;
      if (!anchors(readFileSync(dest, 'utf8')).has(fragment)) broken.push(`${where} (no heading with that anchor)`);
    }
  }
  assert.ok(checked > 50, `only ${checked} links found`);
  assert.deepEqual(broken, []);
});

test('the anchor rule is GitHub\'s', () => {
  const a = anchors('# Is there a querier?\n## `send -d` and the interface\n## Exit codes\n## Exit codes\n```\n# not a heading\n```\n');
  assert.deepEqual([...a], ['is-there-a-querier', 'send--d-and-the-interface', 'exit-codes', 'exit-codes-1']);
});
