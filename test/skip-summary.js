// A node:test reporter that ends the run with the skipped tests and why, so
// a skip is never silent: `skipped: N` and one line per skipped test (file,
// name, reason). Tests left out by --test-name-pattern are not counted.
// test/run.js adds it beside the default TAP reporter.

import { relative } from 'node:path';

const FILTERED = 'test name does not match pattern';

export default async function* skipSummary(source) {
  const skipped = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, name, file } = event.data;
    if (skip === undefined || skip === false || skip === FILTERED) continue;
    skipped.push({ name, file, reason: typeof skip === 'string' ? skip : '(no reason given)' });
  }
  yield `\n# skipped: ${skipped.length}\n`;
  for (const s of skipped) {
    yield `#   SKIP ${s.file ? `${relative(process.cwd(), s.file)}: ` : ''}${s.name} — ${s.reason}\n`;
  }
}
