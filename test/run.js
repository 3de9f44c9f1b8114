#!/usr/bin/env node
// `npm test`: run every compiled test file (dist/test/**/*.test.js) with
// node --test, two files at a time.
//
// Network tests need (fake) root for `ip netns`:
// - as root: run directly;
// - as a normal user on Linux: re-execute this script as root of fresh user,
//   network, mount and PID namespaces (`unshare --user --map-root-user --net
//   --mount --pid --fork --mount-proc`, plus --map-auto when uidmap is set up so
//   tcpdump can drop privileges), with a tmpfs on /run so `ip netns add` works.
//   When the run ends the PID namespace dies, and with it every leftover
//   process, namespace, veth and multicast route;
// - if neither works: say why, and run anyway with MCAST_NO_NETLAB=<reason>,
//   which labSupport() reports, so network tests are skipped with that reason.
//
// Arguments: options (-...) go to node --test; other words select test files
// whose path contains them (`npm test -- netlab --test-name-pattern=routed`).
// MCAST_TEST_CONCURRENCY overrides the concurrency (default 2). The run ends
// with the list of skipped tests and their reasons (test/skip-summary.js).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST_TESTS = join(ROOT, 'dist', 'test');
const WRAPPED = 'MCAST_TEST_NETNS'; // set inside the unshare wrapper: never wrap twice
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNO = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

const log = (msg) => process.stderr.write(`test/run.js: ${msg}\n`);

function withSbin(path) {
  const dirs = (path ?? '/usr/bin:/bin').split(':');
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(d)) dirs.push(d);
  return dirs.join(':');
}

/** dist/test/**\/*.test.js, sorted. (Node 20's `node --test DIR` would also run helpers/ as tests.) */
function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p));
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

/** Exit like the child did: same code, or 128+N when it died of signal N. */
function exitLike(code, signal) {
  process.exit(code ?? 128 + (SIGNO[signal] ?? 1));
}

/**
 * Run `cmd args` with inherited stdio; forward our signals to `target()`
 * (a pid, or a negative process group id); exit as the child exits.
 */
function runForwarding(cmd, args, opts, target) {
  const child = spawn(cmd, args, { stdio: 'inherit', ...opts });
  for (const sig of SIGNALS) {
    process.on(sig, () => {
      const to = target(child);
      if (to) {
        try {
          process.kill(to, sig);
        } catch {
          /* gone already */
        }
      }
    });
  }
  child.on('error', (err) => {
    log(`cannot start ${cmd}: ${err.message}`);
    process.exit(127);
  });
  child.on('exit', exitLike);
}

// ---------------------------------------------------------------------------
// Rootless: re-exec inside user + net + mount + pid namespaces
// ---------------------------------------------------------------------------

function canMapAuto() {
  if (spawnSync('unshare', ['--help'], { encoding: 'utf8' }).stdout?.includes('--map-auto') !== true) return false;
  if (spawnSync('sh', ['-c', 'command -v newuidmap && command -v newgidmap'], { stdio: 'ignore' }).status !== 0) return false;
  const user = process.env.USER ?? spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
  try {
    return readFileSync('/etc/subuid', 'utf8').split('\n').some((l) => l.startsWith(`${user}:`) || l.startsWith(`${process.getuid()}:`));
  } catch {
    return false;
  }
}

