// The command table: every option defined once (with its parser and the
// default --help shows), and each action: flags -> command module -> renderer.
// Command modules and renderers are imported by their command's action, so
// `mcast --help`, `--version` and every other command skip loading the rest
// (start-up time: docs/performance.md).

import { Option, type Command } from 'commander';
import { asListParser, asParser, DEFAULT_PORT, parseBitrate, parseClockRate, parseCount, parseLimit, parseDuration, parseMilliseconds, parseName, parsePercent, parsePort, parseRate, parseText, parseTtl } from '../model/options.js';
import { ExitCode, usageError } from '../errors.js';
import { checkOutput, collectList, rejectInMode, durationOption, finish, IFACE, listenOption, outputOptions, parseGroups, peersParser, rejectContradictions, sizeOption, sourceList, type CtxFor } from './cli-kit.js';
import { streamInputs, streamOptions } from './stream-options.js';
import type { CheckFlags, DoctorFlags, InterfacesFlags, JoinFlags, ListProtocolsFlags, MeshFlags, MonitorFlags, PingFlags, RespondFlags, ScopeFlags, SendFlags } from './flags.js';

/** respond's reply limits (respond --ssmping has its own: src/commands/ssmping-respond.ts). */
const RESPOND_LIMITS = { perSourcePps: 10, globalPps: 1000 };
/** ping's probe size and TTL; no commander default, since with --ssmping they must not be given at all. */
const PING_DEFAULTS = { size: 64, ttl: 1 };

/** Every command, in the order --help lists them; each registers its options and action. */
type Register = (program: Command, ctxFor: CtxFor) => void;

const COMMANDS: [name: string, register: Register][] = [
  ['list-protocols', listProtocolsCommand],
  ['interfaces', interfacesCommand],
  ['doctor', doctorCommand],
  ['scope', scopeCommand],
  ['join', joinCommand],
  ['send', sendCommand],
  ['completion', completionCommand],
  ['monitor', monitorCommand],
  ['respond', respondCommand],
  ['ping', pingCommand],
  ['check', checkCommand],
  ['mesh', meshCommand],
];

/**
 * Declares the commands on `program`: only the one being run when `invoked`
 * (the first argument) names one, since declaring all twelve with their
 * options is a good part of mcast's own start-up (docs/performance.md). All
 * of them for help, no command, an unknown name (commander then suggests the
 * nearest) and `completion` (its script lists every command).
 */
export function registerCommands(program: Command, ctxFor: CtxFor, invoked?: string): void {
  const one = COMMANDS.find(([name]) => name === invoked && name !== 'completion');
  for (const [, register] of one ? [one] : COMMANDS) register(program, ctxFor);
}

function listProtocolsCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('list-protocols')
      .description("the host's transport protocols and their multipoint attributes (Winsock-style catalog)")
      .option('-a, --all', 'include non-multipoint transports such as TCP'),
  ).action(async (o: ListProtocolsFlags) => {
    const listProtocols = await import('./list-protocols.js');
    const { renderListProtocols } = await import('../render/list-protocols.js');
    checkOutput(o);
    const ctx = ctxFor(o);
    const r = listProtocols.run(o);
    finish('list-protocols', o, ctx, { result: r, exitCode: ExitCode.Ok }, renderListProtocols);
  });
}

function interfacesCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('interfaces')
      .description('interfaces with flags, addresses, IGMP/MLD version, querier evidence and joined groups')
      .addOption(listenOption('listen this long for IGMP/MLD queries to name the queriers (needs CAP_NET_RAW; default: only what procfs proves)', 0)),
  ).action(async (o: InterfacesFlags) => {
    const interfaces = await import('./interfaces.js');
    const { renderInterfaces } = await import('../render/interfaces.js');
    checkOutput(o);
    const ctx = ctxFor(o);
    const r = await interfaces.run({ listenMs: o.listen }, ctx);
    finish('interfaces', o, ctx, { result: r, exitCode: ExitCode.Ok }, renderInterfaces);
  });
}

function doctorCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('doctor')
      .description('check this host for what silently breaks multicast (querier, routes, rp_filter, firewall, versions, limits, bridges): findings with evidence and the fix; exit 1 when one is a problem')
      .option('-i, --interface <name|address>', 'judge only this interface (host-wide checks still run)', IFACE)
      .addOption(listenOption('how long to listen for IGMP/MLD queries (0: do not listen; 190s decides whether a default querier exists)', 35_000)),
  ).action(async (o: DoctorFlags) => {
    const doctor = await import('./doctor.js');
    const { renderDoctor } = await import('../render/doctor.js');
    checkOutput(o);
    const ctx = ctxFor(o);
    const done = await doctor.run({ iface: o.interface, listenMs: o.listen }, ctx);
    finish('doctor', o, ctx, done, renderDoctor);
  });
}

function scopeCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('scope')
      .description('what a multicast address is, whether routers forward it, and the TTL / hop limit for each scope')
      .argument('<address>', 'an IPv4 or IPv6 multicast address'),
  ).action(async (address: string, o: ScopeFlags) => {
    const scope = await import('./scope.js');
    const { renderScope } = await import('../render/scope.js');
    checkOutput(o);
    const ctx = ctxFor(o);
    const r = scope.run(address);
    finish('scope', o, ctx, { result: r, exitCode: ExitCode.Ok }, renderScope);
  });
}

function joinCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('join')
      .description('join groups for real (IGMP/MLD), receive, and report per sender: packets, rate, TTL, loss, duplicates, reordering, delay, jitter')
      .argument('[group...]', "groups as ADDR, ADDR:PORT or [ADDR6]:PORT (with --sdp: default the SDP's c=/m=)")
      .option('-p, --port <port>', `UDP port for groups given without one (default ${DEFAULT_PORT})`, asParser(parsePort, '--port'))
      .option('-i, --interface <name|address>', "interface to join on (default: the kernel's route for the group)", IFACE)
      .option('-s, --source <address>', 'source-specific join: receive only from this sender (repeatable; INCLUDE mode)', sourceList('--source'))
      .option('-x, --exclude <address>', 'any-source join that blocks this sender (repeatable; EXCLUDE mode)', sourceList('--exclude'))
      .option('-c, --count <n>', 'stop after N packets (exit 1 if --duration ends first)', asParser(parseCount, '--count'))
      .addOption(durationOption('-d, --duration <time>', 'stop after this long, e.g. 10s, 1m (default: until Ctrl-C)', '--duration'))
      .addOption(durationOption('--interval <time>', 'statistics interval for --ndjson and the live view', '--interval', 1000))
      .option('--recv-buffer <bytes>', 'socket receive buffer to ask for (SO_RCVBUF; default 8 MiB, capped at net.core.rmem_max without CAP_NET_ADMIN)', asParser(parseCount, '--recv-buffer'))
      .option('--watch-querier', 'report IGMP/MLD queries as they are heard (needs CAP_NET_RAW), and say why a stream stopped when no querier reaches this host')
      .option('--rejoin-every <time>', 'leave and join again this often, re-sending the membership report: a workaround for a snooping switch without a querier (each re-join costs a leave, new reports and group queries)', asParser((raw, n) => parseDuration(raw, n, { minMs: 1000 }), '--rejoin-every'))
      .option('--synced-clocks', "the senders' clocks are synchronised with this host's (PTP/NTP): show one-way DELAY (always shown for senders on this host)")
      .option('--clock <hz>', 'RTP media clock for jitter when the payload type is dynamic (default: the static payload-type table, else inferred and labelled)', asParser(parseClockRate, '--clock'))
      .addOption(streamOptions()[0]!)
      .addOption(streamOptions()[1]!)
      .addOption(streamOptions()[2]!)
      .option('--pcr-max <ms>', 'MPEG-TS: the longest PCR interval before a TR 101 290 2.3 error (default 40ms)', asParser(parseMilliseconds, '--pcr-max'))
      .option('--merge', 'the two groups carry the same stream (A/B feeds, ST 2022-7): report the loss left after merging them and the skew between the legs'),
    { ndjson: true },
  ).action(async (groups: string[], o: JoinFlags) => {
    const join = await import('./join.js');
    const { renderJoinSummary } = await import('../render/join.js');
    checkOutput(o);
    const ctx = ctxFor(o);
    const s = streamInputs(o, groups);
    const { result, exitCode } = await join.run(
      {
        groups: parseGroups(s.groups, s.port),
        iface: o.interface,
        source: s.source,
        exclude: o.exclude ?? [],
        count: o.count,
        durationMs: o.duration,
        intervalMs: o.interval,
        recvBuffer: o.recvBuffer,
        syncedClocks: Boolean(o.syncedClocks),
        watchQuerier: Boolean(o.watchQuerier),
        rejoinEveryMs: o.rejoinEvery,
        rtpClock: o.clock,
        sdpClocks: s.sdpClocks,
        seqFormat: s.seqFormat,
        seqOffset: s.seqOffset,
        pcrMaxMs: o.pcrMax,
        merge: Boolean(o.merge),
      },
      ctx,
    );
    // The timeline column only where a person reads it.
    finish('join', o, ctx, { result: result, exitCode }, (r, c) => renderJoinSummary(r, c, { sparkline: Boolean(process.stdout.isTTY) }));
  });
}

function sendCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('send')
      .description('send sequenced, timestamped probes with TTL scope, loopback and interface control, at an exact rate')
      .argument('<group...>', 'groups as ADDR, ADDR:PORT or [ADDR6]:PORT')
      .option('-p, --port <port>', `UDP port for groups given without one (default ${DEFAULT_PORT})`, asParser(parsePort, '--port'))
      .option('-t, --ttl <n>', 'TTL / hop limit: 0 this host, 1 this link, N crosses N-1 routers', asParser(parseTtl, '--ttl'), 1)
      .option('--loopback', 'deliver the probes to receivers on this host too (default)')
      .option('--no-loopback', 'do not deliver the probes to receivers on this host')
      .option('-i, --interface <name|address>', "outgoing interface (default: the kernel's route for the group)", IFACE)
      .option('--source-address <address>', 'local address to send from (one of this host\'s)', asParser(parseText("one of this host's addresses, e.g. 10.0.0.1"), '--source-address'))
      .addOption(new Option('-r, --rate <pps>', 'probes per second (default 1)').argParser(asParser(parseRate, '--rate')))
      .addOption(new Option('-b, --bitrate <rate>', 'bits per second instead of --rate, e.g. 10M').argParser(asParser(parseBitrate, '--bitrate')))
      .option('-l, --size <bytes>', 'datagram size in bytes, 48 (header) to 65507 (IPv6: 65527)', sizeOption, 64)
      .option('-c, --count <n>', 'send N probes, then stop (default: until Ctrl-C or --duration)', asParser(parseCount, '--count'))
      .addOption(durationOption('-d, --duration <time>', 'stop after this long, e.g. 10s', '--duration'))
      .option('--send-buffer <bytes>', 'socket send buffer to ask for (SO_SNDBUF)', asParser(parseCount, '--send-buffer'))
      .option('--no-retry', "a probe the kernel's egress path refuses (ENOBUFS: queue full, tc/nftables egress rule, policer) is skipped, not sent again, so receivers see the loss")
      .option('--catch-up-bursts', 'after a late wake-up, send the probes that are due at once (default: one at a time, 0.92 intervals apart, until back on schedule; at 20k/s and slower)')
      .option('--gso', 'send each batch of due probes as one UDP GSO buffer (Linux >= 4.18) that the kernel cuts into the probes: several times the packet rate, but a capture on this host, or on an interface that keeps GSO packets whole (veth), shows one large packet per batch; sendmmsg where the kernel or interface refuses it'),
    { ndjson: true },
  ).action(async (groups: string[], o: SendFlags) => {
    const send = await import('./send.js');
    const { renderSendSummary } = await import('../render/send.js');
    checkOutput(o);
    rejectContradictions(process.argv.slice(2), [['--loopback', '--no-loopback']]);
    const ctx = ctxFor(o);
    const { result, exitCode } = await send.run(
      {
        groups: parseGroups(groups, o.port),
        ttl: o.ttl,
        loopback: o.loopback !== false,
        iface: o.interface,
        sourceAddress: o.sourceAddress,
        rate: o.rate,
        bitrate: o.bitrate,
        size: o.size,
        count: o.count,
        durationMs: o.duration,
        sendBuffer: o.sendBuffer,
        retry: o.retry !== false,
        catchUpBursts: o.catchUpBursts === true,
        gso: o.gso === true,
      },
      ctx,
    );
    finish('send', o, ctx, { result: result, exitCode }, renderSendSummary);
  });
}

