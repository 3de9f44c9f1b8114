// What happens when stdout or stderr cannot be written (issue 14, items 1-2).
//
// - The reader went away (EPIPE: `| head -1`, a CI log pipe that died):
//   commands that only report (join, send, respond, scope, ...) end quietly
//   with 0, as documented; commands that give a verdict (check, ping, mesh)
//   keep running and exit with their verdict, never 0 unless it passed.
// - Any other write error (ENOSPC on a full disk, /dev/full, EIO, ...) on
//   stdout loses the result: one line on stderr, the run is stopped, exit 3.
//   On stderr (notices and warnings only) the stream is muted and the exit
//   code is left alone: the result still reaches stdout.
//
// A stream that failed once is muted: Node would report every later write
// again, and half a line must not follow the error line.

import { ExitCode } from '../errors.js';

export type ReaderGonePolicy = 'quiet-exit' | 'keep-running';

let policy: ReaderGonePolicy = 'quiet-exit';
let stdoutFailure: string | null = null;
let installed = false;

/** check, ping and mesh: a reader that goes away must not turn the verdict into exit 0. */
export function keepRunningWhenReaderGoes(): void {
  policy = 'keep-running';
}

/** The one stderr line already printed when stdout could not be written (not EPIPE), else null. */
export function outputFailure(): string | null {
  return stdoutFailure;
}

function mute(stream: NodeJS.WriteStream): void {
  stream.write = ((_chunk: unknown, encoding?: unknown, cb?: unknown) => {
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  }) as NodeJS.WriteStream['write'];
}

/** "No space left on device (ENOSPC)" from a Node system error. */
export function describeWriteError(e: NodeJS.ErrnoException): string {
  const text = (e.message ?? String(e)).replace(/^[A-Z0-9_]+:\s*/, '').replace(/,\s*[a-z]+(?: '[^']*')?$/, '');
  return e.code && !text.includes(e.code) ? `${text} (${e.code})` : text;
}

/**
 * Install once, before anything is written. `stop` ends the run (the
 * command then leaves through its normal path; the exit code is forced to 3).
 */
export function installOutputGuards(stop: (reason: string) => void): void {
  if (installed) return;
  installed = true;
  const onError = (name: 'stdout' | 'stderr', stream: NodeJS.WriteStream) => (e: NodeJS.ErrnoException) => {
    mute(stream);
    if (e.code === 'EPIPE') {
      if (policy === 'quiet-exit') process.exit(0);
      return;
    }
    if (name === 'stderr') return;
    if (stdoutFailure) return;
    stdoutFailure = `mcast: cannot write the result to stdout: ${describeWriteError(e)}`;
    process.stderr.write(`${stdoutFailure}\n`);
    process.exitCode = ExitCode.System;
    stop('output failed');
  };
  process.stdout.on('error', onError('stdout', process.stdout));
  process.stderr.on('error', onError('stderr', process.stderr));
}
