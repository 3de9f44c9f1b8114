// `mcast list-protocols`: the host's protocol catalog with multipoint attributes.

import { native, type ProtocolInfo } from '../native.js';

export interface ListProtocolsOptions {
  all?: boolean;
}

export interface ListProtocolsResult {
  protocols: ProtocolInfo[];
}

export function run(opts: ListProtocolsOptions): ListProtocolsResult {
  const all = native().catalog();
  return { protocols: opts.all ? all : all.filter((p) => p.multipoint) };
}
