// Where mcast's own files are, wherever this code runs from: the tsc output
// (dist/src/**.js, used by the tests), the bundle `npm run build` makes for the
// command line (dist/mcast.cjs, scripts/bundle.ts), or a global install. Both
// layouts put the package root a different number of levels up, so it is
// found, not counted: the nearest ancestor directory whose package.json is
// mcast's.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Manifest {
  name?: string;
  version: string;
}

let found: { root: string; manifest: Manifest } | undefined;

/** The directory holding mcast's package.json, and that file (read once). */
function locate(): { root: string; manifest: Manifest } {
  if (found) return found;
  // In the bundle, import.meta.url is the bundle's own URL (scripts/bundle.ts).
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = readManifest(join(dir, 'package.json'));
    if (manifest?.name === 'mcast') return (found = { root: dir, manifest });
  }
  const root = join(start, '..', '..');
  return (found = { root, manifest: readManifest(join(root, 'package.json')) ?? { version: 'unknown' } });
}

/** The directory holding mcast's package.json. */
export function packageRoot(): string {
  return locate().root;
}

/** mcast's version, from its package.json. */
export function packageVersion(): string {
  return locate().manifest.version;
}

/** A path inside the package: `packageFile('native', 'x.node')`. */
export function packageFile(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}

function readManifest(path: string): Manifest | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}
