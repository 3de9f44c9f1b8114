// Where mcast's own files are, wherever this code runs from: the tsc output
// (dist/src/**.js, used by the tests), the bundle `npm run build` makes for the
// command line (dist/mcast.cjs, scripts/bundle.ts), or a global install. Both
// layouts put the package root a different number of levels up, so it is
// found, not counted: the nearest ancestor directory whose package.json is
// mcast's.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The directory holding mcast's package.json. */
export function packageRoot(): string {
  if (root) return root;
  // In the bundle, import.meta.url is the bundle's own URL (scripts/bundle.ts).
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && isMcastManifest(manifest)) return (root = dir);
    if (dirname(dir) === dir) return (root = join(start, '..', '..'));
  }
}

/** A path inside the package: `packageFile('native', 'x.node')`. */
export function packageFile(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}

function isMcastManifest(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { name?: string }).name === 'mcast';
  } catch {
    return false;
  }
}
