// `mcast scope <address>`: what a multicast address is and how far a given
// TTL / hop limit carries it. Pure: no sockets; the report is built in
// src/model/scope-report.ts from the one parse of the address.

import { scopeReport, type ScopeReport } from '../model/scope-report.js';

export function run(address: string): ScopeReport {
  return scopeReport(address);
}
