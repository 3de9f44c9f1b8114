// Wiring only: commander options -> command modules -> renderers -> exit code.
// Every error leaves as one stderr line (plus a JSON error document on stdout
// under --json/--ndjson) and a documented exit code; never a stack trace.

import { Command, CommanderError } from 'commander';
import { EXIT_CODE_HELP, ExitCode, McastError, isTooManyOpenFiles, tooManyOpenFiles } from './errors.js';
import { createUi } from './ui/terminal.js';
import type { OutputOptions, RunContext } from './ui/context.js';
import { jsonDocument, mcastVersion } from './ui/json.js';
import { installOutputGuards, keepRunningWhenReaderGoes, outputFailure } from './ui/output.js';
import { registerCommands } from './commands/index.js';

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
  // A reader that went away (EPIPE) or a write that failed (ENOSPC, ...): src/ui/output.ts.
  installOutputGuards((reason) => {
    if (!controller.signal.aborted) controller.abort(reason);
  });
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
    // At most 80 columns, narrower only on a narrower terminal: the same text
    // as dist/help.txt, which bin/mcast.js prints without loading the CLI.
    .configureHelp({ helpWidth: process.stdout.isTTY ? Math.min(process.stdout.columns || 80, 80) : 80 })
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // commander's own error lines are replaced by ours (one line, exit 2).
      writeErr: (s) => {
        if (!s.startsWith('error:')) process.stderr.write(s);
      },
    });
  const ctxFor = (opts: OutputOptions): RunContext => ({
    ui: createUi(opts),
    signal: controller.signal,
  });
  registerCommands(program, ctxFor, args[0]);
  // A verdict must survive the loss of its reader: check, ping and mesh run on and exit with it.
  program.hook('preAction', (_program, action) => {
    if (['check', 'ping', 'mesh'].includes(action.name())) keepRunningWhenReaderGoes();
  });
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({ writeErr: (s) => (!s.startsWith('error:') ? process.stderr.write(s) : undefined) });
    cmd.addHelpText('after', `\n${EXIT_CODE_HELP}`);
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // `mcast` with no command: the help went to stderr; that is a usage error (exit 2).
      if (e.code === 'commander.help' && e.exitCode !== 0) {
        process.exitCode = ExitCode.Usage;
        return;
      }
      if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      const msg = e.message.replace(/^error:\s*/, '').split('\n')[0];
      reportError(new McastError('E_USAGE', `${msg} (see 'mcast --help')`, ExitCode.Usage), args);
      process.exitCode = ExitCode.Usage;
      return;
    }
    const err = e instanceof McastError ? e : isTooManyOpenFiles(e) ? tooManyOpenFiles(e.code, e) : new McastError('E_INTERNAL', `internal error: ${(e as Error)?.message ?? String(e)}`, ExitCode.System);
    if (process.env.MCAST_DEBUG && !(e instanceof McastError)) process.stderr.write(`${(e as Error)?.stack}\n`);
    reportError(err, args);
    process.exitCode = err.exitCode;
  } finally {
    commandFinished = true;
    // The result could not be written (said once on stderr by src/ui/output.ts).
    if (outputFailure()) process.exitCode = ExitCode.System;
  }
}