/** undefined if the unshare wrapper works here, else the reason it does not. */
function rootlessProblem(flags) {
  const r = spawnSync('unshare', [...flags, '--', 'sh', '-c', 'mount -t tmpfs tmpfs /run && mkdir -p /run/netns'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (r.error) return `unshare not available (${r.error.message}; Debian package util-linux)`;
  if (r.status !== 0) return `cannot enter a user namespace (unshare --user --map-root-user --net ...): ${(r.stderr || '').trim() || `exit ${r.status}`}`;
  return undefined;
}

function reexecRootless() {
  const flags = ['--user', '--map-root-user', '--net', '--mount', '--pid', '--fork', '--mount-proc', '--kill-child'];
  if (canMapAuto()) flags.splice(2, 0, '--map-auto');
  const problem = rootlessProblem(flags);
  if (problem) return problem;
  log(`not root: running inside unshare ${flags.join(' ')}`);
  // sh is PID 1 of the new PID namespace: it reaps orphaned processes (node
  // would leave them as zombies), and when it exits the kernel kills whatever
  // is left in there. The inner run.js is its child, not exec'd.
  const inner = 'mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip link set lo up || exit 1; "$@"; exit $?';
  // unshare itself ignores INT/TERM/HUP (a dying unshare would SIGKILL the
  // run via --kill-child): signals go to the inner run.js, which forwards
  // them to the test processes. (node and libuv reset signal dispositions,
  // so no node process below inherits SIG_IGN.)
  const wrapper = `trap '' INT TERM HUP; exec unshare ${flags.join(' ')} -- sh -c '${inner}' sh "$@"`;
  const self = fileURLToPath(import.meta.url);
  const childrenOf = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number).filter(Boolean);
    } catch {
      return [];
    }
  };
  runForwarding(
    'sh',
    ['-c', wrapper, 'sh', process.execPath, self, ...process.argv.slice(2)],
    { env: { ...process.env, [WRAPPED]: '1', PATH: withSbin(process.env.PATH) } },
    // unshare -> sh (PID 1 inside) -> node run.js: find the latter.
    (child) =>
      childrenOf(child.pid)
        .flatMap(childrenOf)
        .find((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(self);
          } catch {
            return false;
          }
        }),
  );
  return undefined;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main() {
  const env = { ...process.env, PATH: withSbin(process.env.PATH) };
  const isRoot = process.getuid?.() === 0;

  if (!isRoot && !env.MCAST_NO_NETLAB) {
    if (process.platform !== 'linux') {
      env.MCAST_NO_NETLAB = `network namespaces need Linux (this is ${process.platform})`;
    } else if (env[WRAPPED]) {
      env.MCAST_NO_NETLAB = 'still not root inside the user namespace wrapper';
    } else {
      const problem = reexecRootless();
      if (!problem) return; // the wrapped run owns the exit code now
      env.MCAST_NO_NETLAB = `${problem}; run as root to include the network tests`;
    }
  }
  if (env.MCAST_NO_NETLAB) log(`network tests will be SKIPPED: ${env.MCAST_NO_NETLAB}`);

  const args = process.argv.slice(2);
  const nodeOpts = args.filter((a) => a.startsWith('-'));
  const filters = args.filter((a) => !a.startsWith('-'));
  const files = findTests(DIST_TESTS).filter((f) => filters.length === 0 || filters.some((w) => relative(ROOT, f).includes(w)));
  if (files.length === 0) {
    log(`no test files under ${relative(ROOT, DIST_TESTS) || DIST_TESTS}${filters.length ? ` matching ${filters.join(', ')}` : ''}: run \`npm run build\` first`);
    process.exit(1);
  }

  if (!env.MCAST_NO_NETLAB) {
    // Labs of test processes that were SIGKILLed in an earlier run.
    try {
      const { sweepStaleLabs } = await import(join(DIST_TESTS, 'helpers', 'netlab.js'));
      const removed = sweepStaleLabs(log);
      if (removed.length) log(`swept ${removed.length} stale namespace(s)`);
    } catch (err) {
      log(`could not sweep stale labs: ${err.message}`);
    }
  }

  const concurrency = env.MCAST_TEST_CONCURRENCY ?? '2';
  // Own process group, so a forwarded signal reaches every test file process
  // (each removes its labs in its signal handler) and not just the runner.
  // Two reporters: the usual one on stdout (spec on a terminal, TAP in a log)
  // and a closing list of every skipped test with its reason.
  const mainReporter = nodeOpts.some((o) => o.startsWith('--test-reporter')) ? [] : ['--test-reporter', process.stdout.isTTY ? 'spec' : 'tap', '--test-reporter-destination', 'stdout'];
  const skipReporter = mainReporter.length ? ['--test-reporter', join(ROOT, 'test', 'skip-summary.js'), '--test-reporter-destination', 'stdout'] : [];
  runForwarding(
    process.execPath,
    ['--test', `--test-concurrency=${concurrency}`, ...mainReporter, ...skipReporter, ...nodeOpts, ...files],
    { env, cwd: ROOT, detached: true },
    (child) => (child.pid ? -child.pid : undefined),
  );
}

await main();
