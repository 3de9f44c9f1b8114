import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Chalk } from 'chalk';
import { scopeReport } from '../../src/model/scope-report.js';
import { McastError } from '../../src/errors.js';
import { renderScope } from '../../src/render/scope.js';

interface Verdict {
  block: string;
  scope: string;
  ssm: boolean;
  routable: boolean;
  /** Substring of the well-known description, or null for "not well-known". */
  wellKnown: string | null;
  extra?: (r: ReturnType<typeof scopeReport>) => void;
}

const TABLE: Array<[string, Verdict]> = [
  ['224.0.0.1', { block: 'local-network-control', scope: 'link-local', ssm: false, routable: false, wellKnown: 'all systems' }],
  ['224.0.0.2', { block: 'local-network-control', scope: 'link-local', ssm: false, routable: false, wellKnown: 'all routers' }],
  ['224.0.0.5', { block: 'local-network-control', scope: 'link-local', ssm: false, routable: false, wellKnown: 'OSPF' }],
  ['224.0.0.13', { block: 'local-network-control', scope: 'link-local', ssm: false, routable: false, wellKnown: 'PIM' }],
  ['224.0.0.22', { block: 'local-network-control', scope: 'link-local', ssm: false, routable: false, wellKnown: 'IGMPv3' }],
  ['224.0.0.251', { block: 'local-network-control', scope: 'link-local', ssm: false, routable: false, wellKnown: 'mDNS',
    extra: (r) => assert.equal(r.ttlAdvice.boundary, 'never-forwarded') }],
  ['224.0.0.77', { block: 'local-network-control', scope: 'link-local', ssm: false, routable: false, wellKnown: null }],
  ['224.0.1.1', { block: 'internetwork-control', scope: 'global', ssm: false, routable: true, wellKnown: 'NTP' }],
  ['224.0.5.1', { block: 'ad-hoc-1', scope: 'global', ssm: false, routable: true, wellKnown: null }],
  ['224.1.2.3', { block: 'reserved', scope: 'global', ssm: false, routable: true, wellKnown: null }],
  ['224.2.127.254', { block: 'sdp-sap', scope: 'global', ssm: false, routable: true, wellKnown: 'SAP' }],
  ['224.3.0.1', { block: 'ad-hoc-2', scope: 'global', ssm: false, routable: true, wellKnown: null }],
  ['230.1.1.1', { block: 'reserved', scope: 'global', ssm: false, routable: true, wellKnown: null }],
  ['232.1.1.1', { block: 'ssm', scope: 'global', ssm: true, routable: true, wellKnown: null,
    extra: (r) => assert.equal(r.sourceRequired, true) }],
  ['233.1.2.3', { block: 'glop', scope: 'global', ssm: false, routable: true, wellKnown: null,
    extra: (r) => assert.equal(r.glopAs, 258) }],
  ['233.252.0.1', { block: 'ad-hoc-3', scope: 'global', ssm: false, routable: true, wellKnown: null,
    extra: (r) => { assert.equal(r.documentation, true); assert.equal(r.glopAs, null); } }],
  ['234.1.2.3', { block: 'unicast-prefix-based', scope: 'global', ssm: false, routable: true, wellKnown: null,
    extra: (r) => assert.equal(r.embeddedPrefix, '1.2.3.0/24') }],
  ['236.0.0.1', { block: 'reserved', scope: 'global', ssm: false, routable: true, wellKnown: null }],
  ['239.255.1.1', { block: 'admin-scoped', scope: 'site-local', ssm: false, routable: true, wellKnown: null,
    extra: (r) => { assert.equal(r.adminScope?.id, 'local'); assert.equal(r.ttlAdvice.boundary, 'router-configuration'); } }],
  ['239.255.255.250', { block: 'admin-scoped', scope: 'site-local', ssm: false, routable: true, wellKnown: 'SSDP' }],
  ['239.192.0.1', { block: 'admin-scoped', scope: 'organization-local', ssm: false, routable: true, wellKnown: null,
    extra: (r) => assert.equal(r.adminScope?.range, '239.192.0.0/14') }],
  ['239.1.2.3', { block: 'admin-scoped', scope: 'organization-local', ssm: false, routable: true, wellKnown: null,
    extra: (r) => assert.equal(r.adminScope?.id, 'organization-local-expansion') }],
  ['239.200.0.1', { block: 'admin-scoped', scope: 'administrative', ssm: false, routable: true, wellKnown: null }],
  ['ff01::1', { block: 'interface-local', scope: 'interface-local', ssm: false, routable: false, wellKnown: 'all nodes',
    extra: (r) => { assert.equal(r.needsInterface, true); assert.equal(r.ttlAdvice.boundary, 'node-local'); } }],
  ['ff02::1', { block: 'link-local', scope: 'link-local', ssm: false, routable: false, wellKnown: 'all nodes',
    extra: (r) => assert.equal(r.needsInterface, true) }],
  ['ff02::2', { block: 'link-local', scope: 'link-local', ssm: false, routable: false, wellKnown: 'all routers' }],
  ['ff02::16', { block: 'link-local', scope: 'link-local', ssm: false, routable: false, wellKnown: 'MLDv2' }],
  ['ff02::fb', { block: 'link-local', scope: 'link-local', ssm: false, routable: false, wellKnown: 'mDNS' }],
  ['ff02::1:2', { block: 'link-local', scope: 'link-local', ssm: false, routable: false, wellKnown: 'DHCPv6' }],
  ['ff02::1:ff00:1234', { block: 'link-local', scope: 'link-local', ssm: false, routable: false, wellKnown: 'solicited-node' }],
  ['ff05::1:3', { block: 'site-local', scope: 'site-local', ssm: false, routable: true, wellKnown: 'DHCPv6 servers',
    extra: (r) => assert.equal(r.needsInterface, false) }],
  ['ff05::101', { block: 'site-local', scope: 'site-local', ssm: false, routable: true, wellKnown: 'NTP' }],
  ['ff0e::1', { block: 'global', scope: 'global', ssm: false, routable: true, wellKnown: null }],
  ['ff15::1234', { block: 'site-local', scope: 'site-local', ssm: false, routable: true, wellKnown: null,
    extra: (r) => { assert.equal(r.ipv6Type, 'transient'); assert.deepEqual(r.flags, { R: false, P: false, T: true }); } }],
  ['ff18::1', { block: 'organization-local', scope: 'organization-local', ssm: false, routable: true, wellKnown: null }],
  ['ff13::1', { block: 'realm-local', scope: 'realm-local', ssm: false, routable: true, wellKnown: null }],
  ['ff14::1', { block: 'admin-local', scope: 'admin-local', ssm: false, routable: true, wellKnown: null }],
  ['ff3e::8000:1', { block: 'global', scope: 'global', ssm: true, routable: true, wellKnown: null,
    extra: (r) => { assert.equal(r.ssmAllowed, true); assert.equal(r.ipv6Type, 'ssm'); assert.equal(r.scopeValue, 14); } }],
  ['ff3e::1:0:0:8000:1', { block: 'global', scope: 'global', ssm: true, routable: true, wellKnown: null,
    extra: (r) => assert.equal(r.ssmAllowed, false) }],
  ['ff32::8000:1234', { block: 'link-local', scope: 'link-local', ssm: true, routable: false, wellKnown: null }],
  ['ff35::4321', { block: 'site-local', scope: 'site-local', ssm: true, routable: true, wellKnown: null }],
  ['ff3e:30:2001:db8::1', { block: 'global', scope: 'global', ssm: false, routable: true, wellKnown: null,
    extra: (r) => { assert.equal(r.ipv6Type, 'unicast-prefix-based'); assert.equal(r.embeddedPrefix, '2001:db8::/48'); } }],
  ['ff7e:140:2001:db8:1234::1', { block: 'global', scope: 'global', ssm: false, routable: true, wellKnown: null,
    extra: (r) => assert.equal(r.rendezvousPoint, '2001:db8:1234::1') }],
  ['ff0f::1', { block: 'global', scope: 'global', ssm: false, routable: true, wellKnown: null,
    extra: (r) => assert.equal(r.warnings[0]?.code, 'W_SCOPE_F') }],
  ['FF05:0:0:0:0:0:0:2', { block: 'site-local', scope: 'site-local', ssm: false, routable: true, wellKnown: 'all routers',
    extra: (r) => assert.equal(r.address, 'ff05::2') }],
  ['239.1.2.3:5000', { block: 'admin-scoped', scope: 'organization-local', ssm: false, routable: true, wellKnown: null,
    extra: (r) => assert.equal(r.port, 5000) }],
  ['[ff02::1%eth0]:5000', { block: 'link-local', scope: 'link-local', ssm: false, routable: false, wellKnown: 'all nodes',
    extra: (r) => { assert.equal(r.zone, 'eth0'); assert.equal(r.port, 5000); } }],
];

