// Decided once at start-up: colour, spinners and live views. Colour only on a
// TTY and never under NO_COLOR or TERM=dumb (FORCE_COLOR overrides the TTY
// test); spinners and live views only when stderr is an interactive terminal
// and the output is for people (not --json/--ndjson/--quiet).

import { Chalk, type ChalkInstance } from 'chalk';
// ora (and its dependencies) costs tens of ms to load: imported only when a
// spinner is really drawn, so `mcast --help` and scripted runs start faster.
import type { Ora } from 'ora';

/** The output flags every command takes (--json, --ndjson, --quiet, --no-color). */
export interface OutputOptions {
  json?: boolean;
  ndjson?: boolean;
  quiet?: boolean;
  color?: boolean;
}

export interface Ui {
  /** Colour for stdout text. */
  color: ChalkInstance;
  /** Colour for stderr text. */
  errColor: ChalkInstance;
  /** True when live views and spinners may be drawn on stderr. */
  live: boolean;
  json: boolean;
  ndjson: boolean;
  quiet: boolean;
  out(text: string): void;
  /** A notice for people (stderr); silent in --quiet/--json/--ndjson. */
  info(text: string): void;
  /** A warning (stderr); silent in --quiet only. */
  warn(text: string): void;
  spinner(text: string): Spinner;
  /** Redraw a block of lines in place on stderr (live views). */
  redraw(lines: string[]): void;
  /** Forget the live block so later output does not overwrite it. */
  commit(): void;
}

export interface Spinner {
  update(text: string): void;
  stop(): void;
}

function colourWanted(stream: NodeJS.WriteStream, explicit?: boolean): boolean {
  if (explicit === false) return false;
  if ('NO_COLOR' in process.env && process.env.NO_COLOR !== '') return false;
  if (process.env.TERM === 'dumb') return false;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

export function createUi(opts: OutputOptions = {}): Ui {
  const json = Boolean(opts.json);
  const ndjson = Boolean(opts.ndjson);
  const quiet = Boolean(opts.quiet);
  const color = new Chalk({ level: colourWanted(process.stdout, opts.color) ? 1 : 0 });
  const errColor = new Chalk({ level: colourWanted(process.stderr, opts.color) ? 1 : 0 });
  // A terminal that reports no width (e.g. `script` without a size) gets plain output: spinners cannot lay out there.
  const live = Boolean(process.stderr.isTTY) && (process.stderr.columns ?? 0) > 0 && !json && !ndjson && !quiet && process.env.TERM !== 'dumb';
  let drawn = 0;
  const clearBlock = () => {
    if (drawn > 0 && live) {
      process.stderr.write(`\x1b[${drawn}F\x1b[J`);
      drawn = 0;
    }
  };
  const ui: Ui = {
    color,
    errColor,
    live,
    json,
    ndjson,
    quiet,
    out(text) {
      clearBlock();
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    info(text) {
      if (quiet || json || ndjson) return;
      clearBlock();
      process.stderr.write(`${text}\n`);
    },
    warn(text) {
      if (quiet) return;
      clearBlock();
      process.stderr.write(`${errColor.yellow('warning:')} ${text}\n`);
    },
    spinner(text) {
      if (!live) return { update() {}, stop() {} };
      let current = text;
      let stopped = false;
      let s: Ora | undefined;
      void import('ora').then(({ default: ora }) => {
        if (stopped) return;
        s = ora({ text: current, stream: process.stderr, color: errColor.level > 0 ? 'cyan' : undefined, isEnabled: true }).start();
      });
      return {
        update: (t: string) => {
          current = t;
          if (s) s.text = t;
        },
        stop: () => {
          stopped = true;
          s?.stop();
        },
      };
    },
    redraw(lines) {
      if (!live) return;
      clearBlock();
      const cols = process.stderr.columns || 120;
      const cut = lines.map((l) => (l.length > cols - 1 ? l.slice(0, cols - 1) : l));
      process.stderr.write(cut.join('\n') + '\n');
      drawn = cut.length;
    },
    commit() {
      drawn = 0;
    },
  };
  return ui;
}
