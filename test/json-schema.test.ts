// Every command's real `--json` output validates against the JSON Schema
// published for it in docs/json.md (a `### Schema: <command>` heading followed
// by a ```json block), issue 6. A missing docs/json.md or a missing schema
// block FAILS the test for that command, naming what is missing.
//
// The documents come from real runs in a throw-away link3 lab: responders in
// h2 and h3, a pinger and checks in h1, a stream h1 -> h2/h3, and a mesh of
// all three hosts.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { REPO_ROOT, runMcast, spawnMcast, type McastResult } from './helpers/mcast.js';
import { extractSchemas, validate, type Schema } from './helpers/schema.js';

const DOC = join(REPO_ROOT, 'docs', 'json.md');
const COMMANDS = ['list-protocols', 'interfaces', 'doctor', 'scope', 'join', 'send', 'respond', 'ping', 'check', 'mesh', 'error'] as const;
const PROBE_GROUP = '239.1.1.1';
const STREAM = '239.1.2.3';
const MESH_GROUP = '239.1.1.9';

test('the schema validator itself: accepts what matches, names what does not', () => {
  const schema: Schema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    required: ['a', 'b'],
    additionalProperties: false,
    properties: {
      a: { type: 'integer', minimum: 0, maximum: 10 },
      b: { type: 'array', minItems: 1, items: { enum: ['x', 'y', null] } },
      c: { anyOf: [{ type: 'string', pattern: '^z' }, { type: 'null' }] },
      d: { oneOf: [{ type: 'number', exclusiveMinimum: 0 }, { type: 'number', maximum: 0 }] },
      e: { $ref: '#/$defs/e' },
      f: { const: 1 },
    },
    $defs: { e: { type: ['string', 'null'] } },
  };
  assert.deepEqual(validate(schema, { a: 3, b: ['x', null], c: 'zz', d: 2, e: null, f: 1 }), []);
  const bad = validate(schema, { a: 3.5, b: [], c: 'q', d: 'n', e: 3, f: 2, g: true });
  assert.deepEqual(bad, [
    '/a: expected type integer, got number 3.5',
    '/b: 0 items < minItems 1',
    '/c: matches none of anyOf (#0: /c: "q" does not match /^z/; #1: /c: expected type null, got string "q")',
    '/d: matches none of oneOf (#0: /d: expected type number, got string "n"; #1: /d: expected type number, got string "n")',
    '/e: expected type string | null, got number 3',
    '/f: expected const 1, got 2',
    "/: property 'g' is not allowed (additionalProperties false)",
  ]);
  assert.deepEqual(validate(schema, { a: 11, b: ['w'] }), ['/a: 11 > maximum 10', '/b/0: "w" is not one of ["x","y",null]']);
  assert.deepEqual(validate(schema, { b: ['x'] }), ["/: missing required property 'a'"]);
  assert.deepEqual(validate({ oneOf: [{ type: 'number' }, { type: 'integer' }] }, 3), ['/: matches 2 branches of oneOf (exactly one allowed)']);
  assert.throws(() => validate({ type: 'object', propertyNames: { pattern: 'x' } }, {}), /keyword 'propertyNames' is not supported/);
  const md = '# x\n\n### Schema: ping\n\n```json\n{"type":"object"}\n```\n\n### Schema: send\n\ntext\n\n## y\n';
  const ex = extractSchemas(md);
  assert.deepEqual([...ex.schemas.keys()], ['ping']);
  assert.match(ex.problems.join('\n'), /'### Schema: send' \(line 9\) is not followed by a ```json block/);
});

/** Wait until `node` has joined the IPv4 `group` (its line in /proc/net/igmp). */
async function waitJoined(lab: Lab, node: string, group: string, timeoutMs = 10_000): Promise<void> {
  const hex = group
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .reverse()
    .join('')
    .toUpperCase();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await lab.readFile(node, '/proc/net/igmp')).includes(hex)) return;
    assert.ok(Date.now() < deadline, `${node} did not join ${group} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

interface Sample {
  what: string;
  result: McastResult;
  /** Exit codes this run may end with. */
  codes: number[];
}

/** Every command's real --json documents, from one lab. */
async function collect(lab: Lab): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>();
  const add = (command: string, what: string, result: McastResult, codes = [0]): void => {
    const list = out.get(command) ?? [];
    list.push({ what, result, codes });
    out.set(command, list);
  };
  const [h1, h2, h3] = ['h1', 'h2', 'h3'].map((n) => lab.addr(n, 4));

  // Responders: h2 with --json (ends by --duration), h3 in the background.
  const respond = spawnMcast(['respond', PROBE_GROUP, '--json', '--name', 'h2', '--max-replies-per-second', '100', '--duration', '6s'], {
    lab,
    node: 'h2',
    timeoutMs: 30_000,
  });
  const bg = spawnMcast(['respond', PROBE_GROUP, '--ndjson', '--name', 'h3', '--max-replies-per-second', '100'], { lab, node: 'h3', timeoutMs: 60_000 });
  // A receiver of the stream in h2 (join --count), and a passive check in h3.
  const joinRun = spawnMcast(['join', STREAM, '--count', '20', '--duration', '15s', '--json'], { lab, node: 'h2', timeoutMs: 30_000 });
  await Promise.all([waitJoined(lab, 'h2', PROBE_GROUP), waitJoined(lab, 'h2', STREAM), bg.waitForLine(/"event":"joined"/, 15_000, 'stdout')]);

  const quick = ['--count', '10', '--interval', '50ms'];
  const [send, ping, checkActive, checkPassive, listProtocols, listAll, interfaces, scope4, scope6, usage, system, noIface] = await Promise.all([
    runMcast(['send', STREAM, '--rate', '100', '--count', '300', '--json'], { lab, node: 'h1' }),
    runMcast(['ping', PROBE_GROUP, ...quick, '--json'], { lab, node: 'h1' }),
    runMcast(['check', PROBE_GROUP, ...quick, '--responders', '2', '--max-loss', '5%', '--max-rtt', '0.001', '--json'], { lab, node: 'h1' }),
    runMcast(['check', STREAM, '--receive', '--min-rate', '10', '--max-loss', '5%', '--timeout', '1500ms', '--json'], { lab, node: 'h3' }),
    runMcast(['list-protocols', '--json'], { lab, node: 'h1' }),
    runMcast(['list-protocols', '--all', '--json'], { lab, node: 'h1' }),
    runMcast(['interfaces', '--json'], { lab, node: 'h2' }),
    runMcast(['scope', '239.1.2.3', '--json'], { lab, node: 'h1' }),
    runMcast(['scope', 'ff05::1:3', '--json'], { lab, node: 'h1' }),
    runMcast(['check', PROBE_GROUP, '--receive', '--responders', '1', '--json'], { lab, node: 'h1' }),
    // (An address no interface has is bad input since issue 14: exit 2. A --junit file that cannot be written is exit 3, before any probe.)
    runMcast(['check', PROBE_GROUP, '--responders', '1', '--junit', '/nonexistent-dir/junit.xml', '--json'], { lab, node: 'h1' }),
    runMcast(['join', STREAM, '--interface', 'nosuch0', '--count', '1', '--json'], { lab, node: 'h1' }),
  ]);
  add('send', 'send --rate 100 --count 300', send);
  add('ping', 'ping with two responders', ping);
  add('check', 'active check (failing --max-rtt)', checkActive, [1]);
  add('check', 'passive check', checkPassive, [0, 1]);
  add('list-protocols', 'list-protocols', listProtocols);
  add('list-protocols', 'list-protocols --all', listAll);
  add('interfaces', 'interfaces', interfaces);
  add('scope', 'scope 239.1.2.3', scope4);
  add('scope', 'scope ff05::1:3', scope6);
  add('error', 'usage error (exit 2)', usage, [2]);
  add('error', 'system error: a --junit file that cannot be written (exit 3)', system, [3]);
  add('error', 'no such interface (exit 2)', noIface, [2]);
  add('join', 'join --count 20', await joinRun.result());

  // Nobody answers (h3's responder stopped, h2's ended): ping exit 1 has its document too.
  const mesh = await Promise.all(
    ['h1', 'h2', 'h3'].map((n) =>
      runMcast(['mesh', MESH_GROUP, '--peers', [h1, h2, h3].join(','), '--count', '10', '--interval', '100ms', '--max-loss', '5%', '--json'], {
        lab,
        node: n,
        timeoutMs: 40_000,
      }),
    ),
  );
  add('mesh', 'mesh seen from h1', mesh[0]!);
  add('mesh', 'mesh seen from h3', mesh[2]!);
  add('respond', 'respond --duration 6s', await respond.result());
  bg.kill('SIGINT');
  await bg.result(15_000);
  add('doctor', 'doctor --listen 1s', await runMcast(['doctor', '--listen', '1s', '--json'], { lab, node: 'h1' }), [0, 1]);
  add('doctor', 'doctor -i eth0 --listen 0', await runMcast(['doctor', '-i', 'eth0', '--listen', '0', '--json'], { lab, node: 'h2' }), [0, 1]);
  add('interfaces', 'interfaces --listen 1s', await runMcast(['interfaces', '--listen', '1s', '--json'], { lab, node: 'h3' }));
  add('ping', 'ping nobody answers', await runMcast(['ping', PROBE_GROUP, '--count', '2', '--interval', '100ms', '--wait', '300ms', '--json'], { lab, node: 'h1' }), [1]);
  return out;
}

test('every command\'s --json output validates against its schema in docs/json.md', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const samples = await collect(lab);
  const markdown = existsSync(DOC) ? readFileSync(DOC, 'utf8') : undefined;
  const { schemas, problems } = markdown ? extractSchemas(markdown) : { schemas: new Map<string, Schema>(), problems: [] };

  await t.test('docs/json.md exists and its schema blocks parse', () => {
    assert.ok(markdown !== undefined, `docs/json.md is missing (${DOC})`);
    assert.deepEqual(problems, [], `docs/json.md schema blocks:\n${problems.join('\n')}`);
  });

  for (const command of COMMANDS) {
    await t.test(`${command}: --json validates against '### Schema: ${command}'`, () => {
      assert.ok(markdown !== undefined, `docs/json.md is missing: no schema for '${command}'`);
      const schema = schemas.get(command);
      assert.ok(schema !== undefined, `docs/json.md has no '### Schema: ${command}' heading with a \`\`\`json block`);
      const list = samples.get(command) ?? [];
      assert.ok(list.length > 0, `no ${command} document was produced`);
      for (const s of list) {
        const r = s.result;
        assert.ok(s.codes.includes(r.code ?? -1), `${s.what}: exit ${r.code}, expected ${s.codes.join(' or ')}\n${r.stderr}`);
        assert.ok(r.json !== undefined, `${s.what}: ${r.jsonError}\n${r.stdout.slice(0, 500)}`);
        assert.equal(r.json.command, command, s.what);
        assert.equal(r.json.schema, 2, s.what);
        const errors = validate(schema, r.json);
        assert.deepEqual(errors, [], `${s.what}: the real output does not match '### Schema: ${command}':\n${errors.join('\n')}`);
        // The schema is not vacuous: the same document with another command name fails it.
        const other = { ...r.json, command: command === 'ping' ? 'mesh' : 'ping' };
        assert.notDeepEqual(validate(schema, other), [], `'### Schema: ${command}' accepts a document of another command`);
      }
    });
  }

  // The fields issues 5 and 6 promise are required by the published schemas:
  // removing any one of them from a real document makes it invalid.
  const contract: [string, string, (doc: any) => any, string[]][] = [
    ['ping', 'ping with two responders', (d) => d.responders[0], ['address', 'name', 'received', 'lost', 'duplicates', 'hops', 'rtt']],
    ['ping', 'ping with two responders', (d) => d.responders[0].rtt, ['min', 'avg', 'max', 'mdev']],
    ['check', 'active check (failing --max-rtt)', (d) => d, ['pass', 'criteria', 'mcast', 'schema']],
    ['check', 'active check (failing --max-rtt)', (d) => d.criteria[0], ['name', 'limit', 'measured', 'pass']],
    ['mesh', 'mesh seen from h1', (d) => d.matrix[0], ['sender', 'receiver', 'lossPercent', 'rtt']],
    ['error', 'usage error (exit 2)', (d) => d.error, ['code', 'message', 'exitCode']],
  ];
  await t.test('the schemas require the fields the issues promise', () => {
    for (const [command, what, pick, fields] of contract) {
      const schema = schemas.get(command);
      assert.ok(schema !== undefined, `docs/json.md has no '### Schema: ${command}'`);
      const doc = samples.get(command)!.find((s) => s.what === what)!.result.json;
      for (const f of fields) {
        const copy = structuredClone(doc);
        const target = pick(copy);
        assert.ok(target && Object.hasOwn(target, f), `${what}: the real document has '${f}'`);
        delete target[f];
        assert.notDeepEqual(validate(schema, copy), [], `'### Schema: ${command}' does not require '${f}' (${what})`);
      }
    }
  });
});
