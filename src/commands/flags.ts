// The parsed command-line flags of each command, as commander hands them to
// the action (src/commands/index.ts). Values are already parsed and checked
// by the option parsers (src/model/options.ts); an option not given is
// undefined unless the table gives it a default. Repeatable options have no
// commander default (so --help shows none): read them with `?? []`.

import type { OutputOptions } from '../ui/context.js';
import type { StreamFlags } from './stream-options.js';

export interface ListProtocolsFlags extends OutputOptions {
  all?: boolean;
}

export interface InterfacesFlags extends OutputOptions {
  listen?: number;
}

export interface DoctorFlags extends OutputOptions {
  interface?: string;
  listen: number;
}

export type ScopeFlags = OutputOptions;

export interface JoinFlags extends OutputOptions, StreamFlags {
  port?: number;
  interface?: string;
  source?: string[];
  exclude?: string[];
  count?: number;
  duration?: number;
  interval: number;
  recvBuffer?: number;
  watchQuerier?: boolean;
  rejoinEvery?: number;
  syncedClocks?: boolean;
  clock?: number;
  pcrMax?: number;
  merge?: boolean;
}

export interface SendFlags extends OutputOptions {
  port?: number;
  ttl: number;
  /** false with --no-loopback. */
  loopback?: boolean;
  interface?: string;
  sourceAddress?: string;
  rate?: number;
  bitrate?: number;
  size: number;
  count?: number;
  duration?: number;
  sendBuffer?: number;
  /** false with --no-retry. */
  retry: boolean;
  catchUpBursts?: boolean;
  gso?: boolean;
}

export interface MonitorFlags extends OutputOptions {
  join?: string[];
  respond?: string[];
  ping?: string[];
  every?: string;
  count?: string;
  interval?: string;
  maxRepliesPerSecond?: string;
  interface?: string;
  metrics?: string;
  config?: string;
  duration?: number;
}

/** `respond` and `respond --ssmping`: limits have mode-dependent defaults, so none here. */
export interface RespondFlags extends OutputOptions {
  ssmping?: boolean;
  port?: number;
  interface?: string;
  source?: string[];
  allow?: string[];
  maxRepliesPerSecond?: number;
  globalMaxRepliesPerSecond?: number;
  name?: string;
  duration?: number;
}

/** `ping` and `ping --ssmping`: --size and --ttl mean nothing to ssmping, so they have no commander default. */
export interface PingFlags extends OutputOptions {
  port?: number;
  ssmping?: boolean;
  group?: string;
  count: number;
  interval: number;
  size?: number;
  ttl?: number;
  interface?: string;
  wait: number;
  syncedClocks?: boolean;
}

export interface CheckFlags extends OutputOptions, StreamFlags {
  port?: number;
  responders?: number;
  expect?: string[];
  maxLoss?: number;
  maxRtt?: number;
  maxP99Rtt?: number;
  maxJitter?: number;
  count: number;
  interval: number;
  ttl: number;
  size: number;
  receive?: boolean;
  source?: string[];
  minPackets?: number;
  minRate?: number;
  maxCcErrors?: number;
  maxMdiDf?: number;
  maxPcrInterval?: number;
  maxSilence?: number;
  interface?: string;
  timeout: number;
  junit?: string;
}

export interface MeshFlags extends OutputOptions {
  peers: string[];
  port?: number;
  count: number;
  interval: number;
  ttl: number;
  interface?: string;
  maxLoss?: number;
  maxRtt?: number;
  timeout: number;
}
