#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm install`).
import { existsSync, readFileSync, statSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("mcast: not built yet (dist/src/cli.js is missing); run 'npm install' or 'npm run build'.\n");
  process.exit(3);
}

// `mcast --version` and `mcast --help` alone are answered without loading the
// CLI (commander, the command table: most of the start-up time, see
// docs/performance.md). The help is what commander printed at build time
// (dist/help.txt, `npm run build:ts`), used only while it is newer than the
// compiled CLI and the width it was made for fits the terminal; otherwise,
// and with MCAST_HELP_CACHE=off (the build, the test comparing both), the CLI
// prints it.
const fastAnswer = (args) => {
  if (args.length !== 1) return undefined;
  if (args[0] === '--version' || args[0] === '-V') {
    return `${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`;
  }
  if ((args[0] === '--help' || args[0] === '-h') && process.env.MCAST_HELP_CACHE !== 'off') {
    const cached = new URL('../dist/help.txt', import.meta.url);
    try {
      // The CLI renders help at min(terminal width, 80) columns, the cache at 80.
      if (isatty(1) && process.stdout.columns < 80) return undefined;
      if (statSync(cached).mtimeMs < statSync(cli).mtimeMs) return undefined;
      return readFileSync(cached, 'utf8');
    } catch {
      return undefined;
    }
  }
  return undefined;
};
const answer = fastAnswer(process.argv.slice(2));
if (answer !== undefined) {
  const bytes = Buffer.from(answer);
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(1, bytes, written);
    process.exit(0);
  } catch (e) {
    // A reader that went away (EPIPE) has nothing left to be told. Any other
    // failure before the first byte (ENOSPC, EAGAIN): the CLI below writes
    // the answer again and reports what fails in its own words (exit 3).
    if (e?.code === 'EPIPE') process.exit(0);
    if (written > 0) {
      process.stderr.write(`mcast: cannot write the result to stdout (${e?.code ?? e})\n`);
      process.exit(3);
    }
  }
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
