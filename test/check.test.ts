// `mcast check` (issue 6): pass and fail paths of every criterion with their
// exit codes and named failure lines, active (responders answering pings) and
// passive (a stream flowing), --timeout when nothing answers, usage errors for
// mixed modes, and the --junit report parsed as XML.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { runMcast, spawnMcast, type McastProcess, type McastResult } from './helpers/mcast.js';

const GROUP = '239.1.1.1';
const STREAM = '239.1.2.3';
/** Short active runs: 10 probes, 50 ms apart. */
const QUICK = ['--count', '10', '--interval', '50ms', '--timeout', '10s'];

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `mcast respond` in `node` (per-source limit raised: several checks probe at once). */
async function responder(lab: Lab, node: string, name: string): Promise<McastProcess> {
  const p = spawnMcast(['respond', GROUP, '--ndjson', '--name', name, '--max-replies-per-second', '1000'], { lab, node, timeoutMs: 120_000 });
  await p.waitForLine(/"event":"joined"/, 15_000, 'stdout');
  return p;
}

async function stopResponder(p: McastProcess): Promise<void> {
  p.kill('SIGINT');
  const r = await p.result(15_000);
  assert.equal(r.code, 0, r.stderr);
}

function check(lab: Lab, node: string, args: string[], timeoutMs = 30_000): Promise<McastResult> {
  return runMcast(['check', ...args], { lab, node, timeoutMs });
}

/**
 * The text verdict: exit code, every `ok` and `FAIL` line expected (as
 * regexps of the message after the marker), no other FAIL line, and the last
 * line PASS or FAIL to match.
 */
