// `mcast interfaces`: every interface with its flags, addresses, the IGMP/MLD
// version in force, what is known about queriers, and the groups joined.

import { native, type NativeInterface } from '../native.js';
import { interfaceMulticastState, readMulticastLimits, type InterfaceMulticastState, type MulticastLimits } from '../system/procfs.js';

export interface InterfaceReport extends NativeInterface {
  multicastState: InterfaceMulticastState;
}

export interface InterfacesResult {
  interfaces: InterfaceReport[];
  limits: MulticastLimits;
}

export function run(): InterfacesResult {
  const ifs = native().interfaces();
  return {
    interfaces: ifs.map((i) => ({ ...i, multicastState: interfaceMulticastState(i.index, i.name) })),
    limits: readMulticastLimits(),
  };
}
