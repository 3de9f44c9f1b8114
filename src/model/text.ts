// The one sanitiser for text that reaches a terminal and that mcast did not
// write itself: responder names from the network, interface names from the
// kernel (any byte but '/', ':' and white space is allowed there, escape
// sequences included), and the user's own input echoed in error messages.
//
// Everything that could move the cursor, change colours, reorder or hide
// text is shown as a visible escape instead: C0/C1 controls (ESC, BEL, CR,
// DEL, ...), format characters (right-to-left and other bidi overrides and
// isolates, zero-width spaces and joiners, the BOM, soft hyphen), line and
// paragraph separators, private-use, unassigned and lone surrogate code points.

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}]/gu;

function escape(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  const code = c.codePointAt(0)!;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

/** `s` made safe for a terminal: every unsafe character as a visible escape (`\x1b`, `\u202e`). */
export function printable(s: string): string {
  return s.replace(UNSAFE, escape);
}

/** True when `s` would be shown unchanged. */
export function isPrintable(s: string): boolean {
  return printable(s) === s;
}

/** User input echoed in an error message: on one line, unsafe characters escaped, long values cut. */
export function quoteInput(raw: string): string {
  let s = printable(raw);
  if (s.length > 80) s = `${s.slice(0, 77)}...`;
  return s;
}
