// Native errors (errno names or E_* ids from the Rust model) turned into one
// line that says what went wrong and what to do, with the exit code.
// Messages follow docs/multipoint-model.md, "Error ids and messages".

import { ExitCode, McastError, tooManyOpenFiles, usageError } from '../errors.js';
import { isNativeError } from '../native.js';
import { readIgmpMaxMemberships, readIgmpMaxMsf, readMldMaxMsf } from '../system/sysctl.js';

export interface ErrorContext {
  group?: string;
  iface?: string;
  port?: number;
  sources?: string[];
  operation?: 'join' | 'send' | 'bind' | 'open' | 'leave';
}

/** Model rules the Rust core enforces: bad input, exit 2. */
const MODEL_USAGE_CODES = new Set([
  'E_ROLE_FLAGS',
  'E_ROLE_UNSUPPORTED',
  'E_NOT_DATAGRAM',
  'E_JOIN_FLAGS',
  'E_FAMILY_MISMATCH',
  'E_NOT_MULTICAST',
  'E_SOURCE_NOT_UNICAST',
  'E_NEED_SCOPE_ID',
  'E_SCOPE_RANGE',
  'E_SIZE_RANGE',
  'E_NO_PROTOCOL',
  'ERR_INVALID_ARG',
]);

export function explainNativeError(e: unknown, ctx: ErrorContext = {}): McastError {
  if (e instanceof McastError) return e;
  if (!isNativeError(e)) {
    return new McastError('E_INTERNAL', `internal error: ${String((e as Error)?.message ?? e)}`, ExitCode.System, { cause: e });
  }
  const group = ctx.group ?? 'the group';
  const iface = ctx.iface ? `interface ${ctx.iface}` : 'the chosen interface';
  const sys = (code: string, msg: string) => new McastError(code, msg, ExitCode.System, { cause: e });
  if (MODEL_USAGE_CODES.has(e.code)) return new McastError(e.code, e.message, ExitCode.Usage, { cause: e });
  if (e.code.startsWith('E_')) return sys(e.code, e.message);
  const isSourceOp = /SOURCE/.test(e.syscall ?? '');
  switch (e.code) {
    case 'ENOBUFS': {
      if (isSourceOp) {
        const v6 = (ctx.group ?? '').includes(':');
        const limit = v6 ? readMldMaxMsf() : readIgmpMaxMsf();
        const name = v6 ? 'net.ipv6.mld_max_msf' : 'net.ipv4.igmp_max_msf';
        return sys('E_TOO_MANY_SOURCES', `Too many sources for ${group} (limit ${name} = ${limit ?? '?'}); raise the sysctl or list fewer sources.`);
      }
      if (ctx.operation === 'join') {
        const limit = readIgmpMaxMemberships();
        const raised = Math.max(20, (limit ?? 0) * 2);
        return sys('E_TOO_MANY_GROUPS', `The kernel's membership limit was reached joining ${group} (net.ipv4.igmp_max_memberships = ${limit ?? '?'}, per socket); raise it, e.g. 'sysctl -w net.ipv4.igmp_max_memberships=${raised}'.`);
      }
      return sys('ENOBUFS', `The kernel ran out of buffer space (ENOBUFS) for ${group}; lower the rate or raise net.core.wmem_max.`);
    }
    case 'ENOMEM':
      return sys('E_TOO_MANY_GROUPS', `The kernel refused another membership for ${group} (ENOMEM; IPv6 memberships are limited by net.core.optmem_max).`);
    case 'ENODEV':
      // The same code and exit as resolveInterface's 'No interface' (exit 2, README's exit-code table): one meaning, one code.
      if (ctx.iface) return usageError('E_IF_NOT_FOUND', `No interface '${ctx.iface}' (or it has no address of this family). Run 'mcast interfaces' to list candidates.`);
      return sys('E_NO_ROUTE_FOR_GROUP', `No interface given and no route matches ${group}. Use --interface, or add a route for 224.0.0.0/4 (or ff00::/8).`);
    case 'ENETUNREACH':
      return sys('E_NO_ROUTE_FOR_GROUP', `No route for ${group} (ENETUNREACH). Name an interface with --interface, or add a multicast route (ip route add 224.0.0.0/4 dev IF).`);
    case 'EADDRINUSE':
      if (ctx.operation === 'join' && e.syscall !== 'bind') return sys('E_ALREADY_JOINED', `This socket is already a member of ${group} on ${iface}.`);
      return sys('E_PORT_IN_USE', `Port ${ctx.port ?? '?'} is in use by a socket without address reuse (SO_REUSEADDR); stop that program or pick another port.`);
    case 'EADDRNOTAVAIL':
      if (ctx.operation === 'leave') return sys('E_NOT_JOINED', `Not a member of ${group} on ${iface}; nothing to leave.`);
      if (isSourceOp) return sys('E_SOURCE_STATE', `A source for ${group} is listed twice or not listed (EADDRNOTAVAIL).`);
      return sys('EADDRNOTAVAIL', `The address is not available on ${iface} (EADDRNOTAVAIL); check --interface and --source-address.`);
    case 'EPERM':
    case 'EACCES':
      if (e.syscall === 'bind') return sys('E_PERMISSION', `Permission denied binding port ${ctx.port ?? '?'}: ports below 1024 need root or CAP_NET_BIND_SERVICE; pick a port from 1024 up.`);
      return sys('E_PERMISSION', `Permission denied (${e.code}) ${e.syscall ? `in ${e.syscall}` : ''}; this needs more privileges (root or CAP_NET_ADMIN/CAP_NET_RAW).`.replace(/\s+;/, ';'));
    case 'EAFNOSUPPORT':
      return sys('E_IPV6_UNAVAILABLE', 'IPv6 is not available on this host (kernel or namespace).');
    case 'EINVAL':
      return sys('EINVAL', `The kernel rejected ${e.syscall ?? 'the request'} for ${group} (EINVAL); check that the interface has an address of the group's family.`);
    case 'EMSGSIZE':
      return sys('E_MSG_TOO_BIG', `Datagram too big for ${iface} (EMSGSIZE); use a smaller --size.`);
    case 'ENETDOWN':
      return sys('E_IF_DOWN', `${iface} is down (ENETDOWN).`);
    case 'EMFILE':
    case 'ENFILE':
      return tooManyOpenFiles(e.code, e);
    default:
      return sys(e.code, `${e.message}`);
  }
}
