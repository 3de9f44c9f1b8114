import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, formatIpv6 } from '../../src/model/ip.js';
import { classifyGroup, isMulticastAddress } from '../../src/model/group-registry.js';
import { parseCidr, parseGroupSpec, parseSourceAddress } from '../../src/model/address-input.js';
import { quoteInput } from '../../src/model/text.js';
import { scopeWarnings } from '../../src/model/ttl-scope.js';
import { McastError } from '../../src/errors.js';

function rejects(fn: () => unknown, code: string, message?: RegExp | string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof McastError, `McastError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.exitCode, 2);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

// --- parseGroupSpec -------------------------------------------------------

/** parseGroupSpec without its classification (checked on its own below). */
function spec(input: string) {
  const { info, ...rest } = parseGroupSpec(input);
  assert.equal(info.address, rest.address, 'the classification is of the parsed group');
  return rest;
}

test('parseGroupSpec: the accepted forms', () => {
  assert.deepEqual(spec('239.1.2.3'), { address: '239.1.2.3', family: 4 });
  assert.deepEqual(spec('239.1.2.3:5000'), { address: '239.1.2.3', family: 4, port: 5000 });
  assert.deepEqual(spec('ff15::1'), { address: 'ff15::1', family: 6 });
  assert.deepEqual(spec('[ff15::1]:5000'), { address: 'ff15::1', family: 6, port: 5000 });
  assert.deepEqual(spec('[ff15::1]'), { address: 'ff15::1', family: 6 });
  assert.deepEqual(spec('[ff02::1%eth0]:5000'), { address: 'ff02::1', family: 6, port: 5000, zone: 'eth0' });
  assert.deepEqual(spec('ff02::1%eth0'), { address: 'ff02::1', family: 6, zone: 'eth0' });
  assert.deepEqual(spec('ff02::1%3'), { address: 'ff02::1', family: 6, zone: '3' });
  assert.deepEqual(spec('  239.1.2.3  '), { address: '239.1.2.3', family: 4 });
});

test('parseGroupSpec: the group carries its one classification', () => {
  assert.deepEqual(parseGroupSpec('232.1.2.3:5000').info, classifyGroup('232.1.2.3'));
  assert.equal(parseGroupSpec('[ff3e::8000:1]:9').info.ssm, true);
  assert.equal(parseGroupSpec('ff02::1%eth0').info.needsInterface, true);
});

test('parseGroupSpec: default port applies only when none is given', () => {
  assert.equal(parseGroupSpec('239.1.2.3', 4321).port, 4321);
  assert.equal(parseGroupSpec('239.1.2.3:5000', 4321).port, 5000);
  assert.equal(parseGroupSpec('ff15::1', 4321).port, 4321);
  assert.equal(parseGroupSpec('[ff15::1]:1', 4321).port, 1);
  assert.equal(parseGroupSpec('[ff15::1]:65535').port, 65535);
});

test('parseGroupSpec: canonical IPv6 text', () => {
  assert.equal(parseGroupSpec('FF15:0000:0:0:0:0:0:1234').address, 'ff15::1234');
  assert.equal(parseGroupSpec('[FF3E::8000:0001]:9').address, 'ff3e::8000:1');
});

test('parseGroupSpec: a bare IPv6 address keeps its last group (no port without brackets)', () => {
  assert.deepEqual(spec('ff15::1:5000'), { address: 'ff15::1:5000', family: 6 });
});

test('parseGroupSpec: syntax errors name the input and the accepted forms', () => {
  const msg = "'hello' is not an IPv4 or IPv6 address. Example groups: 239.1.2.3, 239.1.2.3:5000, ff15::1234, [ff15::1234]:5000.";
  rejects(() => parseGroupSpec('hello'), 'E_GROUP_SYNTAX', msg);
  rejects(() => parseGroupSpec(''), 'E_GROUP_SYNTAX');
  rejects(() => parseGroupSpec('239.1.2'), 'E_GROUP_SYNTAX');
  rejects(() => parseGroupSpec('239.1.2.256'), 'E_GROUP_SYNTAX');
  rejects(() => parseGroupSpec('239.001.2.3'), 'E_GROUP_SYNTAX');
  rejects(() => parseGroupSpec('[239.1.2.3]:5000'), 'E_GROUP_SYNTAX');
  rejects(() => parseGroupSpec('[ff15::1'), 'E_GROUP_SYNTAX');
  rejects(() => parseGroupSpec('[ff15::1]x'), 'E_GROUP_SYNTAX');
  rejects(() => parseGroupSpec('ff15:::1'), 'E_GROUP_SYNTAX');
  rejects(() => parseGroupSpec('mcast.example.com:5000'), 'E_GROUP_SYNTAX');
  rejects(() => parseGroupSpec('239.1.2.3%eth0'), 'E_GROUP_SYNTAX', /zone applies only to IPv6/);
  rejects(() => parseGroupSpec('ff02::1%'), 'E_GROUP_SYNTAX', /zone after %/);
  rejects(() => parseGroupSpec('ff02::1%eth0:5000'), 'E_GROUP_SYNTAX', /\[ff02::1%eth0\]:5000/);
  rejects(() => parseGroupSpec('bad\ninput'), 'E_GROUP_SYNTAX', /^'bad\\ninput'/);
});

test('parseGroupSpec: port errors', () => {
  rejects(() => parseGroupSpec('239.1.2.3:70000'), 'E_PORT_RANGE', "'239.1.2.3:70000': port must be 1-65535; got '70000'.");
  rejects(() => parseGroupSpec('239.1.2.3:0'), 'E_PORT_RANGE');
  rejects(() => parseGroupSpec('239.1.2.3:'), 'E_PORT_RANGE', /got ''/);
  rejects(() => parseGroupSpec('239.1.2.3:http'), 'E_PORT_RANGE', /got 'http'/);
  rejects(() => parseGroupSpec('239.1.2.3:-1'), 'E_PORT_RANGE');
  rejects(() => parseGroupSpec('[ff15::1]:0'), 'E_PORT_RANGE', /^'\[ff15::1\]:0': port must be 1-65535/);
  rejects(() => parseGroupSpec('[ff15::1]:123456'), 'E_PORT_RANGE');
});

test('parseGroupSpec: unicast and reserved groups', () => {
  rejects(
    () => parseGroupSpec('10.0.0.1:5000'),
    'E_NOT_MULTICAST',
    '10.0.0.1 is a unicast address. Multicast groups are 224.0.0.0/4 (IPv4) or ff00::/8 (IPv6).',
  );
  rejects(() => parseGroupSpec('0.0.0.0'), 'E_NOT_MULTICAST', /unspecified/);
  rejects(() => parseGroupSpec('::'), 'E_NOT_MULTICAST', /unspecified/);
  rejects(() => parseGroupSpec('fe80::1%eth0'), 'E_NOT_MULTICAST', /unicast/);
  rejects(() => parseGroupSpec('::ffff:239.1.2.3'), 'E_NOT_MULTICAST', /use 239\.1\.2\.3/);
  rejects(() => parseGroupSpec('224.0.0.0'), 'E_GROUP_RESERVED', /^224\.0\.0\.0 is reserved and cannot be used as a group \(.+\)\.$/);
  rejects(() => parseGroupSpec('ff00::1234'), 'E_GROUP_RESERVED', /scope 0 is reserved/);
  rejects(() => parseGroupSpec('ff95::1'), 'E_GROUP_RESERVED', /reserved high flag bit/);
  rejects(() => parseGroupSpec('ff25::1'), 'E_GROUP_RESERVED', /P flag/);
  rejects(() => parseGroupSpec('ff45::1'), 'E_GROUP_RESERVED', /R flag/);
  rejects(() => parseGroupSpec('ff65::1'), 'E_GROUP_RESERVED', /R flag/);
});

// --- classifyGroup --------------------------------------------------------

test('classifyGroup: TTL advice per IPv4 block (RFC 5771, RFC 2365)', () => {
  const g = classifyGroup('224.0.1.1');
  assert.equal(g.ttlAdvice.boundary, 'ttl');
  const rows = Object.fromEntries(g.ttlAdvice.rows.map((r) => [r.reach, [r.min, r.max]]));
  assert.deepEqual(rows, {
    host: [0, 0],
    link: [1, 1],
    site: [2, 31],
    region: [32, 63],
    continent: [64, 127],
    unrestricted: [128, 255],
  });
  const local = classifyGroup('224.0.0.9');
  assert.equal(local.ttlAdvice.boundary, 'never-forwarded');
  assert.match(local.ttlAdvice.summary, /never forwarded regardless of TTL/);
  const admin = classifyGroup('239.192.1.1');
  assert.equal(admin.ttlAdvice.boundary, 'router-configuration');
  assert.match(admin.ttlAdvice.summary, /boundary is set by router configuration.*not by TTL/);
  assert.equal(classifyGroup('ff05::1').ttlAdvice.boundary, 'address-scope');
  assert.equal(classifyGroup('ff01::1').ttlAdvice.boundary, 'node-local');
});

test('classifyGroup: well-known groups', () => {
  const cases: Array<[string, RegExp]> = [
    ['224.0.0.1', /all systems/],
    ['224.0.0.2', /all routers/],
    ['224.0.0.6', /OSPF designated/],
    ['224.0.0.9', /RIPv2/],
    ['224.0.0.18', /VRRP/],
    ['224.0.0.252', /LLMNR/],
    ['ff01::1', /all nodes/],
    ['ff02::5', /OSPFv3/],
    ['ff02::6', /OSPFv3 designated/],
    ['ff02::9', /RIPng/],
    ['ff02::d', /PIM/],
    ['ff02::c', /SSDP/],
    ['ff0e::101', /^NTP .*\(variable scope ff0X::101\)$/],
  ];
  for (const [a, re] of cases) assert.match(classifyGroup(a).wellKnown ?? '', re, a);
  assert.equal(classifyGroup('ff12::101').wellKnown, undefined, 'transient ids are not IANA assignments');
});

test('classifyGroup: IPv6 flags and scope', () => {
  const g = classifyGroup('ff35::1');
  assert.equal(g.scopeValue, 5);
  assert.deepEqual(g.flags, { R: false, P: true, T: true });
  assert.equal(g.ssm, true);
  assert.equal(g.ssmAllowed, true);
  assert.equal(classifyGroup('ff18::1').scopeValue, 8);
  assert.equal(classifyGroup('ff16::1').scope, 'unassigned');
  assert.equal(classifyGroup('ff02::1').needsInterface, true);
  assert.equal(classifyGroup('ff03::1').needsInterface, false);
  assert.equal(classifyGroup('ff03::1').routable, true);
  assert.equal(classifyGroup('ff0e::db8:0:1').documentation, true);
});

test('classifyGroup: MAC mapping', () => {
  assert.equal(classifyGroup('239.129.1.2').macAddress, '01:00:5e:01:01:02');
  assert.equal(classifyGroup('224.0.0.251').macAddress, '01:00:5e:00:00:fb');
  assert.equal(classifyGroup('ff02::1:ff12:3456').macAddress, '33:33:ff:12:34:56');
});

test('isMulticastAddress and canonicalAddress', () => {
  assert.equal(isMulticastAddress('224.0.0.0'), true);
  assert.equal(isMulticastAddress('ff00::1'), true);
  assert.equal(isMulticastAddress('10.1.1.1'), false);
  assert.equal(isMulticastAddress('nope'), false);
  assert.equal(canonicalAddress('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonicalAddress('::ffff:10.1.2.3'), '::ffff:10.1.2.3');
  assert.equal(canonicalAddress('1.2.3'), null);
});

test('formatIpv6 follows RFC 5952', () => {
  const b = (hextets: number[]) => hextets.flatMap((h) => [h >> 8, h & 0xff]);
  assert.equal(formatIpv6(b([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])), '2001:db8::1:0:0:1');
  assert.equal(formatIpv6(b([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1])), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIpv6(b([0, 0, 0, 0, 0, 0, 0, 0])), '::');
  assert.equal(formatIpv6(b([0xff02, 0, 0, 0, 0, 0, 0, 1])), 'ff02::1');
  assert.equal(formatIpv6(b([1, 0, 0, 0, 0, 0, 0, 0])), '1::');
});

test('quoteInput keeps messages on one line', () => {
  assert.equal(quoteInput('a\nb\tc\u0007'), 'a\\nb\\tc\\x07');
  assert.equal(quoteInput('x'.repeat(200)).length, 80);
});

// --- parseSourceAddress ---------------------------------------------------

test('parseSourceAddress accepts unicast senders of the group family', () => {
  assert.deepEqual(parseSourceAddress('10.1.2.3', 4), { address: '10.1.2.3', family: 4 });
  assert.deepEqual(parseSourceAddress('127.0.0.1', 4), { address: '127.0.0.1', family: 4 });
  assert.deepEqual(parseSourceAddress('2001:DB8::10', 6), { address: '2001:db8::10', family: 6 });
  assert.deepEqual(parseSourceAddress('fe80::1%eth0', 6), { address: 'fe80::1', family: 6, zone: 'eth0' });
  assert.deepEqual(parseSourceAddress('192.0.2.1', { address: '232.1.1.1', family: 4 }), { address: '192.0.2.1', family: 4 });
});

test('parseSourceAddress rejects non-unicast sources and family mismatches', () => {
  for (const s of ['0.0.0.0', '224.0.0.1', '239.1.2.3', '255.255.255.255', '240.0.0.1']) {
    rejects(() => parseSourceAddress(s, 4), 'E_SOURCE_NOT_UNICAST', `Source ${s} must be a unicast sender address.`);
  }
  rejects(() => parseSourceAddress('::', 6), 'E_SOURCE_NOT_UNICAST');
  rejects(() => parseSourceAddress('ff05::1', 6), 'E_SOURCE_NOT_UNICAST');
  rejects(
    () => parseSourceAddress('2001:db8::1', { address: '232.1.1.1', family: 4 }),
    'E_FAMILY_MISMATCH',
    'Group 232.1.1.1 is IPv4 but source 2001:db8::1 is IPv6; use a source of the same family.',
  );
  rejects(() => parseSourceAddress('10.0.0.1', 6), 'E_FAMILY_MISMATCH', /is IPv6 but source 10\.0\.0\.1 is IPv4/);
  rejects(() => parseSourceAddress('sender', 4), 'E_SOURCE_SYNTAX', /^'sender' is not an IPv4 or IPv6 address/);
});

// --- parseCidr ------------------------------------------------------------

test('parseCidr: IPv4', () => {
  const c = parseCidr('10.0.0.0/8');
  assert.equal(c.address, '10.0.0.0');
  assert.equal(c.family, 4);
  assert.equal(c.prefix, 8);
  assert.equal(c.contains('10.255.1.2'), true);
  assert.equal(c.contains('11.0.0.1'), false);
  assert.equal(c.contains('::ffff:10.1.2.3'), true, 'IPv4-mapped IPv6 counts as IPv4');
  assert.equal(c.contains('2001:db8::1'), false);
  assert.equal(c.contains('garbage'), false);
  assert.equal(String(parseCidr('192.168.1.77/24')), '192.168.1.0/24');
  const host = parseCidr('192.0.2.7');
  assert.equal(host.prefix, 32);
  assert.equal(host.contains('192.0.2.7'), true);
  assert.equal(host.contains('192.0.2.8'), false);
  const all = parseCidr('0.0.0.0/0');
  assert.equal(all.contains('203.0.113.9'), true);
  assert.equal(parseCidr('10.0.0.0/13').contains('10.7.255.255'), true);
  assert.equal(parseCidr('10.0.0.0/13').contains('10.8.0.0'), false);
});

test('parseCidr: IPv6', () => {
  const c = parseCidr('fd00::/8');
  assert.equal(c.family, 6);
  assert.equal(c.contains('fd12:3456::1'), true);
  assert.equal(c.contains('fe80::1%eth0'), false);
  assert.equal(c.contains('10.0.0.1'), false);
  const d = parseCidr('2001:db8:abcd:12ff::/60');
  assert.equal(d.address, '2001:db8:abcd:12f0::');
  assert.equal(d.contains('2001:db8:abcd:12f3::5'), true);
  assert.equal(d.contains('2001:db8:abcd:1300::5'), false);
  assert.equal(parseCidr('::1').prefix, 128);
});

test('parseCidr: errors are one line', () => {
  rejects(() => parseCidr('10.0.0.0/33'), 'E_CIDR_SYNTAX', "'10.0.0.0/33': prefix length must be 0-32 for IPv4; got '33'.");
  rejects(() => parseCidr('fd00::/129'), 'E_CIDR_SYNTAX', /0-128 for IPv6/);
  rejects(() => parseCidr('10.0.0.0/'), 'E_CIDR_SYNTAX');
  rejects(() => parseCidr('10.0.0.0/-1'), 'E_CIDR_SYNTAX');
  rejects(() => parseCidr('lan'), 'E_CIDR_SYNTAX', /^'lan' is not an address or prefix\./);
  rejects(() => parseCidr(''), 'E_CIDR_SYNTAX');
});

// --- scopeWarnings --------------------------------------------------------

test('scopeWarnings: statements', () => {
  assert.equal(scopeWarnings(classifyGroup('239.1.2.3'), 1).statement, 'TTL 1: stays on the link; routers do not forward it');
  assert.equal(scopeWarnings(classifyGroup('239.1.2.3'), 0).statement, 'TTL 0: stays on this host');
  assert.equal(
    scopeWarnings(classifyGroup('224.0.0.251'), 1).statement,
    '224.0.0.251 is in 224.0.0.0/24: never leaves the link whatever the TTL',
  );
  assert.match(scopeWarnings(classifyGroup('239.255.1.1'), 255).statement, /admin-scoped .* TTL 255: .*the boundary is your routers' scope configuration, not the TTL/);
  assert.match(scopeWarnings(classifyGroup('232.1.1.1'), 16).statement, /^TTL 16: crosses at most 15 routers \(traditional TTL scoping: this site/);
  assert.match(scopeWarnings(classifyGroup('233.1.2.3'), 200).statement, /unrestricted/);
  assert.match(scopeWarnings(classifyGroup('ff02::1'), 1).statement, /never leaves the link whatever the hop limit/);
  assert.match(scopeWarnings(classifyGroup('ff01::1'), 5).statement, /never leaves this host/);
  assert.match(scopeWarnings(classifyGroup('ff05::1:3'), 8).statement, /^Hop limit 8: crosses at most 7 routers, never beyond the site-local scope zone/);
  assert.match(scopeWarnings(classifyGroup('ff0e::1'), 64).statement, /global scope/);
  assert.equal(scopeWarnings(classifyGroup('ff15::1'), 0).statement, 'Hop limit 0: stays on this host');
});

test('scopeWarnings: W_SCOPE_USELESS and W_SCOPE_F, never a refusal', () => {
  const w = scopeWarnings(classifyGroup('224.0.0.251'), 32);
  assert.deepEqual(w.warnings, ['224.0.0.251 never leaves the link, TTL 32 has no effect.']);
  assert.deepEqual(w.warningCodes, ['W_SCOPE_USELESS']);
  assert.deepEqual(scopeWarnings(classifyGroup('224.0.0.251'), 1).warnings, []);
  assert.deepEqual(scopeWarnings(classifyGroup('ff02::fb'), 255).warnings, ['ff02::fb never leaves the link, hop limit 255 has no effect.']);
  assert.deepEqual(scopeWarnings(classifyGroup('239.1.2.3'), 0).warnings, ['TTL 0 keeps traffic on this host.']);
  assert.deepEqual(scopeWarnings(classifyGroup('239.1.2.3'), 255).warnings, []);
  const f = scopeWarnings(classifyGroup('ff0f::1'), 10);
  assert.deepEqual(f.warningCodes, ['W_SCOPE_F']);
  assert.equal(f.warnings[0], 'ff0f::1 uses reserved scope F; it will be treated as global.');
  // Every valid combination works.
  for (const g of ['224.0.0.1', '239.255.0.1', '232.1.1.1', 'ff02::1', 'ff01::1', 'ff3e::8000:1', 'ff0f::1']) {
    for (const ttl of [0, 1, 2, 31, 32, 64, 128, 255]) assert.ok(scopeWarnings(classifyGroup(g), ttl).statement.length > 0);
  }
});

test('scopeWarnings: out-of-range TTL is E_SCOPE_RANGE', () => {
  rejects(() => scopeWarnings(classifyGroup('239.1.2.3'), 256), 'E_SCOPE_RANGE', /0-255; got 256/);
  rejects(() => scopeWarnings(classifyGroup('239.1.2.3'), -1), 'E_SCOPE_RANGE');
  rejects(() => scopeWarnings(classifyGroup('239.1.2.3'), 1.5), 'E_SCOPE_RANGE');
});
