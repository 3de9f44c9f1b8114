// What every command receives from the CLI edge: how to talk to the user and
// when to stop. Lives in ui/ (not cli.ts) so command modules import it
// without importing the CLI that imports them.

import type { OutputOptions, Ui } from './terminal.js';

export type { OutputOptions };

export interface RunContext {
  ui: Ui;
  /** Aborted on the first SIGINT/SIGTERM (or when stdout fails): commands stop, print their summary and leave. */
  signal: AbortSignal;
}
