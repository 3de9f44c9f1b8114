// `mcast join --watch-querier` and `--rejoin-every`: the queries heard while
// joined, and the diagnosis of the commonest multicast failure. A snooping
// switch that hears no querier forgets a membership one Group Membership
// Interval (260 s by default) after the host's last report, and the stream
// stops ("it works, then stops after about four minutes"). The host sees
// that as: the stream stopped some time after its last report (the join, a
// re-join, or its answer to a query) and no general query was heard since.
// When a querier was heard earlier (and then went away), its interval gives
// the membership interval, and the stop must fall near it; a stop elsewhere
// has another cause and is not diagnosed as this one.
//
// --rejoin-every re-sends the report by leaving and joining again on the same
// socket (the kernel reports only when the membership really changes; a
// second socket joining the same group would send nothing).

import { native, type QueryEvent, type QuerierSnapshot, type ReceiverSnapshot } from '../native.js';
import type { OpenSession } from '../model/session.js';
import { DEFAULT_GMI_S } from '../model/querier.js';
import { printable } from '../model/text.js';
import { emitEvent } from '../ui/json.js';
import type { Ui } from '../ui/terminal.js';
import type { JoinSender } from './join.js';

export interface StopDiagnosis {
  id: 'snooping-aged-out';
  group: string;
  /** Seconds from this host's last report to the last packet. */
  stoppedAfterReportS: number;
  message: string;
  fix: string;
  workaround: string;
}

export interface QuerierWatchResult {
  watching: boolean;
  listening: { ipv4: boolean; ipv6: boolean; error: string | null };
  /** Queries heard on the joined interfaces (the last 64). */
  queries: (QueryEvent & { interface: string })[];
  queriesHeard: number;
  generalQueries: number;
  rejoinEveryMs: number | null;
  rejoins: number;
  diagnoses: StopDiagnosis[];
}

/** What a re-join costs, said once when it starts and in the workaround. */
export const REJOIN_COST =
  'each re-join sends a leave and a new report (IGMPv3/MLDv2: two state-change reports, each sent twice), makes a querier send group-specific queries, and with fast-leave snooping or a router that prunes at once the stream can pause for a few milliseconds';

export class QuerierWatch {
  private readonly core = native();
  private engine = 0;
  private lastN = 0;
  private readonly queries: QuerierWatchResult['queries'] = [];
  private heard = 0;
  private general = 0;
  private lastGeneral: { ipv4: number | null; ipv6: number | null } = { ipv4: null, ipv6: null };
  /** Receiver time (ms) of this host's last report per family: the join, a re-join, or an answer to a query. */
  private lastReport: { ipv4: number; ipv6: number } = { ipv4: 0, ipv6: 0 };
  /** The membership interval learned from the queries heard (robustness x interval + max response), ms. */
  private gmiMs: { ipv4: number | null; ipv6: number | null } = { ipv4: null, ipv6: null };
  private lastRejoin = 0;
  private rejoins = 0;
  private listening: QuerierWatchResult['listening'] = { ipv4: false, ipv6: false, error: null };
  private warnedListen = false;
  private readonly diagnoses: StopDiagnosis[] = [];
  private readonly ifnames: Map<number, string>;
  /** `ifindex/family` of the joined groups: only their queries matter (IGMP for IPv4 groups, MLD for IPv6). */
  private readonly watched: Set<string>;
  private readonly receiverOnly = native().constants().JL_RECEIVER_ONLY!;

