#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm install`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("mcast: not built yet (dist/src/cli.js is missing); run 'npm install' or 'npm run build'.\n");
  process.exit(3);
}
// Loading the CLI takes a few hundred ms: a SIGINT/SIGTERM meanwhile is kept
// and handed to it (the run then stops at once with its summary) instead of
// killing the process with no output. main() installs its own handlers
// before its first await, so there is no moment without one.
const early = [];
const hold = (sig) => early.push(sig);
process.on('SIGINT', hold);
process.on('SIGTERM', hold);
let main;
try {
  ({ main } = await import(cli.href));
} catch (e) {
  // Loading opens a few dozen files: a low `ulimit -n` (or a broken build)
  // fails here, before mcast's own error handling exists. One line, exit 3.
  const code = e?.code;
  const line =
    code === 'EMFILE' || code === 'ENFILE'
      ? `mcast: too many open files while loading mcast (${code}): raise \`ulimit -n\` (e.g. ulimit -n 1024) and run it again`
      : `mcast: cannot load mcast (${String(e?.message ?? e).split('\n')[0]}); rebuild with 'npm run build'`;
  process.stderr.write(`${line}\n`);
  process.exit(3);
}
const run = main(process.argv, early);
process.off('SIGINT', hold);
process.off('SIGTERM', hold);
await run;