function verdict(r: McastResult, code: 0 | 1, expect: { ok?: RegExp[]; fail?: RegExp[] }): void {
  const ctx = `mcast ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
  assert.equal(r.code, code, ctx);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines[lines.length - 1], code === 0 ? 'PASS' : 'FAIL', ctx);
  const okLines = lines.filter((l) => l.startsWith('ok   ')).map((l) => l.slice(5));
  const failLines = lines.slice(0, -1).filter((l) => l.startsWith('FAIL ')).map((l) => l.slice(5));
  for (const re of expect.ok ?? []) assert.ok(okLines.some((l) => re.test(l)), `no 'ok   ' line matching ${re}\n${ctx}`);
  for (const re of expect.fail ?? []) assert.ok(failLines.some((l) => re.test(l)), `no 'FAIL ' line matching ${re}\n${ctx}`);
  assert.equal(failLines.length, (expect.fail ?? []).length, `FAIL lines: ${JSON.stringify(failLines)}\n${ctx}`);
}

// ---------------------------------------------------------------------------
// A strict little XML parser (well-formedness: one root, nesting, quoted and
// unique attributes, only the five predefined and numeric entities, no raw
// '<' or '&' in text or attribute values).
// ---------------------------------------------------------------------------

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

function decodeEntities(s: string, where: string): string {
  if (/[<]/.test(s)) throw new Error(`XML: raw '<' in ${where}`);
  return s.replace(/&([^;]*);?/g, (m, body: string) => {
    if (!m.endsWith(';')) throw new Error(`XML: unterminated entity '${m}' in ${where}`);
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (body in named) return named[body]!;
    const num = /^#(\d+)$/.exec(body) ?? /^#x([0-9a-fA-F]+)$/.exec(body);
    if (num) return String.fromCodePoint(parseInt(num[1]!, body.startsWith('#x') ? 16 : 10));
    throw new Error(`XML: unknown entity '&${body};' in ${where}`);
  });
}

export function parseXml(xml: string): XmlElement {
  let i = 0;
  const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
  const ws = (): void => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(xml);
    if (!m) throw new Error(`XML: name expected at offset ${i}: ${JSON.stringify(xml.slice(i, i + 20))}`);
    i += m[0].length;
    return m[0];
  };
  const skipMisc = (): void => {
    for (;;) {
      ws();
      if (xml.startsWith('<!--', i)) {
        const end = xml.indexOf('-->', i + 4);
        if (end < 0) throw new Error('XML: unterminated comment');
        i = end + 3;
      } else if (xml.startsWith('<?', i) && !xml.startsWith('<?xml ', i)) {
        const end = xml.indexOf('?>', i);
        if (end < 0) throw new Error('XML: unterminated processing instruction');
        i = end + 2;
      } else return;
    }
  };
  if (xml.charCodeAt(0) === 0xfeff) i = 1;
  if (xml.startsWith('<?xml', i)) {
    const end = xml.indexOf('?>', i);
    if (end < 0) throw new Error('XML: unterminated declaration');
    if (!/^<\?xml\s+version="1\.[0-9]"(\s+encoding="[A-Za-z][A-Za-z0-9._-]*")?(\s+standalone="(yes|no)")?\s*$/.test(xml.slice(i, end))) {
      throw new Error(`XML: bad declaration ${xml.slice(i, end + 2)}`);
    }
    i = end + 2;
  }
  skipMisc();
  const element = (): XmlElement => {
    if (xml[i] !== '<') throw new Error(`XML: '<' expected at offset ${i}`);
    i++;
    const el: XmlElement = { name: name(), attrs: {}, children: [], text: '' };
    for (;;) {
      const before = i;
      ws();
      if (xml.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (xml[i] === '>') {
        i++;
        break;
      }
      if (i === before) throw new Error(`XML: whitespace expected before an attribute of <${el.name}> at offset ${i}`);
      const an = name();
      ws();
      if (xml[i] !== '=') throw new Error(`XML: '=' expected after ${an}`);
      i++;
      ws();
      const q = xml[i];
      if (q !== '"' && q !== "'") throw new Error(`XML: attribute ${an} is not quoted`);
      const end = xml.indexOf(q, i + 1);
      if (end < 0) throw new Error(`XML: unterminated attribute ${an}`);
      if (an in el.attrs) throw new Error(`XML: duplicate attribute ${an} on <${el.name}>`);
      el.attrs[an] = decodeEntities(xml.slice(i + 1, end), `attribute ${an}`);
      i = end + 1;
    }
    for (;;) {
      const lt = xml.indexOf('<', i);
      if (lt < 0) throw new Error(`XML: <${el.name}> is never closed`);
      el.text += decodeEntities(xml.slice(i, lt), `the text of <${el.name}>`);
      i = lt;
      if (xml.startsWith('</', i)) {
        i += 2;
        const close = name();
        if (close !== el.name) throw new Error(`XML: </${close}> closes <${el.name}>`);
        ws();
        if (xml[i] !== '>') throw new Error(`XML: '>' expected after </${close}`);
        i++;
        return el;
      }
      if (xml.startsWith('<!--', i)) {
        const end = xml.indexOf('-->', i + 4);
        if (end < 0) throw new Error('XML: unterminated comment');
        i = end + 3;
      } else if (xml.startsWith('<![CDATA[', i)) {
        const end = xml.indexOf(']]>', i);
        if (end < 0) throw new Error('XML: unterminated CDATA');
        el.text += xml.slice(i + 9, end);
        i = end + 3;
      } else {
        el.children.push(element());
      }
    }
  };
  const root = element();
  skipMisc();
  if (i !== xml.length) throw new Error(`XML: content after the root element at offset ${i}: ${JSON.stringify(xml.slice(i, i + 30))}`);
  return root;
}

test('the XML checker rejects what is not well-formed', () => {
  assert.equal(parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<a x="1 &lt; 2"><b/><c>t&amp;u</c></a>\n').children[1]!.text, 't&u');
  for (const bad of ['<a><b></a></b>', '<a x=1/>', '<a x="1" x="2"/>', '<a>1 < 2</a>', '<a>R&D</a>', '<a/><b/>', '<a>', '<a x="&foo;"/>']) {
    assert.throws(() => parseXml(bad), /XML:/, bad);
  }
});

/** Read and parse a JUnit report; returns the testsuite and its testcases. */
function readJunit(file: string): { suites: XmlElement; suite: XmlElement; cases: XmlElement[] } {
  const xml = readFileSync(file, 'utf8');
  const suites = parseXml(xml);
  assert.equal(suites.name, 'testsuites', xml);
  assert.equal(suites.children.length, 1, xml);
  const suite = suites.children[0]!;
  assert.equal(suite.name, 'testsuite');
  const cases = suite.children;
  for (const c of cases) {
    assert.equal(c.name, 'testcase');
    assert.ok(c.attrs.name && c.attrs.classname !== undefined, `testcase attributes: ${JSON.stringify(c.attrs)}`);
    // A <failure> when it failed; a responder's case also has its accounting in <system-out> (refusals, issue 13).
    assert.ok(c.children.every((x) => x.name === 'failure' || x.name === 'system-out'), `testcase children: ${c.children.map((x) => x.name)}`);
    assert.ok(c.children.filter((x) => x.name === 'failure').length <= 1);
  }
  const failures = cases.filter((c) => c.children.some((x) => x.name === 'failure')).length;
  for (const el of [suites, suite]) {
    assert.equal(Number(el.attrs.tests), cases.length, `${el.name} tests="${el.attrs.tests}"`);
    assert.equal(Number(el.attrs.failures), failures, `${el.name} failures="${el.attrs.failures}"`);
    assert.ok(Number(el.attrs.time) >= 0);
  }
  return { suites, suite, cases };
}

// ---------------------------------------------------------------------------
// Active checks
// ---------------------------------------------------------------------------

test('active: --responders, --expect, --max-rtt, --max-p99-rtt, --max-jitter pass and fail', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const [h1, h2, h3] = ['h1', 'h2', 'h3'].map((n) => lab.addr(n, 4));
  const a2 = await responder(lab, 'h2', 'alpha');
  const a3 = await responder(lab, 'h3', 'beta');
  const run = (args: string[]): Promise<McastResult> => check(lab, 'h1', [GROUP, ...QUICK, ...args]);

  let [enough, tooFew, expectOk, expectSilent] = await Promise.all([
    run(['--responders', '2']),
    run(['--responders', '3']),
    run(['--expect', 'alpha', '--expect', h3!]),
    run(['--expect', h1!]), // a real host of the lab, running no responder
  ]);
  verdict(enough, 0, { ok: [/^responders 2 >= 2$/] });
  verdict(tooFew, 1, { fail: [/^responders 2 < 3$/] });
  verdict(expectOk, 0, { ok: [/^responder alpha answered$/, new RegExp(`^responder ${esc(h3!)} answered$`)] });
  // Silent expected hosts get unicast probes (issue 13, item 9): h1 runs no responder, so a path problem.
  verdict(expectSilent, 1, { fail: [new RegExp(`^responder ${esc(h1!)} never answered: a path problem \\(it answered none of 5 unicast probes either`)] });

  const perResponder = (what: string, limit: string, op: string): RegExp[] =>
    [h2!, h3!].map((h) => new RegExp(`^responder ${esc(h)}: ${what} \\d+\\.\\d{3}ms ${op} ${esc(limit)}ms$`));
  const [rttFail, rttPass, p99Fail, p99Pass] = await Promise.all([
    run(['--responders', '2', '--max-rtt', '0.001']),
    run(['--responders', '2', '--max-rtt', '1000']),
    run(['--responders', '2', '--max-p99-rtt', '0.001']),
    run(['--responders', '2', '--max-p99-rtt', '1000']),
  ]);
  verdict(rttFail, 1, { ok: [/^responders 2 >= 2$/], fail: perResponder('avg RTT', '0.001', '>') });
  verdict(rttPass, 0, { ok: perResponder('avg RTT', '1000', '<=') });
  verdict(p99Fail, 1, { fail: perResponder('p99 RTT', '0.001', '>') });
  verdict(p99Pass, 0, { ok: perResponder('p99 RTT', '1000', '<=') });

  const [jitterFail, jitterPass] = await Promise.all([
    run(['--responders', '2', '--max-jitter', '0.001', '--json']),
    run(['--responders', '2', '--max-jitter', '1000']),
  ]);
  assert.equal(jitterFail.code, 1, jitterFail.stderr);
  const jc = jitterFail.json.criteria.filter((c: any) => c.name.endsWith(':jitter'));
  assert.deepEqual(jc.map((c: any) => c.name).sort(), [`responder:${h2}:jitter`, `responder:${h3}:jitter`]);
  for (const c of jc) {
    assert.equal(c.pass, false);
    assert.equal(c.limit, '<= 0.001ms');
    const measured = jitterFail.json.measurements.responders.find((r: any) => c.name === `responder:${r.address}:jitter`).jitter;
    assert.ok(Math.abs(c.measured - measured) < 0.001, `criterion ${c.measured} = measured jitter ${measured}`);
  }
  assert.equal(jitterFail.json.pass, false);
  assert.deepEqual(jitterFail.json.failures, jc.map((c: any) => c.message));
  verdict(jitterPass, 0, { ok: perResponder('jitter', '1000', '<=') });

  // One responder gone: too few for --responders 2, and the expected host that stopped is named.
  await stopResponder(a3);
  [enough, expectSilent] = await Promise.all([run(['--responders', '2']), run(['--expect', 'alpha', '--expect', 'beta'])]);
  verdict(enough, 1, { fail: [/^responders 1 < 2$/] });
  verdict(expectSilent, 1, { ok: [/^responder alpha answered$/], fail: [/^responder beta never answered \(no address to send unicast probes to\)$/] });
  await stopResponder(a2);
});

test('active: --max-loss under and over, with nftables dropping half the probes toward one responder', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const [h2, h3] = ['h2', 'h3'].map((n) => lab.addr(n, 4));
  const a2 = await responder(lab, 'h2', 'alpha');
  const a3 = await responder(lab, 'h3', 'beta');
  const drop = await lab.dropPercent('h3', { percent: 50 });
  const loss = ['--count', '40', '--interval', '25ms', '--timeout', '10s'];
  const [over, overJson, under] = await Promise.all([
    check(lab, 'h1', [GROUP, ...loss, '--expect', h2!, '--expect', h3!, '--max-loss', '5%']),
    check(lab, 'h1', [GROUP, ...loss, '--expect', h2!, '--expect', h3!, '--max-loss', '5%', '--json']),
    check(lab, 'h1', [GROUP, ...loss, '--expect', h3!, '--max-loss', '95%']),
  ]);
  const lossLine = (h: string, op: string, limit: string): RegExp => new RegExp(`^responder ${esc(h)}: loss (\\d+\\.\\d)% ${op} ${esc(limit)}%$`);
  verdict(over, 1, { ok: [/answered$/, lossLine(h2!, '<=', '5'), /0\.0% <= 5%$/], fail: [lossLine(h3!, '>', '5')] });
  verdict(under, 0, { ok: [lossLine(h3!, '<=', '95')] });
  const shown = Number(lossLine(h3!, '>', '5').exec(over.stdout.split('\n').find((l) => l.startsWith(`FAIL responder ${h3}`))!.slice(5))![1]);
  assert.ok(shown >= 20 && shown <= 80, `about half lost: ${shown}%`);

  assert.equal(overJson.code, 1, overJson.stderr);
  const c3 = overJson.json.criteria.find((c: any) => c.name === `responder:${h3}:loss`);
  const c2 = overJson.json.criteria.find((c: any) => c.name === `responder:${h2}:loss`);
  const m3 = overJson.json.measurements.responders.find((r: any) => r.address === h3);
  assert.deepEqual([c2.pass, c2.measured, c2.limit], [true, 0, '<= 5%']);
  assert.deepEqual([c3.pass, c3.limit], [false, '<= 5%']);
  assert.ok(Math.abs(c3.measured - m3.lossPercent) < 0.001);
  assert.equal(m3.lost, 40 - m3.received);
  const [dropped] = await lab.nftCounters(drop);
  t.diagnostic(`nft dropped ${dropped} of 120 probes at h3; the text run reported ${shown}% loss, the JSON run ${c3.measured}%`);
  await Promise.all([stopResponder(a2), stopResponder(a3)]);
});

test('active: --timeout is honoured when nothing answers', { timeout: 30_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const r = await check(lab, 'h1', [GROUP, '--responders', '1', '--count', '1000', '--interval', '100ms', '--timeout', '3s', '--json']);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.ms <= 5000, `ended within --timeout 3s + 2s: ${Math.round(r.ms)} ms`);
  assert.ok(r.json.durationMs <= 3000 + 250, `durationMs ${r.json.durationMs}`);
  assert.deepEqual(
    r.json.criteria.map((c: any) => [c.name, c.measured, c.pass]),
    [['responders', 0, false]],
  );
  // --timeout counts from process start: on a busy host start-up eats part of
  // the 3 s, so only the upper bound (30 probes at 100 ms) says anything.
  assert.ok(r.json.measurements.sent <= 31 && r.json.measurements.sent >= 1, `probing stopped at the timeout: sent ${r.json.measurements.sent}`);
  t.diagnostic(`--timeout 3s: exits after ${Math.round(r.ms)} ms, check durationMs ${r.json.durationMs}`);
});

test('active, IPv6: --expect matches a responder address in any spelling', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const p = spawnMcast(['respond', '[ff05::99]:6000', '--ndjson', '--name', 'v6', '--max-replies-per-second', '1000'], { lab, node: 'h2', timeoutMs: 60_000 });
  await p.waitForLine(/"event":"joined"/, 15_000, 'stdout');
  assert.equal(lab.addr('h2', 6), 'fd00:6d63:1::2');
  const [upper, missing] = await Promise.all([
    check(lab, 'h1', ['[ff05::99]:6000', ...QUICK, '--expect', 'FD00:6d63:1:0::2', '--max-loss', '5%']),
    check(lab, 'h1', ['[ff05::99]:6000', ...QUICK, '--expect', 'fd00:6d63:1:0:0:0:0:3']),
  ]);
  verdict(upper, 0, { ok: [/^responder FD00:6d63:1:0::2 answered$/, /^responder FD00:6d63:1:0::2: loss 0\.0% <= 5%$/] });
  verdict(missing, 1, { fail: [/^responder fd00:6d63:1:0:0:0:0:3 never answered: a path problem \(it answered none of 5 unicast probes either/] });
  await stopResponder(p);
});

// ---------------------------------------------------------------------------
// Passive checks
// ---------------------------------------------------------------------------

test('passive: --receive with and without a stream, --min-packets, --min-rate, --max-loss', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const dir = mkdtempSync(join(tmpdir(), 'mcast-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const passive = (args: string[]): Promise<McastResult> => check(lab, 'h2', [STREAM, '--receive', ...args]);

  // Nothing flowing.
  const junit = join(dir, 'passive.xml');
  const [none, noneAll] = await Promise.all([
    passive(['--timeout', '2s', '--junit', junit]),
    passive(['--timeout', '2s', '--min-rate', '10', '--max-loss', '5%']),
  ]);
  verdict(none, 1, { fail: [/^packets received 0 < 1$/] });
  verdict(noneAll, 1, { fail: [/^packets received 0 < 1$/, /^receive rate over the \d+\.\ds window from the join 0\.0\/s < 10\/s$/, /^stream loss 100\.0% > 5%$/] });
  for (const r of [none, noneAll]) assert.ok(r.ms <= 4000, `--timeout 2s ended after ${Math.round(r.ms)} ms`);
  const { cases } = readJunit(junit);
  assert.deepEqual(
    cases.map((c) => [c.attrs.name, c.children[0]?.attrs.message]),
    [['packets', 'packets received 0 < 1']],
  );

  // A 100 pps stream from h1.
  const sender = spawnMcast(['send', STREAM, '--rate', '100', '--duration', '30s'], { lab, node: 'h1', timeoutMs: 45_000 });
  await sender.waitForLine(/^sending to 239\.1\.2\.3/, 10_000, 'stderr');
  await sleep(300);
  const [count, fast, slow, tooMany] = await Promise.all([
    passive(['--min-packets', '20', '--timeout', '10s']),
    passive(['--min-rate', '50', '--max-loss', '5%', '--timeout', '3s']),
    passive(['--min-rate', '500', '--timeout', '3s']),
    passive(['--min-packets', '100000', '--timeout', '2s']),
  ]);
  verdict(count, 0, { ok: [/^packets received 20 >= 20$/] });
  assert.ok(count.ms < 8000, `--min-packets ends as soon as they arrived (${Math.round(count.ms)} ms), not at --timeout 10s`);
  verdict(fast, 0, { ok: [/^packets received \d+ >= 1$/, /^receive rate over the \d+\.\ds window from the join \d+\.\d\/s >= 50\/s$/, /^stream loss 0\.0% <= 5%$/, /^longest silence \d+\.\ds <= /] });
  verdict(slow, 1, { ok: [/^packets received \d+ >= 1$/], fail: [/^receive rate over the \d+\.\ds window from the join \d+\.\d\/s < 500\/s$/] });
  const rate = Number(/receive rate over the \S+ window from the join (\d+\.\d)\/s/.exec(slow.stdout)![1]);
  assert.ok(rate > 70 && rate < 130, `measured rate ${rate}/s of a 100/s stream`);
  verdict(tooMany, 1, { fail: [/^packets received \d+ < 100000$/] });

  // nftables drops ~30% of the stream at h2: passive --max-loss fails with about that loss.
  const drop = await lab.dropPercent('h2', { percent: 30 });
  const lossy = await passive(['--max-loss', '5%', '--timeout', '3s', '--json']);
  assert.equal(lossy.code, 1, lossy.stderr);
  const c = lossy.json.criteria.find((x: any) => x.name === 'loss');
  assert.equal(c.pass, false);
  assert.ok(c.measured >= 15 && c.measured <= 45, `stream loss ${c.measured}% with 30% dropped`);
  assert.deepEqual(lossy.json.failures, [c.message]);
  assert.match(c.message, /^stream loss \d+\.\d% > 5%$/);
  const s = lossy.json.measurements.senders[0];
  const [dropped] = await lab.nftCounters(drop);
  assert.ok(s.lost > 0 && s.lost <= dropped!, `lost ${s.lost} <= dropped ${dropped}`);
  t.diagnostic(`passive loss with 30% dropped: ${c.measured}% (lost ${s.lost}, received ${s.received}); rate measured ${rate}/s`);
  sender.kill('SIGINT');
  await sender.result(15_000);
});

// ---------------------------------------------------------------------------
// Usage errors
// ---------------------------------------------------------------------------

test('usage errors exit 2: mixing active and passive options, no mode, bad values', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'single');
  if (!lab) return;
  const cases: [string[], RegExp][] = [
    [['--receive', '--responders', '1'], /--receive \(passive\) cannot be combined with --responders\/--expect/],
    [['--receive', '--expect', '10.0.0.1'], /--receive \(passive\) cannot be combined/],
    [['--responders', '1', '--min-packets', '3'], /--min-packets, --min-rate and --max-silence need --receive/],
    [['--expect', 'x', '--min-rate', '3'], /--min-packets, --min-rate and --max-silence need --receive/],
    [['--responders', '1', '--max-silence', '2s'], /--min-packets, --min-rate and --max-silence need --receive/],
    [['--receive', '--max-silence', '0s'], /--max-silence/],
    [['--receive', '--max-silence', 'soon'], /--max-silence/],
    [['--receive', '--max-rtt', '3'], /need an active check/],
    [['--receive', '--max-p99-rtt', '3'], /need an active check/],
    [['--receive', '--max-jitter', '3'], /need an active check/],
    [[], /an active check needs --responders N or --expect HOST/],
    [['--responders', '1', '--max-loss', '150%'], /--max-loss/],
  ];
  const results = await Promise.all(cases.map(([args]) => runMcast(['check', GROUP, ...args], { lab, node: 'h1' })));
  cases.forEach(([args, re], i) => {
    const r = results[i]!;
    assert.equal(r.code, 2, `check ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stdout, '', 'nothing on stdout without --json');
  });
  const j = await runMcast(['check', GROUP, '--receive', '--responders', '1', '--json'], { lab, node: 'h1' });
  assert.equal(j.code, 2);
  assert.equal(j.json.command, 'error');
  assert.equal(j.json.error.exitCode, 2);
  assert.equal(j.json.error.code, 'E_USAGE');
});

