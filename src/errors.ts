// One table of exit codes and one error type for every command.
// Commands throw McastError; cli.ts turns it into one stderr line (and a JSON
// error object on stdout under --json) and the exit code below.

import { readFileSync } from 'node:fs';

export const ExitCode = {
  /** The command did what was asked (and a check passed). */
  Ok: 0,
  /** The run worked and found a problem: a check failed, no responder answered, --count not reached. */
  Failed: 1,
  /** Bad usage or bad input: nothing was attempted. */
  Usage: 2,
  /** The system refused: permission, missing interface, kernel limit, I/O failure. */
  System: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_HELP = `Exit codes:
  0  success (a check passed)
  1  the run worked and found a problem (check failed, no responder, --count not reached)
  2  bad usage or bad input
  3  system error (permission, interface gone or down, no route, kernel refusal)`;

/**
 * An error meant for the user: `message` is the one line shown, `code` a
 * stable identifier (E_* from the multipoint model, or an errno name from
 * the native core), `exitCode` what the process returns.
 */
export class McastError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, exitCode: ExitCode = ExitCode.Usage, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'McastError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Bad input from the command line: exit 2. */
export function usageError(code: string, message: string): McastError {
  return new McastError(code, message, ExitCode.Usage);
}

/** The environment refused: exit 3. */
export function systemError(code: string, message: string, cause?: unknown): McastError {
  return new McastError(code, message, ExitCode.System, { cause });
}

/** The soft open-file limit (`ulimit -n`) from /proc/self/limits, or null. */
function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** EMFILE/ENFILE anywhere (a socket, getifaddrs, a module load): one line with the fix, exit 3. */
export function tooManyOpenFiles(code: 'EMFILE' | 'ENFILE', cause?: unknown): McastError {
  const limit = code === 'EMFILE' ? openFileLimit() : null;
  const what = code === 'ENFILE' ? 'the system-wide open-file table is full (ENFILE)' : `too many open files${limit !== null ? ` (ulimit -n is ${limit})` : ''}`;
  return new McastError(code, `${what}: raise \`ulimit -n\` or join fewer groups`, ExitCode.System, { cause });
}

/** True for a Node or native error whose code is EMFILE or ENFILE. */
export function isTooManyOpenFiles(e: unknown): e is { code: 'EMFILE' | 'ENFILE' } {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
