// `npm run build:ts` step: bundles the command line into one CommonJS file,
// dist/mcast.cjs (with dist/mcast.cjs.map), which bin/mcast.js runs.
//
// Why: start-up (issue 20, docs/performance.md). Loading ~30 ES modules
// through Node's ESM loader cost more than Node's own start; one CommonJS
// file, compiled from a V8 code cache (bin/mcast.js), costs a fraction of it.
// The input is tsc's output (dist/src), so the bundle is the same code the
// tests import, and the source map leads back through tsc's maps to src/*.ts:
// run with `node --enable-source-maps bin/mcast.js ...` (or MCAST_BUNDLE=off
// for the unbundled modules) to debug.

import { build, type Plugin } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUNDLE = join(ROOT, 'dist', 'mcast.cjs');

// Loaded from node_modules (require) when a command needs them: the
// monitor's YAML and Prometheus libraries are a third of the bundle's size
// otherwise, and most runs never touch them. Both are CommonJS. Nothing may
// be left to a dynamic import(): bin/mcast.js compiles the bundle as a
// vm.Script from a code cache, where import() has no loader (checked below).
const LOADED_ON_DEMAND = ['yaml', 'prom-client'];

// commander requires node:child_process when it loads, for executable
// subcommands that mcast does not have; that module (and node:net behind it)
// is a tenth of Node's start-up. commander gets a stand-in that loads the
// real module on first use.
const lazyChildProcess: Plugin = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents:
        "let real;\nmodule.exports = new Proxy({}, { get: (_, key) => (real ??= require('node:child_process'))[key] });\n",
      loader: 'js',
    }));
  },
};

// chalk works out at load whether stdout is a colour terminal (its
// supports-color, which loads node:tty and node:net) for its default
// instance. mcast never uses that instance: src/ui/terminal.ts decides
// colour itself and passes the level to every Chalk it makes. The bundled
// chalk gets a detection that finds no colour and loads nothing.
const noColourDetection: Plugin = {
  name: 'no-colour-detection',
  setup(b) {
    b.onResolve({ filter: /^#supports-color$/ }, (args) =>
      /[\\/]node_modules[\\/]chalk[\\/]/.test(args.importer) ? { path: 'supports-color', namespace: 'no-colour' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-colour' }, () => ({ contents: 'export default { stdout: false, stderr: false };\n', loader: 'js' }));
  },
};

// ora (the spinner) and what it loads are a fifth of the bundle, and only a
// run on a terminal that draws a spinner needs them: they are bundled apart,
// into dist/mcast-spinner.cjs, which the main bundle requires on first use.
const SPINNER = join(ROOT, 'dist', 'mcast-spinner.cjs');
const spinnerApart: Plugin = {
  name: 'spinner-apart',
  setup(b) {
    b.onResolve({ filter: /^ora$/ }, () => ({ path: 'ora', namespace: 'spinner' }));
    b.onResolve({ filter: /^\.\/mcast-spinner\.cjs$/ }, (args) => ({ path: args.path, external: true }));
    // Its default export, so `(await import('ora')).default` is the function
    // whichever way esbuild wraps the CommonJS module.
    b.onLoad({ filter: /.*/, namespace: 'spinner' }, () => ({ contents: "module.exports = require('./mcast-spinner.cjs').default;\n", loader: 'js' }));
  },
};

async function bundleSpinner(): Promise<void> {
  await build({
    stdin: { contents: "export { default } from 'ora';\n", resolveDir: ROOT, loader: 'js' },
    outfile: SPINNER,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
}

export async function bundle(): Promise<void> {
  await bundleSpinner();
  // A code cache made for the previous bundle would be rejected anyway; the
  // build writes a new one (bin/mcast.js, MCAST_CODE_CACHE=write).
  rmSync(`${BUNDLE}.cache`, { force: true });
  const result = await build({
    entryPoints: [join(ROOT, 'dist', 'src', 'cli.js')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: LOADED_ON_DEMAND,
    plugins: [lazyChildProcess, noColourDetection, spinnerApart],
    // package-root.ts finds the package from the running file's URL.
    define: { 'import.meta.url': '__mcastBundleUrl' },
    banner: { js: "const __mcastBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
    metafile: true,
  });
  const left = Object.values(result.metafile.outputs)
    .flatMap((o) => o.imports)
    .filter((i) => i.kind === 'dynamic-import' && i.external);
  if (left.length > 0) throw new Error(`dynamic import() left in the bundle: ${left.map((i) => i.path).join(', ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  bundle().catch((e: Error) => {
    process.stderr.write(`bundle: ${e.message}\n`);
    process.exit(1);
  });
}