for (const [address, v] of TABLE) {
  test(`scope ${address}`, () => {
    const r = scopeReport(address);
    assert.equal(r.block, v.block, 'block');
    assert.equal(r.scope, v.scope, 'scope');
    assert.equal(r.ssm, v.ssm, 'ssm');
    assert.equal(r.routable, v.routable, 'routable');
    if (v.wellKnown === null) assert.equal(r.wellKnown, null, 'wellKnown');
    else assert.ok(r.wellKnown?.includes(v.wellKnown), `wellKnown ${r.wellKnown} ~ ${v.wellKnown}`);
    v.extra?.(r);
  });
}

test('table covers at least 25 addresses', () => {
  assert.ok(TABLE.length >= 25);
});

const REJECTS: Array<[string, string, RegExp]> = [
  ['10.0.0.1', 'E_NOT_MULTICAST', /^10\.0\.0\.1 is a unicast address\./],
  ['::1', 'E_NOT_MULTICAST', /^::1 is a unicast address\./],
  ['255.255.255.255', 'E_NOT_MULTICAST', /broadcast/],
  ['240.0.0.1', 'E_NOT_MULTICAST', /class E/],
  ['224.0.0.0', 'E_GROUP_RESERVED', /^224\.0\.0\.0 is reserved and cannot be used as a group \(/],
  ['ff00::1', 'E_GROUP_RESERVED', /scope 0/],
  ['ff85::1', 'E_GROUP_RESERVED', /reserved high flag bit/],
  ['ff25::1', 'E_GROUP_RESERVED', /P flag requires the T flag/],
  ['ff55::1', 'E_GROUP_RESERVED', /R flag requires the P and T flags/],
  ['hello', 'E_GROUP_SYNTAX', /^'hello' is not an IPv4 or IPv6 address\. Example groups:/],
  ['239.1.2.3:70000', 'E_PORT_RANGE', /^'239\.1\.2\.3:70000': port must be 1-65535; got '70000'\.$/],
  ['[ff15::1]:0', 'E_PORT_RANGE', /port must be 1-65535; got '0'/],
];

for (const [input, code, message] of REJECTS) {
  test(`scope rejects ${input}`, () => {
    assert.throws(
      () => scopeReport(input),
      (e: unknown) => {
        assert.ok(e instanceof McastError);
        assert.equal(e.code, code);
        assert.equal(e.exitCode, 2);
        assert.match(e.message, message);
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      },
    );
  });
}

test('the report is plain JSON with stable fields', () => {
  const r = scopeReport('239.255.1.1');
  const round = JSON.parse(JSON.stringify(r));
  assert.deepEqual(round, r);
  for (const key of ['address', 'family', 'block', 'blockName', 'scope', 'ssm', 'wellKnown', 'routable', 'ttlAdvice', 'port', 'zone']) {
    assert.ok(key in round, key);
  }
});

test('renderScope: plain text without colour, ANSI only through the chalk given', () => {
  const plain = renderScope(scopeReport('224.0.0.251'), new Chalk({ level: 0 }));
  assert.ok(!plain.includes('\u001b['), 'no escape codes at level 0');
  assert.match(plain, /^224\.0\.0\.251 {2}IPv4 multicast group\n/);
  assert.match(plain, /Block\s+Local Network Control\s+224\.0\.0\.0\/24/);
  assert.match(plain, /Well-known\s+mDNS/);
  assert.match(plain, /never forwarded regardless of TTL/);
  const coloured = renderScope(scopeReport('224.0.0.251'), new Chalk({ level: 1 }));
  assert.ok(coloured.includes('\u001b['), 'colour at level 1');
});

test('renderScope: 239/8 says the boundary is router configuration, GLOP shows the AS', () => {
  const c = new Chalk({ level: 0 });
  assert.match(renderScope(scopeReport('239.255.1.1'), c), /boundary is set by router configuration/);
  assert.match(renderScope(scopeReport('233.1.2.3'), c), /GLOP AS\s+258/);
  const ssm = renderScope(scopeReport('ff3e::8000:1'), c);
  assert.match(ssm, /SSM\s+yes/);
  assert.match(ssm, /Hop limit/);
});
