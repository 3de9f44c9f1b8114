#!/usr/bin/env node
// Entry point. CommonJS (bin/package.json says so): an ES module entry would
// start Node's ESM loader, which alone costs a tenth of Node's own start-up.
'use strict';
const { existsSync, readFileSync, statSync, writeFileSync, writeSync } = require('node:fs');
const { dirname, join } = require('node:path');

const dist = join(__dirname, '..', 'dist');
// The command line as one file (`npm run build`, scripts/bundle.ts), or as
// tsc's modules: with MCAST_BUNDLE=off, where only `tsc` has run, or where
// `tsc` ran after the bundle was made (the bundle would be older code).
const bundle = join(dist, 'mcast.cjs');
const modules = join(dist, 'src', 'cli.js');
const newer = (a, b) => {
  try {
    return statSync(a).mtimeMs > statSync(b).mtimeMs;
  } catch {
    return false;
  }
};
const useBundle = process.env.MCAST_BUNDLE !== 'off' && existsSync(bundle) && !newer(modules, bundle);
const cli = useBundle ? bundle : modules;
if (!existsSync(cli)) {
  process.stderr.write("mcast: not built yet (dist/mcast.cjs is missing); run 'npm install' or 'npm run build'.\n");
  process.exit(3);
}

// `mcast --version` and `mcast --help` alone are answered without loading the
// CLI (commander, the command table: most of the start-up time, see
// docs/performance.md). The help is what commander printed at build time
// (dist/help.txt, `npm run build:ts`), used only while it is newer than the
// CLI and the width it was made for fits the terminal; otherwise, and with
// MCAST_HELP_CACHE=off (the build, the test comparing both), the CLI prints it.
const fastAnswer = (args) => {
  if (args.length !== 1) return undefined;
  if (args[0] === '--version' || args[0] === '-V') {
    return `${JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version}\n`;
  }
  if ((args[0] === '--help' || args[0] === '-h') && process.env.MCAST_HELP_CACHE !== 'off') {
    const cached = join(dist, 'help.txt');
    try {
      // The CLI renders help at min(terminal width, 80) columns, the cache at 80.
      if (require('node:tty').isatty(1) && process.stdout.columns < 80) return undefined;
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

// The bundle is compiled from a V8 code cache (dist/mcast.cjs.cache, written
// by the build's own run of the CLI with MCAST_CODE_CACHE=write): parsing and
// compiling half a megabyte of JavaScript on every start is what it saves.
// A cache from another Node version is rejected by V8 and the source is
// compiled as usual. With source maps on (`node --enable-source-maps`),
// Node's own loader runs it, so stack traces point into src/*.ts.
const loadBundle = (file) => {
  if (process.sourceMapsEnabled) return require(file);
  const vm = require('node:vm');
  const Module = require('node:module');
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // The bundle holds no import() (scripts/bundle.ts checks): a script
  // compiled from a code cache has no loader for one.
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, dirname(file));
  if (process.env.MCAST_CODE_CACHE === 'write') {
    // At exit, so the cache holds the functions this run compiled too.
    process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
  }
  return module.exports;
};

// Loading the CLI takes tens of ms: a SIGINT/SIGTERM meanwhile is kept and
// handed to it (the run then stops at once with its summary) instead of
// killing the process with no output. main() installs its own handlers
// before its first await, so there is no moment without one.
const early = [];
const hold = (sig) => early.push(sig);
process.on('SIGINT', hold);
process.on('SIGTERM', hold);
const cannotLoad = (e) => {
  // Loading opens files: a low `ulimit -n` (or a broken build) fails here,
  // before mcast's own error handling exists. One line, exit 3.
  const code = e?.code;
  const line =
    code === 'EMFILE' || code === 'ENFILE'
      ? `mcast: too many open files while loading mcast (${code}): raise \`ulimit -n\` (e.g. ulimit -n 1024) and run it again`
      : `mcast: cannot load mcast (${String(e?.message ?? e).split('\n')[0]}); rebuild with 'npm run build'`;
  process.stderr.write(`${line}\n`);
  process.exit(3);
};
// The process ends as soon as main() is done and its output has reached the
// kernel. Left to end by itself, it would first run a young-generation GC
// that V8 schedules as a task (3-5 ms here, for nothing). It ends the usual
// way instead while output is still queued (a pipe whose reader is slower:
// its writes complete later, and exiting would cut the output) or when a
// write failed (the stream's 'error' is still on its way to
// src/ui/output.ts, which decides the exit code: 3 for stdout).
const settled = (stream) => stream.writableLength === 0 && !stream.errored;
const start = ({ main }) => {
  main(process.argv, early).then(() => {
    if (settled(process.stdout) && settled(process.stderr)) process.exit();
  });
  process.off('SIGINT', hold);
  process.off('SIGTERM', hold);
};
if (useBundle) {
  let loaded;
  try {
    loaded = loadBundle(cli);
  } catch (e) {
    cannotLoad(e);
  }
  start(loaded);
} else {
  import(require('node:url').pathToFileURL(cli).href).then(start, cannotLoad);
}