// ---------------------------------------------------------------------------
// JUnit
// ---------------------------------------------------------------------------

test('--junit FILE: valid JUnit XML, one test case per criterion and per responder, <failure> where failed', { timeout: 60_000 }, async (t: TestContext) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const dir = mkdtempSync(join(tmpdir(), 'mcast-junit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [h2, h3] = ['h2', 'h3'].map((n) => lab.addr(n, 4));
  const a2 = await responder(lab, 'h2', 'alpha');
  const a3 = await responder(lab, 'h3', 'beta');
  const mixedFile = join(dir, 'mixed.xml');
  const passFile = join(dir, 'pass.xml');
  const [mixed, pass] = await Promise.all([
    check(lab, 'h1', [GROUP, ...QUICK, '--responders', '3', '--max-loss', '5%', '--max-rtt', '0.001', '--max-p99-rtt', '1000', '--json', '--junit', mixedFile]),
    check(lab, 'h1', [GROUP, ...QUICK, '--responders', '2', '--junit', passFile, '--json']),
  ]);
  assert.equal(mixed.code, 1, mixed.stderr);
  assert.equal(pass.code, 0, pass.stderr);

  for (const [file, r] of [
    [mixedFile, mixed],
    [passFile, pass],
  ] as const) {
    const { suite, cases } = readJunit(file);
    assert.match(suite.attrs.name!, new RegExp(esc(GROUP)));
    const criteria = r.json.criteria as { name: string; pass: boolean; message: string; subject?: string }[];
    // One test case per criterion, named after it, failing exactly when it failed.
    for (const c of criteria) {
      const tc = cases.filter((x) => x.attrs.name === c.name);
      assert.equal(tc.length, 1, `${file}: one testcase for criterion ${c.name}`);
      assert.equal(tc[0]!.children.length, c.pass ? 0 : 1, `${file}: <failure> iff ${c.name} failed`);
      if (!c.pass) assert.equal(tc[0]!.children[0]!.attrs.message, c.message);
    }
    // One test case per responder that answered, failing when one of its criteria failed.
    for (const h of [h2!, h3!]) {
      const tc = cases.filter((x) => x.attrs.name === h);
      assert.equal(tc.length, 1, `${file}: one testcase for responder ${h}: ${cases.map((x) => x.attrs.name).join(', ')}`);
      const failed = criteria.filter((c) => c.subject === h && !c.pass);
      assert.equal(tc[0]!.children.filter((x) => x.name === 'failure').length, failed.length ? 1 : 0, `${file}: responder ${h} <failure>`);
      // Its accounting, refusals included (issue 13).
      const out = tc[0]!.children.find((x) => x.name === 'system-out');
      assert.ok(out, `${file}: responder ${h} <system-out>`);
      assert.match(out.text, /^sent \d+, received \d+, refused \d+ \(per-prober limit \d+, global limit \d+; /, `${file}: ${out.text}`);
    }
    assert.equal(cases.length, criteria.length + 2, `${file}: ${cases.map((x) => x.attrs.name).join(', ')}`);
  }
  // The mixed run: responders 2 < 3 and both avg RTTs fail; loss and p99 pass.
  const { cases } = readJunit(mixedFile);
  const failing = cases.filter((c) => c.children.some((x) => x.name === 'failure')).map((c) => c.attrs.name).sort();
  assert.deepEqual(failing, [h2!, h3!, 'responders', `responder:${h2}:rtt`, `responder:${h3}:rtt`].sort());
  await Promise.all([stopResponder(a2), stopResponder(a3)]);
});