function completionCommand(program: Command, ctxFor: CtxFor): void {
  program
    .command('completion')
    .description('print a shell completion script: mcast completion bash|zsh|fish')
    .argument('<shell>', 'bash, zsh or fish')
    .action(async (shell: string) => {
      const { completionScript, SHELLS } = await import('../render/completion.js');
      if (!(SHELLS as string[]).includes(shell)) throw usageError('E_USAGE', `unknown shell '${shell}': expected one of ${SHELLS.join(', ')}`);
      const cmds = program.commands
        .filter((c) => c.name() !== 'help')
        .map((c) => ({
          name: c.name(),
          description: c.description(),
          options: [...c.options.map((o) => ({ long: o.long, short: o.short, takesValue: o.required || o.optional, description: o.description })), { long: '--help', short: '-h', takesValue: false, description: 'show help' }],
        }));
      process.stdout.write(completionScript(shell as 'bash' | 'zsh' | 'fish', cmds));
    });
}

function monitorCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('monitor')
      .description('keep groups joined, answer probes and ping groups periodically, for hours and days, exporting Prometheus metrics (docs/monitoring.md)')
      .option('--join <group>', 'keep this group joined and measure what arrives (repeatable)', collectList)
      .option('--respond <group>', 'answer probes on this group (repeatable)', collectList)
      .option('--ping <group>', 'ping this group every --every (repeatable)', collectList)
      .option('--every <time>', 'period of each ping round (default 10s)')
      .option('--count <n>', 'probes per ping round (default 10)')
      .option('--interval <time>', 'between the probes of a round (default 200ms)')
      .option('--max-replies-per-second <n>', 'per-prober reply limit of --respond (default 10)')
      .option('-i, --interface <name|address>', "interface for every target (default: the kernel's route for each group)", IFACE)
      .option('--metrics <host:port>', 'serve /metrics and /healthz here (default 127.0.0.1:9464: loopback only)')
      .option('--config <file>', 'targets from a JSON or YAML file (re-read on SIGHUP); flags and a file do not mix')
      .addOption(durationOption('-d, --duration <time>', 'stop after this long (default: until SIGINT/SIGTERM)', '--duration')),
  ).action(async (o: MonitorFlags) => {
    const monitor = await import('./monitor.js');
    const { loadConfigFile } = await import('../model/monitor-config.js');
    checkOutput(o);
    const flagged = (o.join ?? []).length + (o.respond ?? []).length + (o.ping ?? []).length > 0 || [o.every, o.count, o.interval, o.metrics, o.maxRepliesPerSecond].some((x) => x !== undefined);
    if (o.config !== undefined && flagged) throw usageError('E_USAGE', '--config and target flags (--join, --respond, --ping, --every, --metrics, ...) do not mix: put everything in the file');
    const config = o.config !== undefined ? loadConfigFile(o.config) : monitor.configFromFlags({ ...o, join: o.join ?? [], respond: o.respond ?? [], ping: o.ping ?? [] });
    const ctx = ctxFor(o);
    const { result, exitCode } = await monitor.run({ config, configFile: o.config, durationMs: o.duration }, ctx);
    finish('monitor', o, ctx, { result, exitCode }, (r) => `--- mcast monitor (${(r.durationMs / 1000).toFixed(1)}s, ${r.stopReason}) ---\ntargets: ${r.targets.join} joined, ${r.targets.respond} answered, ${r.targets.ping} pinged; metrics were on ${r.metrics}; ${r.reloads} reloads`);
  });
}

function respondCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('respond')
      .description('answer mcast probes on groups with unicast replies (no amplification, rate-limited, --allow)')
      .argument('[group...]', 'groups as ADDR, ADDR:PORT or [ADDR6]:PORT (none with --ssmping)')
      .option('--ssmping', 'be an ssmping server (like ssmpingd, UDP 4321, but replies never exceed requests; default limits 2 requests/s per client, 100/s in all)')
      .option('-p, --port <port>', `UDP port for groups given without one (default ${DEFAULT_PORT})`, asParser(parsePort, '--port'))
      .option('-i, --interface <name|address>', "interface to join on (default: the kernel's route for the group)", IFACE)
      .option('-s, --source <address>', 'answer only probes from this sender (source-specific join; repeatable)', sourceList('--source'))
      .option('--allow <cidr>', 'answer only probers inside this prefix (repeatable; default: everyone)', asListParser(parseText('an address or prefix, e.g. 10.0.0.0/8 or 2001:db8::/32'), '--allow'))
      .option('--max-replies-per-second <n>', `replies per second to any one prober; a pinger probing faster has the excess refused (it is told, and counts them apart from loss) (default ${RESPOND_LIMITS.perSourcePps}; --ssmping: 2)`, asParser(parseRate, '--max-replies-per-second'))
      .option('--global-max-replies-per-second <n>', `replies per second in all (default ${RESPOND_LIMITS.globalPps}; --ssmping: 100)`, asParser(parseRate, '--global-max-replies-per-second'))
      .option('--name <name>', 'name carried in replies, at most 64 bytes (default: the host name)', asParser(parseName, '--name'))
      .addOption(durationOption('-d, --duration <time>', 'stop after this long (default: until Ctrl-C)', '--duration')),
    { ndjson: true },
  ).action(async (groups: string[], o: RespondFlags) => {
    checkOutput(o);
    const ctx = ctxFor(o);
    if (o.ssmping) {
      const ssmpingRespond = await import('./ssmping-respond.js');
      const { renderSsmpingServeSummary } = await import('../render/ssmping.js');
      return finish('respond', o, ctx, await ssmpingRespond.run(ssmpingRespond.optionsFromFlags(groups, o), ctx), renderSsmpingServeSummary);
    }
    const respond = await import('./respond.js');
    const { renderRespondSummary } = await import('../render/respond.js');
    const { result, exitCode } = await respond.run(
      {
        groups: parseGroups(groups, o.port),
        iface: o.interface,
        source: o.source ?? [],
        allow: o.allow ?? [],
        perSourcePps: o.maxRepliesPerSecond ?? RESPOND_LIMITS.perSourcePps,
        globalPps: o.globalMaxRepliesPerSecond ?? RESPOND_LIMITS.globalPps,
        name: o.name,
        durationMs: o.duration,
      },
      ctx,
    );
    finish('respond', o, ctx, { result, exitCode }, renderRespondSummary);
  });
}

function pingCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('ping')
      .description('probe a group and collect unicast replies from every responder: loss, duplicates, reordering, RTT, jitter, hops')
      .argument('<group>', 'group as ADDR, ADDR:PORT or [ADDR6]:PORT (with --ssmping: the server)')
      .option('-p, --port <port>', `UDP port when the group has none (default ${DEFAULT_PORT}; --ssmping: the server's, 4321)`, asParser(parsePort, '--port'))
      .option('--ssmping', 'be an ssmping client: ask the ssmping server <group> for unicast and multicast replies (exit 0 if a multicast reply came)')
      .option('--group <group>', 'with --ssmping: asmping mode, an any-source join of this group with the ssmping group ID (224.3.3.3 -> 224.3.3.234)', asParser(parseText('a multicast group, e.g. 224.3.3.3'), '--group'))
      .option('-c, --count <n>', 'probes to send', asParser(parseCount, '--count'), 10)
      .addOption(durationOption('--interval <time>', 'time between probes, e.g. 200ms', '--interval', 1000))
      .option('-l, --size <bytes>', `probe size in bytes (48-65507; default ${PING_DEFAULTS.size})`, sizeOption)
      .option('-t, --ttl <n>', `TTL / hop limit of the probes (default ${PING_DEFAULTS.ttl})`, asParser(parseTtl, '--ttl'))
      .option('-i, --interface <name|address>', "outgoing interface (default: the kernel's route for the group)", IFACE)
      .addOption(durationOption('-w, --wait <time>', 'how long to wait for late replies after the last probe', '--wait', 2000))
      .option('--synced-clocks', 'the hosts\' clocks are synchronised: also report one-way delay'),
    { ndjson: true },
  ).action(async (group: string, o: PingFlags) => {
    checkOutput(o);
    const ctx = ctxFor(o);
    if (o.ssmping) {
      rejectInMode([[o.size, '--size'], [o.ttl, '--ttl'], [o.syncedClocks, '--synced-clocks']], "--ssmping (requests are ssmping's own, replies come with TTL 64)");
      const ssmpingPing = await import('./ssmping-ping.js');
      const { renderSsmpingPingSummary } = await import('../render/ssmping.js');
      const run = ssmpingPing.run({ server: group, group: o.group, serverPort: o.port ?? ssmpingPing.SSMPING_PORT, count: o.count, intervalMs: o.interval, waitMs: o.wait, iface: o.interface }, ctx);
      return finish('ping', o, ctx, await run, renderSsmpingPingSummary);
    }
    const ping = await import('./ping.js');
    const { renderPingSummary } = await import('../render/ping.js');
    if (o.group !== undefined) throw usageError('E_USAGE', '--group applies only with --ssmping');
    const [g] = parseGroups([group], o.port);
    const { result, exitCode } = await ping.run(
      { group: g!, count: o.count, intervalMs: o.interval, size: o.size ?? PING_DEFAULTS.size, ttl: o.ttl ?? PING_DEFAULTS.ttl, iface: o.interface, waitMs: o.wait, syncedClocks: Boolean(o.syncedClocks) },
      ctx,
    );
    finish('ping', o, ctx, { result: result, exitCode }, renderPingSummary);
  });
}

function checkCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('check')
      .description('a bounded probe judged against thresholds, for CI: exit 0 pass, 1 fail, 2 usage, 3 system error')
      .argument('[group]', "group as ADDR, ADDR:PORT or [ADDR6]:PORT (with --sdp and --receive: default the SDP's c=/m=)")
      .option('-p, --port <port>', `UDP port when the group has none (default ${DEFAULT_PORT})`, asParser(parsePort, '--port'))
      .option('--responders <n>', 'active: at least N responders must answer', asParser(parseCount, '--responders'))
      .option('--expect <host>', 'active: this responder (address or name) must answer (repeatable)', asListParser(parseText("a responder's address or name, e.g. 10.0.0.2 or h2"), '--expect'))
      .option('--max-loss <percent>', 'loss limit per responder (active) or of the stream (passive), e.g. 5%', asParser(parsePercent, '--max-loss'))
      .option('--max-rtt <ms>', 'active: limit on each responder\'s average RTT', asParser(parseMilliseconds, '--max-rtt'))
      .option('--max-p99-rtt <ms>', 'active: limit on each responder\'s 99th percentile RTT', asParser(parseMilliseconds, '--max-p99-rtt'))
      .option('--max-jitter <ms>', 'active: limit on each responder\'s RTT jitter', asParser(parseMilliseconds, '--max-jitter'))
      .option('-c, --count <n>', 'active: probes to send', asParser(parseCount, '--count'), 20)
      .addOption(durationOption('--interval <time>', 'active: time between probes', '--interval', 200))
      .option('-t, --ttl <n>', 'active: TTL / hop limit of the probes', asParser(parseTtl, '--ttl'), 1)
      .option('-l, --size <bytes>', 'active: probe size', sizeOption, 64)
      .option('--receive', 'passive: join and judge the stream arriving on the group')
      .option('-s, --source <address>', 'passive: source-specific join (repeatable)', sourceList('--source'))
      .option('--min-packets <n>', 'passive: at least N packets must arrive (default 1)', asParser(parseCount, '--min-packets'))
      .option('--min-rate <pps>', 'passive: the stream must arrive at least this fast, over the whole check from the join', asParser(parseRate, '--min-rate'))
      .addOption(streamOptions('passive: ')[0]!)
      .addOption(streamOptions('passive: ')[1]!)
      .addOption(streamOptions('passive: ')[2]!)
      .option('--max-cc-errors <n>', 'passive, MPEG-TS: at most this many continuity-count errors (TR 101 290 1.4)', asParser(parseLimit, '--max-cc-errors'))
      .option('--max-mdi-df <ms>', 'passive, MPEG-TS/RTP: the worst MDI delay factor (RFC 4445) allowed', asParser(parseMilliseconds, '--max-mdi-df'))
      .option('--max-pcr-interval <ms>', 'passive, MPEG-TS: the longest gap between PCRs allowed (TR 101 290 2.3 uses 40ms)', asParser(parseMilliseconds, '--max-pcr-interval'))
      .addOption(durationOption('--max-silence <time>', "passive: the longest silence allowed between packets or after the last one (default: 10 of the stream's typical gaps, at least 1s)", '--max-silence'))
      .option('-i, --interface <name|address>', "interface (default: the kernel's route for the group)", IFACE)
      .addOption(durationOption('--timeout <time>', 'the whole check ends within this time, whatever happens', '--timeout', 30000))
      .option('--junit <file>', 'also write a JUnit XML report to FILE (checked before the check runs)', asParser(parseText('a file path, e.g. junit.xml'), '--junit')),
  ).action(async (group: string | undefined, o: CheckFlags) => {
    const check = await import('./check.js');
    const { renderCheck } = await import('../render/check.js');
    checkOutput(o);
    const ctx = ctxFor(o);
    if (!o.receive && (o.sdp || o.seqFormat || o.seqOffset !== undefined)) throw usageError('E_USAGE', '--sdp, --seq-format and --seq-offset need --receive (passive mode)');
    const s = streamInputs(o, group === undefined ? [] : [group]);
    const [g] = parseGroups(s.groups.slice(0, 1), s.port);
    const active = o.responders !== undefined || (o.expect ?? []).length > 0;
    if (o.receive && active) throw usageError('E_USAGE', '--receive (passive) cannot be combined with --responders/--expect (active); choose one mode');
    if (!o.receive && (o.minPackets !== undefined || o.minRate !== undefined || o.maxSilence !== undefined)) throw usageError('E_USAGE', '--min-packets, --min-rate and --max-silence need --receive (passive mode)');
    if (!o.receive && (o.maxCcErrors !== undefined || o.maxMdiDf !== undefined || o.maxPcrInterval !== undefined)) throw usageError('E_USAGE', '--max-cc-errors, --max-mdi-df and --max-pcr-interval need --receive (passive mode)');
    if (o.receive && (o.maxRtt !== undefined || o.maxP99Rtt !== undefined || o.maxJitter !== undefined)) throw usageError('E_USAGE', '--max-rtt, --max-p99-rtt and --max-jitter need an active check (--responders or --expect)');
    const { result, exitCode } = await check.run(
      {
        group: g!,
        mode: o.receive ? 'passive' : 'active',
        responders: o.responders,
        expect: o.expect ?? [],
        maxLoss: o.maxLoss,
        maxRtt: o.maxRtt,
        maxP99Rtt: o.maxP99Rtt,
        maxJitter: o.maxJitter,
        count: o.count,
        intervalMs: o.interval,
        timeoutMs: o.timeout,
        ttl: o.ttl,
        size: o.size,
        iface: o.interface,
        source: s.source,
        sdpClocks: s.sdpClocks,
        seqFormat: s.seqFormat,
        seqOffset: s.seqOffset,
        minPackets: o.minPackets,
        minRate: o.minRate,
        maxSilenceMs: o.maxSilence,
        maxCcErrors: o.maxCcErrors,
        maxMdiDfMs: o.maxMdiDf,
        maxPcrIntervalMs: o.maxPcrInterval,
        junit: o.junit,
      },
      ctx,
    );
    finish('check', o, ctx, { result: result, exitCode }, renderCheck);
  });
}

