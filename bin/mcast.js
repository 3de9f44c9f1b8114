#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm install`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("mcast: not built yet (dist/src/cli.js is missing); run 'npm install' or 'npm run build'.\n");
  process.exit(3);
}
const { main } = await import(cli.href);
await main(process.argv);
