// Wiring only: commander options -> command modules -> renderers -> exit code.
// Every error leaves as one stderr line (plus a JSON error document on stdout
// under --json/--ndjson) and a documented exit code; never a stack trace.

import { Command, CommanderError, Option } from 'commander';
import { EXIT_CODE_HELP, ExitCode, McastError } from './errors.js';
import { createUi, type Ui } from './ui/terminal.js';
import { jsonDocument, mcastVersion } from './ui/json.js';
import { registerCommands } from './commands/index.js';

export interface RunContext {
  ui: Ui;
  /** Aborted on the first SIGINT/SIGTERM: commands stop, print their summary and leave. */
  signal: AbortSignal;
}

const argvWantsJson = (argv: string[]) => argv.includes('--json') || argv.includes('--ndjson');

function reportError(err: McastError, argv: string[]): void {
  const line = err.message.split('\n')[0];
  process.stderr.write(`mcast: ${line}\n`);
  if (argvWantsJson(argv)) {
    process.stdout.write(`${JSON.stringify(jsonDocument('error', { error: { code: err.code, message: line, exitCode: err.exitCode } }))}\n`);
  }
}

/** Set once the command has returned: nothing is left to stop cleanly. */
let commandFinished = false;

function installSignals(controller: AbortController): (sig: NodeJS.Signals) => void {
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count += 1;
    if (count === 1 && !commandFinished) {
      controller.abort(sig);
      return;
    }
    // A second interrupt exits at once (memberships go with the process's sockets).
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Output piped into `head`: end quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
    });
  }
  return onSignal;
}

/**
 * `earlySignals`: SIGINT/SIGTERM that arrived while bin/mcast.js was still
 * loading this module; they count as if they came now (the first stops the
 * run cleanly with its summary, a second exits at once).
 */
export async function main(argv = process.argv, earlySignals: NodeJS.Signals[] = []): Promise<void> {
  const controller = new AbortController();
  const onSignal = installSignals(controller);
  for (const sig of earlySignals) onSignal(sig);
  const args = argv.slice(2);
  const program = new Command();
  program
    .name('mcast')
    .description('IP multicast diagnostics: join, send, probe and check multicast on this host and between hosts.')
    .version(mcastVersion(), '-V, --version', 'print the version')
    .addHelpText('after', `\n${EXIT_CODE_HELP}\n\nJSON output is documented in docs/json.md.`)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // commander's own error lines are replaced by ours (one line, exit 2).
      writeErr: (s) => {
        if (!s.startsWith('error:')) process.stderr.write(s);
      },
    });
  const ctxFor = (opts: { json?: boolean; ndjson?: boolean; quiet?: boolean; color?: boolean }): RunContext => ({
    ui: createUi(opts),
    signal: controller.signal,
  });
  registerCommands(program, ctxFor);
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({ writeErr: (s) => (!s.startsWith('error:') ? process.stderr.write(s) : undefined) });
    cmd.addHelpText('after', `\n${EXIT_CODE_HELP}`);
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      const msg = e.message.replace(/^error:\s*/, '').split('\n')[0];
      reportError(new McastError('E_USAGE', `${msg} (see 'mcast --help')`, ExitCode.Usage), args);
      process.exitCode = ExitCode.Usage;
      return;
    }
    const err = e instanceof McastError ? e : new McastError('E_INTERNAL', `internal error: ${(e as Error)?.message ?? String(e)}`, ExitCode.System);
    if (process.env.MCAST_DEBUG && !(e instanceof McastError)) process.stderr.write(`${(e as Error)?.stack}\n`);
    reportError(err, args);
    process.exitCode = err.exitCode;
  } finally {
    commandFinished = true;
  }
}

export { Option };