function meshCommand(program: Command, ctxFor: CtxFor): void {
  outputOptions(
    program
      .command('mesh')
      .description('run on every host at once: each sends and responds, and prints the N x N loss/RTT matrix (rows: sender, columns: receiver)')
      .argument('<group>', 'group as ADDR, ADDR:PORT or [ADDR6]:PORT')
      .requiredOption('--peers <list>', 'every participating host address, comma-separated (this host included)', peersParser)
      .option('-p, --port <port>', `UDP port when the group has none (default ${DEFAULT_PORT}); port+1 carries the result exchange`, asParser(parsePort, '--port'))
      .option('-c, --count <n>', 'probes each host sends', asParser(parseCount, '--count'), 20)
      .addOption(durationOption('--interval <time>', 'time between probes', '--interval', 200))
      .option('-t, --ttl <n>', 'TTL / hop limit of the probes', asParser(parseTtl, '--ttl'), 1)
      .option('-i, --interface <name|address>', "interface (default: the kernel's route for the group)", IFACE)
      .option('--max-loss <percent>', 'fail when any cell\'s loss is above this', asParser(parsePercent, '--max-loss'))
      .option('--max-rtt <ms>', 'fail when any cell\'s average RTT is above this', asParser(parseMilliseconds, '--max-rtt'))
      .addOption(durationOption('--timeout <time>', 'the whole run (probing and exchanging results) ends within this time', '--timeout', 30000)),
  ).action(async (group: string, o: MeshFlags) => {
    const mesh = await import('./mesh.js');
    const { renderMesh } = await import('../render/mesh.js');
    checkOutput(o);
    const ctx = ctxFor(o);
    const [g] = parseGroups([group], o.port);
    const { result, exitCode } = await mesh.run(
      { group: g!, peers: o.peers, count: o.count, intervalMs: o.interval, ttl: o.ttl, iface: o.interface, maxLoss: o.maxLoss, maxRtt: o.maxRtt, timeoutMs: o.timeout },
      ctx,
    );
    finish('mesh', o, ctx, { result: result, exitCode }, renderMesh);
  });
}
