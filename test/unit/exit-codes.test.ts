// One meaning, one exit code: E_IF_NOT_FOUND exits 2 whether mcast found no
// such interface itself or the kernel said ENODEV for the one named; and a
// long-running command's exit code is a pure function of how its run ended.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainNativeError } from '../../src/model/kernel-errors.js';
import { resolveInterface } from '../../src/model/interfaces.js';
import { exitCodeFor, stopReasonText, type StopReason } from '../../src/commands/run-loop.js';
import { ExitCode, McastError } from '../../src/errors.js';

const nativeError = (code: string): Error => Object.assign(new Error(`${code}: setsockopt failed`), { code });

test('E_IF_NOT_FOUND exits 2 from every path (README: no such --interface is bad input)', () => {
  const fromKernel = explainNativeError(nativeError('ENODEV'), { iface: 'eth9', group: '239.1.2.3', operation: 'join' });
  assert.equal(fromKernel.code, 'E_IF_NOT_FOUND');
  assert.equal(fromKernel.exitCode, ExitCode.Usage);
  assert.throws(
    () => resolveInterface('no-such-if0', 4),
    (e: unknown) => e instanceof McastError && e.code === 'E_IF_NOT_FOUND' && e.exitCode === ExitCode.Usage,
  );
  // Without an interface, ENODEV is a missing route: a system error.
  assert.equal(explainNativeError(nativeError('ENODEV'), { group: '239.1.2.3' }).exitCode, ExitCode.System);
});

test('exitCodeFor: engine errors and fatal faults are 3, a found problem 1, else 0', () => {
  const fault = { kind: 'down' as const, name: 'eth0', message: 'interface eth0 went down' };
  const cases: [StopReason, { faultFatal: boolean; broken?: boolean; problem?: boolean }, ExitCode][] = [
    [{ kind: 'count-reached' }, { faultFatal: false }, ExitCode.Ok],
    [{ kind: 'duration-over' }, { faultFatal: false, problem: true }, ExitCode.Failed],
    [{ kind: 'interrupted', signal: 'SIGINT' }, { faultFatal: false }, ExitCode.Ok],
    [{ kind: 'engine-error', text: 'error: EIO' }, { faultFatal: false }, ExitCode.System],
    [{ kind: 'engine-error', text: 'send failed' }, { faultFatal: false, problem: true }, ExitCode.System],
    [{ kind: 'fault', fault }, { faultFatal: true, problem: true }, ExitCode.System],
    // A fault waited out under --duration ends normally...
    [{ kind: 'duration-over' }, { faultFatal: false }, ExitCode.Ok],
    // ...unless the command found its result unusable (send: probes without a source address).
    [{ kind: 'duration-over' }, { faultFatal: false, broken: true }, ExitCode.System],
  ];
  for (const [stop, o, want] of cases) assert.equal(exitCodeFor({ stop, ...o }), want, `${stopReasonText(stop)} ${JSON.stringify(o)}`);
});

test('stopReasonText: the documented values (docs/json.md, "The run summary")', () => {
  assert.equal(stopReasonText({ kind: 'count-reached' }), 'count reached');
  assert.equal(stopReasonText({ kind: 'duration-over' }), 'duration over');
  assert.equal(stopReasonText({ kind: 'interrupted', signal: 'SIGINT' }), 'interrupted (SIGINT)');
  assert.equal(stopReasonText({ kind: 'interrupted', signal: 'SIGTERM' }), 'terminated (SIGTERM)');
  assert.equal(stopReasonText({ kind: 'fault', fault: { kind: 'deleted', name: 'eth0', message: 'interface eth0 was deleted' } }), 'interface eth0 was deleted');
  assert.equal(stopReasonText({ kind: 'engine-error', text: 'receive error: ENETDOWN' }), 'receive error: ENETDOWN');
});