  constructor(
    private readonly sessions: OpenSession[],
    private readonly o: { watch: boolean; rejoinEveryMs?: number },
    private readonly ui: Ui,
  ) {
    this.ifnames = new Map(sessions.map((s) => [s.session.ifindex, s.ifaceName]));
    this.watched = new Set(sessions.map((s) => `${s.session.ifindex}/${s.session.group.includes(':') ? 'ipv6' : 'ipv4'}`));
    if (o.watch) {
      const ifs = [...this.ifnames.keys()];
      const fams = [...this.watched].map((w) => w.split('/')[1]);
      this.engine = this.core.querierStart({ ifindex: ifs.length === 1 ? ifs[0] : 0, ipv4: fams.includes('ipv4'), ipv6: fams.includes('ipv6') });
    }
    if (o.rejoinEveryMs) ui.info(`re-joining every ${o.rejoinEveryMs / 1000} s to keep the membership alive without a querier: ${REJOIN_COST}`);
  }

  private say(line: string, event: string, fields: object): void {
    // A progress line: stderr (never mixed into the result on stdout), or an NDJSON event.
    if (this.ui.ndjson) emitEvent(event, fields);
    else this.ui.info(line);
  }

  private rejoin(atMs: number): void {
    for (const s of this.sessions) {
      const x = s.session;
      try {
        this.core.socketLeave(s.handle);
        this.core.socketJoinLeaf(s.handle, { group: x.group, port: x.port, ifindex: x.ifindex, flags: this.receiverOnly, sources: x.sources, filterMode: x.filterMode });
      } catch (e) {
        this.ui.warn(`re-join of ${x.group} failed: ${(e as Error).message}`);
      }
    }
    this.rejoins += 1;
    this.lastRejoin = atMs;
    this.lastReport = { ipv4: atMs, ipv6: atMs };
  }

  /** Called at every tick of join's loop, with the receiver's snapshot and senders. */
  tick(snap: ReceiverSnapshot, senders: JoinSender[]): void {
    const now = snap.elapsedMs;
    if (this.o.rejoinEveryMs && now - this.lastRejoin >= this.o.rejoinEveryMs) this.rejoin(now);
    if (this.engine) this.readQueries(now);
    if (this.engine) this.diagnose(snap, senders);
  }

  private readQueries(now: number): void {
    const q = this.core.engineSnapshot(this.engine) as QuerierSnapshot;
    this.listening = { ipv4: q.ipv4.listening, ipv6: q.ipv6.listening, error: q.ipv4.error ?? q.ipv6.error };
    if (!this.warnedListen && (!q.ipv4.listening || !q.ipv6.listening)) {
      this.warnedListen = true;
      const fams = this.sessions.map((s) => (s.session.group.includes(':') ? 'ipv6' : 'ipv4'));
      if (fams.some((f) => !q[f].listening)) this.ui.warn(`--watch-querier cannot hear queries here (${(q.ipv4.error ?? q.ipv6.error ?? '').split(' ')[0]}: listening needs CAP_NET_RAW); a stream that stops will not be diagnosed`);
    }
    for (const e of q.events) {
      if (e.n <= this.lastN) continue;
      this.lastN = e.n;
      const ifname = this.ifnames.get(e.ifindex);
      if (ifname === undefined || !this.watched.has(`${e.ifindex}/${e.family}`)) continue;
      this.heard += 1;
      if (e.general) {
        this.general += 1;
        const prev = this.lastGeneral[e.family];
        const intervalMs = e.qqicS ? e.qqicS * 1000 : prev !== null ? now - prev : null;
        if (intervalMs) this.gmiMs[e.family] = (e.qrv || 2) * intervalMs + e.maxRespMs;
        this.lastGeneral[e.family] = now;
        // This host answers within max-resp: its membership is refreshed.
        this.lastReport[e.family] = Math.max(this.lastReport[e.family], now + e.maxRespMs);
      }
      this.queries.push({ ...e, interface: ifname });
      if (this.queries.length > 64) this.queries.shift();
      const what = e.general ? 'general query' : `query for ${e.group}`;
      const extra = [`max-resp ${e.maxRespMs / 1000} s`, e.qqicS !== null ? `QQIC ${e.qqicS} s` : '', e.qrv !== null ? `QRV ${e.qrv}` : ''].filter(Boolean).join(', ');
      this.say(`${(now / 1000).toFixed(1)}s  ${e.protocol} ${what} from ${e.source} on ${printable(ifname)} (${extra})`, 'query', { ...e, atMs: now, interface: ifname });
    }
  }

