import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, CommanderError } from 'commander';
import {
  MAX_DURATION_MS,
  MAX_TIMER_MS,
  asListParser,
  asParser,
  parseBitrate,
  parseCount,
  parseDatagramSize,
  parseInteger,
  parseName,
  parseText,
  parseDuration,
  parseMilliseconds,
  parsePercent,
  parsePort,
  parseRate,
  parseSize,
  parseTtl,
} from '../../src/model/options.js';
import { McastError } from '../../src/errors.js';

/** Assert a usage error whose single line names the flag and quotes the raw value. */
function bad(fn: () => unknown, flag: string, raw: string, code = 'E_OPTION_VALUE', exact?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof McastError, `McastError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.exitCode, 2);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    assert.ok(e.message.startsWith(`${flag} must be `), e.message);
    assert.ok(e.message.endsWith(`; got '${raw}'`), e.message);
    if (exact !== undefined) assert.equal(e.message, exact);
    return true;
  });
}

test('parsePort', () => {
  assert.equal(parsePort('1', '--port'), 1);
  assert.equal(parsePort('5000', '--port'), 5000);
  assert.equal(parsePort('65535', '--port'), 65535);
  bad(() => parsePort('0', '--port'), '--port', '0', 'E_PORT_RANGE', "--port must be an integer 1-65535; got '0'");
  for (const raw of ['65536', '70000', '-1', '1.5', 'http', '', ' ', '0x10', '1e3', '123456']) {
    bad(() => parsePort(raw, '--port'), '--port', raw, 'E_PORT_RANGE');
  }
});

test('parseDuration: units and plain seconds', () => {
  assert.equal(parseDuration('0.05', '--interval'), 50);
  assert.equal(parseDuration('2', '--timeout'), 2000);
  assert.equal(parseDuration('50ms', '--interval'), 50);
  assert.equal(parseDuration('2s', '--timeout'), 2000);
  assert.equal(parseDuration('1.5s', '--timeout'), 1500);
  assert.equal(parseDuration('1m', '--timeout'), 60_000);
  assert.equal(parseDuration('1min', '--timeout'), 60_000);
  assert.equal(parseDuration('1h', '--timeout'), 3_600_000);
  assert.equal(parseDuration('.5s', '--timeout'), 500);
  assert.equal(parseDuration('0.1', '--interval'), 100);
  assert.equal(parseDuration('0.3s', '--interval'), 300);
});

test('parseDuration: rejects', () => {
  for (const raw of ['', '-1', '-1s', 'NaN', '5x', 's', '1 s', '1e3', 'Infinity', '1.', '2d']) {
    bad(() => parseDuration(raw, '--timeout'), '--timeout', raw);
  }
  bad(
    () => parseDuration('0', '--interval'),
    '--interval',
    '0',
    'E_OPTION_VALUE',
    "--interval must be a positive duration such as 500ms, 2s, 1.5m or 1h (a plain number means seconds); got '0'",
  );
  assert.equal(parseDuration('0', '--timeout', { allowZero: true }), 0);
  assert.equal(parseDuration('0s', '--timeout', { allowZero: true }), 0);
  bad(() => parseDuration('5ms', '--interval', { minMs: 10 }), '--interval', '5ms', 'E_OPTION_VALUE', "--interval must be a duration of at least 10ms; got '5ms'");
  assert.equal(parseDuration('576h', '--timeout'), MAX_DURATION_MS);
  assert.ok(MAX_DURATION_MS < MAX_TIMER_MS, 'every accepted duration fits a Node timer');
  // Issue 14: the bound in units a person reads, not "2147483647ms".
  bad(() => parseDuration('1000h', '--timeout'), '--timeout', '1000h', 'E_OPTION_VALUE', "--timeout must be a duration of at most 576h (24 days); got '1000h'");
  bad(() => parseDuration(`${MAX_TIMER_MS}ms`, '--duration'), '--duration', `${MAX_TIMER_MS}ms`, 'E_OPTION_VALUE', `--duration must be a duration of at most 576h (24 days); got '${MAX_TIMER_MS}ms'`);
  bad(() => parseDuration('2m', '--x', { maxMs: 60_000 }), '--x', '2m', 'E_OPTION_VALUE', "--x must be a duration of at most 1m; got '2m'");
});

test('parseRate', () => {
  assert.equal(parseRate('10', '--rate'), 10);
  assert.equal(parseRate('0.5', '--rate'), 0.5);
  assert.equal(parseRate('1k', '--rate'), 1000);
  assert.equal(parseRate('10k', '--rate'), 10_000);
  assert.equal(parseRate('2.5K', '--rate'), 2500);
  assert.equal(parseRate('1M', '--rate'), 1_000_000);
  assert.equal(parseRate('100pps', '--rate'), 100);
  for (const raw of ['0', '-5', '', 'fast', '1m', '1G', '5x', '0k']) bad(() => parseRate(raw, '--rate'), '--rate', raw);
});

test('parseBitrate: decimal SI units, bits/s', () => {
  assert.equal(parseBitrate('1000000', '--bitrate'), 1_000_000);
  assert.equal(parseBitrate('500k', '--bitrate'), 500_000);
  assert.equal(parseBitrate('10M', '--bitrate'), 10_000_000);
  assert.equal(parseBitrate('10m', '--bitrate'), 10_000_000);
  assert.equal(parseBitrate('1.5G', '--bitrate'), 1_500_000_000);
  assert.equal(parseBitrate('1.5Gbit', '--bitrate'), 1_500_000_000);
  assert.equal(parseBitrate('10Mbps', '--bitrate'), 10_000_000);
  assert.equal(parseBitrate('10Mbit/s', '--bitrate'), 10_000_000);
  assert.equal(parseBitrate('2 Mbit', '--bitrate'), 2_000_000);
  assert.equal(parseBitrate('1T', '--bitrate'), 1e12);
  for (const raw of ['0', '-1M', '', '10MB', '10 MiB', '10Mi', 'lots', '1.5X']) bad(() => parseBitrate(raw, '--bitrate'), '--bitrate', raw);
});

test('parseTtl', () => {
  assert.equal(parseTtl('0', '--ttl'), 0);
  assert.equal(parseTtl('1', '--ttl'), 1);
  assert.equal(parseTtl('255', '--ttl'), 255);
  bad(() => parseTtl('256', '--ttl'), '--ttl', '256', 'E_SCOPE_RANGE', "--ttl must be an integer 0-255; got '256'");
  for (const raw of ['-1', '1.5', '', 'one', '1000', '0x10']) bad(() => parseTtl(raw, '--hops'), '--hops', raw, 'E_SCOPE_RANGE');
});

test('parseCount', () => {
  assert.equal(parseCount('1', '--count'), 1);
  assert.equal(parseCount('1000', '--count'), 1000);
  bad(() => parseCount('0', '--count'), '--count', '0', 'E_OPTION_VALUE', "--count must be a positive integer; got '0'");
  for (const raw of ['-3', '1.5', '', 'ten', '1e3', '99999999999999999999']) bad(() => parseCount(raw, '--count'), '--count', raw);
});

test('parseSize: range in the message', () => {
  const p = parseSize(16, 65507);
  assert.equal(p('16', '--size'), 16);
  assert.equal(p('1400', '--size'), 1400);
  assert.equal(p('65507', '--size'), 65507);
  bad(() => p('15', '--size'), '--size', '15', 'E_OPTION_VALUE', "--size must be an integer 16-65507 (bytes); got '15'");
  for (const raw of ['65508', '1.5k', '', '-1', 'big']) bad(() => p(raw, '--size'), '--size', raw);
});

test('parsePercent', () => {
  assert.equal(parsePercent('5', '--max-loss'), 5);
  assert.equal(parsePercent('5%', '--max-loss'), 5);
  assert.equal(parsePercent('0.5%', '--max-loss'), 0.5);
  assert.equal(parsePercent('0', '--max-loss'), 0);
  assert.equal(parsePercent('100', '--max-loss'), 100);
  for (const raw of ['101', '-1', '', '%', 'five', '5%%', '1e1']) bad(() => parsePercent(raw, '--max-loss'), '--max-loss', raw);
});

test('parseMilliseconds', () => {
  assert.equal(parseMilliseconds('20', '--max-jitter'), 20);
  assert.equal(parseMilliseconds('20ms', '--max-jitter'), 20);
  assert.equal(parseMilliseconds('0.5s', '--max-delay'), 500);
  assert.equal(parseMilliseconds('500us', '--max-jitter'), 0.5);
  assert.equal(parseMilliseconds('0', '--max-jitter'), 0);
  assert.equal(parseMilliseconds('1.25', '--max-jitter'), 1.25);
  for (const raw of ['-1', '', 'fast', '5x', '1m', '1e2']) bad(() => parseMilliseconds(raw, '--max-jitter'), '--max-jitter', raw);
});

test('messages escape control characters to stay on one line', () => {
  assert.throws(() => parseTtl('1\n2', '--ttl'), (e: unknown) => {
    assert.ok(e instanceof McastError);
    assert.equal(e.message, "--ttl must be an integer 0-255; got '1\\n2'");
    return true;
  });
});

test('asParser and asListParser plug into commander 14', () => {
  const make = () =>
    new Command()
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: () => {} })
      .option('--ttl <n>', 'TTL', asParser(parseTtl, '--ttl'), 1)
      .option('--size <bytes>', 'size', asParser(parseSize(16, 1472), '--size'))
      .option('--timeout <d>', 'timeout', asParser((r, o) => parseDuration(r, o, { allowZero: true }), '--timeout'))
      .option('--allow <ip>', 'repeatable', asListParser(parsePort, '--allow'), [7]);

  const a = make().parse(['--ttl', '32', '--size', '100', '--timeout', '0', '--allow', '1', '--allow', '2'], { from: 'user' }).opts();
  assert.deepEqual(a, { ttl: 32, size: 100, timeout: 0, allow: [1, 2] });

  const d = make().parse([], { from: 'user' }).opts();
  assert.deepEqual(d, { ttl: 1, allow: [7] });

  // The McastError propagates out of commander unchanged, so cli.ts can map it to exit code 2.
  assert.throws(
    () => make().parse(['--ttl', '300'], { from: 'user' }),
    (e: unknown) => {
      assert.ok(!(e instanceof CommanderError) || e instanceof McastError);
      assert.ok(e instanceof McastError);
      assert.equal(e.message, "--ttl must be an integer 0-255; got '300'");
      return true;
    },
  );
});

test('one integer grammar for every integer option (issue 14): decimal digits only, then the range', () => {
  const r = { min: 1, max: 100, expectation: 'an integer 1-100' };
  assert.equal(parseInteger('64', '--x', r), 64);
  assert.equal(parseInteger(' 64 ', '--x', r), 64);
  for (const raw of ['0x40', '1e2', '64.0', '+5', '-5', '', ' ', 'Infinity', 'NaN', '0b11', '0o7', '1_000', '６４']) {
    bad(() => parseInteger(raw, '--x', r), '--x', raw);
  }
  // The same words for every integer option, whatever the syntax tried.
  for (const raw of ['0x40', '1e2', '64.0', '']) {
    bad(() => parseDatagramSize(raw, '--size'), '--size', raw, 'E_SIZE_RANGE');
    bad(() => parseCount(raw, '--count'), '--count', raw);
    bad(() => parsePort(raw, '--port'), '--port', raw, 'E_PORT_RANGE');
    bad(() => parseTtl(raw, '--ttl'), '--ttl', raw, 'E_SCOPE_RANGE');
  }
  // The IPv4 maximum is checked once the group's family is known (checkDatagramSize).
  assert.equal(parseDatagramSize('48', '--size'), 48);
  assert.equal(parseDatagramSize('65527', '--size'), 65527);
});

test('text options are never empty (issue 14): -i, --expect, --junit, --source ...', () => {
  const p = parseText('an interface name, index or address');
  assert.equal(p('eth0', '--interface'), 'eth0');
  for (const raw of ['', ' ']) bad(() => p(raw, '--interface'), '--interface', raw);
  assert.throws(() => p('\t', '--interface'), /--interface must be an interface name.*got '\\t'/);
});

test('--name: 1-64 bytes of printable text (issue 14: it was cut on the wire)', () => {
  assert.equal(parseName('h2', '--name'), 'h2');
  assert.equal(parseName('x'.repeat(64), '--name'), 'x'.repeat(64));
  assert.equal(parseName('é'.repeat(32), '--name'), 'é'.repeat(32));
  bad(() => parseName('x'.repeat(65), '--name'), '--name', 'x'.repeat(65));
  bad(() => parseName('é'.repeat(33), '--name'), '--name', 'é'.repeat(33));
  for (const raw of ['', ' ']) bad(() => parseName(raw, '--name'), '--name', raw);
  // Shown escaped in the message, never raw.
  assert.throws(() => parseName('a\x1b[31mb', '--name'), (e: Error) => e.message.endsWith("printable text (it is carried in every reply); got 'a\\x1b[31mb'"));
  assert.throws(() => parseName('evil\u202eexe', '--name'), (e: Error) => e.message.endsWith("got 'evil\\u202eexe'"));
  assert.throws(() => parseName('zero\u200bwidth', '--name'), (e: Error) => e.message.endsWith("got 'zero\\u200bwidth'"));
  assert.throws(() => parseName('bell\u0007', '--name'), (e: Error) => e.message.endsWith("got 'bell\\x07'"));
});