  private diagnose(snap: ReceiverSnapshot, senders: JoinSender[]): void {
    for (const g of snap.groups) {
      if (this.diagnoses.some((d) => d.group === g.group) || g.received === 0 || g.lastPacketMs === null) continue;
      const own = senders.filter((s) => s.group === g.group);
      if (own.length === 0 || !own.every((s) => s.status.state === 'stalled')) continue;
      const fam = g.group.includes(':') ? 'ipv6' : 'ipv4';
      if (!this.listening[fam]) continue;
      const report = this.lastReport[fam];
      const heardGeneral = this.lastGeneral[fam];
      // A general query after the last packet: the querier is there, the stream stopped for another reason.
      if (heardGeneral !== null && heardGeneral > g.lastPacketMs) continue;
      const after = (g.lastPacketMs - report) / 1000;
      if (after < 1) continue;
      // A querier heard earlier tells the membership interval; a stop far from it has another cause.
      const gmi = this.gmiMs[fam];
      if (gmi !== null && Math.abs(after * 1000 - gmi) > Math.max(2000, gmi / 4)) continue;
      const proto = fam === 'ipv4' ? 'IGMP' : 'MLD';
      const near =
        gmi !== null
          ? ` (the membership interval of the querier heard earlier is ${Math.round(gmi / 1000)} s)`
          : Math.abs(after - DEFAULT_GMI_S) <= 30
            ? ` (the default membership interval is ${DEFAULT_GMI_S} s)`
            : ` (so the switch's membership interval is about ${Math.round(after)} s; the default is ${DEFAULT_GMI_S} s)`;
      const since = heardGeneral === null ? `no ${proto} general query was heard` : `no ${proto} general query was heard after ${(heardGeneral / 1000).toFixed(1)} s (the querier went away)`;
      const d: StopDiagnosis = {
        id: 'snooping-aged-out',
        group: g.group,
        stoppedAfterReportS: Math.round(after * 10) / 10,
        message: `${g.group} stopped ${after.toFixed(1)} s after this host's last membership report${near}, and ${since}: snooping aged out the membership — no querier reaches this host`,
        fix: `enable an ${proto} querier on the switch or router of this LAN (Linux bridge: ip link set BRIDGE type bridge mcast_querier 1)`,
        workaround: `mcast join --rejoin-every ${Math.max(1, Math.floor(after / 2))}s re-sends the report before the switch forgets it; ${REJOIN_COST}`,
      };
      this.diagnoses.push(d);
      this.ui.warn(`${d.message}; fix: ${d.fix}; workaround: ${d.workaround}`);
      if (this.ui.ndjson) emitEvent('diagnosis', d);
    }
  }

  stop(): void {
    if (this.engine) {
      const snap = this.core.engineStop(this.engine) as QuerierSnapshot;
      this.listening = { ipv4: snap.ipv4.listening, ipv6: snap.ipv6.listening, error: snap.ipv4.error ?? snap.ipv6.error };
      this.engine = 0;
    }
  }

  /** The final figures; diagnoses a stop the last tick did not see yet. */
  result(snap: ReceiverSnapshot, senders: JoinSender[], warnings: string[]): QuerierWatchResult {
    if (this.o.watch) this.diagnose(snap, senders);
    for (const d of this.diagnoses) warnings.push(`${d.message}; fix: ${d.fix}; workaround: ${d.workaround}`);
    return {
      watching: this.o.watch,
      listening: this.listening,
      queries: this.queries,
      queriesHeard: this.heard,
      generalQueries: this.general,
      rejoinEveryMs: this.o.rejoinEveryMs ?? null,
      rejoins: this.rejoins,
      diagnoses: this.diagnoses,
    };
  }
}
