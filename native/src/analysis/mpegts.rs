//! MPEG-TS checks from ETSI TR 101 290, priority 1 and 2, on the 188-byte
//! packets of each datagram: sync byte, continuity counters (payload-carrying
//! packets only, one duplicate allowed, the discontinuity indicator honoured,
//! the null PID ignored), PAT and PMT presence, transport errors, CRC of the
//! PAT/PMT sections, PCR repetition and discontinuity, PIDs the PMT lists
//! that stay absent (1.6), and PTS repetition (2.5). Memory is bounded: at
//! most `MAX_PIDS` PIDs and `MAX_PROGRAMS` programs are tracked.

use std::collections::HashMap;

pub const TS_PACKET: usize = 188;
const SYNC: u8 = 0x47;
const NULL_PID: u16 = 0x1fff;
pub const MAX_PIDS: usize = 512;
pub const MAX_PROGRAMS: usize = 64;
/// TR 101 290 1.3 / 1.5: PAT and each PMT at least every 0.5 s.
const PSI_MAX_NS: u64 = 500_000_000;
/// TR 101 290 2.3: PCR at least every 40 ms (default; `pcr_max_ns`).
pub const PCR_MAX_NS: u64 = 40_000_000;
/// TR 101 290 1.6: an elementary stream the PMT lists, absent this long (the standard leaves it to the user).
pub const PID_MAX_NS: u64 = 5_000_000_000;
/// TR 101 290 2.5: PTS at least every 700 ms (in stream time, 90 kHz).
const PTS_MAX_90K: u64 = 63_000;
/// Consecutive PCR values further apart than this, or going backwards,
/// without the discontinuity indicator: a PCR discontinuity (2.3b: 100 ms).
const PCR_JUMP_NS: f64 = 100_000_000.0;

/// Does every 188-byte step of `buf` start with the sync byte (and is there at least one)?
pub fn is_ts(buf: &[u8]) -> bool {
    !buf.is_empty() && buf.len().is_multiple_of(TS_PACKET) && buf.chunks_exact(TS_PACKET).all(|p| p.first() == Some(&SYNC))
}

#[derive(Debug, Clone, Copy, Default)]
struct PidState {
    packets: u64,
    last_cc: Option<u8>,
    /// The last payload-carrying packet was a duplicate already (a third copy is an error).
    duplicate_seen: bool,
    last_pcr: Option<(u64, u64)>,
    last_psi_ns: Option<u64>,
    is_pmt: bool,
    /// Listed in a PMT as an elementary stream: its absence is a 1.6 error.
    is_es: bool,
    last_seen_ns: Option<u64>,
    last_pts: Option<u64>,
}

/// TR 101 290 counters for one stream, and what it carries.
#[derive(Debug, Clone, Default)]
pub struct TsStats {
    pub packets: u64,
    pub sync_byte_errors: u64,
    /// Datagrams not made of whole, synchronised TS packets (1.1 over UDP).
    pub sync_loss: u64,
    pub cc_errors: u64,
    pub transport_errors: u64,
    pub pat_errors: u64,
    pub pmt_errors: u64,
    pub crc_errors: u64,
    pub pcr_repetition_errors: u64,
    /// 1.6: a PID the PMT lists absent for 5 s (once per 5 s).
    pub pid_errors: u64,
    /// 2.5: consecutive PTS values of a PID more than 700 ms apart.
    pub pts_errors: u64,
    pub pcr_discontinuities: u64,
    /// Largest gap seen between two PCRs of one PID (ns).
    pub pcr_max_interval_ns: u64,
    /// PCR intervals judged (consecutive PCRs of one PID, discontinuities apart) and their sum (ns).
    pub pcr_intervals: u64,
    pcr_interval_sum_ns: u64,
    /// PIDs beyond MAX_PIDS, counted here only.
    pub pid_overflow: u64,
    pcr_max_ns: u64,
    pids: HashMap<u16, PidState>,
    /// program_number -> PMT PID, from the PAT.
    programs: Vec<(u16, u16)>,
    last_pat_ns: Option<u64>,
    first_ns: Option<u64>,
}

impl TsStats {
    pub fn new(pcr_max_ns: Option<u64>) -> Self {
        TsStats { pcr_max_ns: pcr_max_ns.unwrap_or(PCR_MAX_NS), ..Default::default() }
    }

    /// Account the TS packets of one datagram (`buf` is the TS part) received at `t_ns`.
    pub fn observe(&mut self, buf: &[u8], t_ns: u64) {
        self.first_ns.get_or_insert(t_ns);
        if !is_ts(buf) {
            self.sync_loss += 1;
        }
        for p in buf.chunks_exact(TS_PACKET) {
            self.packet(p, t_ns);
        }
        self.psi_timeouts(t_ns);
    }

    fn packet(&mut self, p: &[u8], t_ns: u64) {
        let (Some(&sync), Some(&b1), Some(&b2), Some(&b3)) = (p.first(), p.get(1), p.get(2), p.get(3)) else { return };
        self.packets += 1;
        if sync != SYNC {
            self.sync_byte_errors += 1;
            return;
        }
        if b1 & 0x80 != 0 {
            self.transport_errors += 1;
        }
        let pid = u16::from_be_bytes([b1 & 0x1f, b2]);
        let pusi = b1 & 0x40 != 0;
        let afc = (b3 >> 4) & 0x3;
        let cc = b3 & 0x0f;
        let (discontinuity, pcr, payload_start) = adaptation(p, afc);
        if !self.pids.contains_key(&pid) && self.pids.len() >= MAX_PIDS {
            self.pid_overflow += 1;
            return;
        }
        let pcr_max = self.pcr_max_ns;
        let st = self.pids.entry(pid).or_default();
        st.packets += 1;
        st.last_seen_ns = Some(t_ns);
        // Continuity: only packets with payload count; the null PID has no rule.
        if pid != NULL_PID && afc & 0x1 != 0 {
            match st.last_cc {
                Some(last) if !discontinuity => {
                    if cc == last {
                        if st.duplicate_seen {
                            self.cc_errors += 1;
                        }
                        st.duplicate_seen = true;
                    } else {
                        if cc != (last + 1) & 0x0f {
                            self.cc_errors += 1;
                        }
                        st.duplicate_seen = false;
                    }
                }
                _ => st.duplicate_seen = false,
            }
            st.last_cc = Some(cc);
        }
        if let Some(v) = pcr {
            // 2.3 and 2.3b are judged on the PCR values themselves (27 MHz),
            // not on arrival: a bursty sender does not break them, a lost PCR does.
            if let Some((last_v, _)) = st.last_pcr
                && !discontinuity
            {
                let gap_ns = (v as f64 - last_v as f64) * 1e9 / 27e6;
                if !(0.0..=PCR_JUMP_NS).contains(&gap_ns) {
                    self.pcr_discontinuities += 1;
                } else {
                    let gap = gap_ns as u64;
                    self.pcr_max_interval_ns = self.pcr_max_interval_ns.max(gap);
                    self.pcr_intervals += 1;
                    self.pcr_interval_sum_ns = self.pcr_interval_sum_ns.saturating_add(gap);
                    if gap > pcr_max {
                        self.pcr_repetition_errors += 1;
                    }
                }
            }
            st.last_pcr = Some((v, t_ns));
        }
        if pusi
            && afc & 0x1 != 0
            && st.is_es
            && let Some(pts) = pes_pts(p.get(payload_start..).unwrap_or_default())
        {
            if let Some(last) = st.last_pts {
                // 33-bit wrap: the forward distance.
                let gap = pts.wrapping_sub(last) & ((1 << 33) - 1);
                if gap > PTS_MAX_90K && gap < (1 << 32) {
                    self.pts_errors += 1;
                }
            }
            st.last_pts = Some(pts);
        }
        if pusi && afc & 0x1 != 0 && (pid == 0 || st.is_pmt) {
            st.last_psi_ns = Some(t_ns);
            let section = p.get(payload_start..).unwrap_or_default();
            self.section(pid, section, t_ns);
        }
    }

    /// A PSI section starting in this packet (pointer_field first).
    fn section(&mut self, pid: u16, payload: &[u8], t_ns: u64) {
        let Some((&pointer, rest)) = payload.split_first() else { return };
        let Some(sec) = rest.get(usize::from(pointer)..) else { return };
        let (Some(&table_id), Some(&l1), Some(&l2)) = (sec.first(), sec.get(1), sec.get(2)) else { return };
        let len = usize::from(u16::from_be_bytes([l1 & 0x0f, l2]));
        // Sections spanning packets are not checked (no reassembly buffer).
        let Some(whole) = sec.get(..3 + len) else { return };
        if len < 4 {
            return;
        }
        if crc32_mpeg2(whole) != 0 {
            self.crc_errors += 1;
            return;
        }
        if pid == 0 {
            if table_id != 0x00 {
                self.pat_errors += 1;
                return;
            }
            self.last_pat_ns = Some(t_ns);
            self.read_pat(whole.get(8..3 + len - 4).unwrap_or_default());
        } else if table_id != 0x02 {
            self.pmt_errors += 1;
        } else {
            self.read_pmt(whole, t_ns);
        }
    }

    /// The elementary streams a PMT lists (after PCR_PID and the program info).
    fn read_pmt(&mut self, sec: &[u8], t_ns: u64) {
        let (Some(&h), Some(&l)) = (sec.get(10), sec.get(11)) else { return };
        let info_len = usize::from(u16::from_be_bytes([h & 0x0f, l]));
        let mut es = sec.get(12 + info_len..sec.len().saturating_sub(4)).unwrap_or_default();
        while let (Some(&p1), Some(&p2), Some(&i1), Some(&i2)) = (es.get(1), es.get(2), es.get(3), es.get(4)) {
            let pid = u16::from_be_bytes([p1 & 0x1f, p2]);
            if let Some(st) = self.pids.get_mut(&pid) {
                st.is_es = true;
            } else if self.pids.len() < MAX_PIDS {
                // Listed but not seen yet: its 1.6 clock starts now.
                self.pids.insert(pid, PidState { is_es: true, last_seen_ns: Some(t_ns), ..Default::default() });
            }
            es = es.get(5 + usize::from(u16::from_be_bytes([i1 & 0x0f, i2]))..).unwrap_or_default();
        }
    }

    fn read_pat(&mut self, entries: &[u8]) {
        for e in entries.chunks_exact(4) {
            let program = u16::from_be_bytes([e[0], e[1]]);
            let pmt_pid = u16::from_be_bytes([e[2] & 0x1f, e[3]]);
            if program == 0 {
                continue; // the network PID
            }
            if !self.programs.iter().any(|&(p, _)| p == program) && self.programs.len() < MAX_PROGRAMS {
                self.programs.push((program, pmt_pid));
            }
            if let Some(st) = self.pids.get_mut(&pmt_pid) {
                st.is_pmt = true;
            } else if self.pids.len() < MAX_PIDS {
                self.pids.insert(pmt_pid, PidState { is_pmt: true, ..Default::default() });
            }
        }
    }

    /// 1.3 / 1.5: a PAT or a PMT not seen for 0.5 s counts once per 0.5 s missing.
    fn psi_timeouts(&mut self, t_ns: u64) {
        let Some(first) = self.first_ns else { return };
        let since = |last: Option<u64>| t_ns.saturating_sub(last.unwrap_or(first));
        if since(self.last_pat_ns) > PSI_MAX_NS {
            self.pat_errors += 1;
            self.last_pat_ns = Some(t_ns);
        }
        for st in self.pids.values_mut().filter(|s| s.is_pmt) {
            if t_ns.saturating_sub(st.last_psi_ns.unwrap_or(first)) > PSI_MAX_NS {
                self.pmt_errors += 1;
                st.last_psi_ns = Some(t_ns);
            }
        }
        for st in self.pids.values_mut().filter(|s| s.is_es) {
            if t_ns.saturating_sub(st.last_seen_ns.unwrap_or(first)) > PID_MAX_NS {
                self.pid_errors += 1;
                st.last_seen_ns = Some(t_ns);
            }
        }
    }

    /// The mean PCR interval (ns), once one was judged.
    pub fn pcr_avg_interval_ns(&self) -> Option<u64> {
        self.pcr_interval_sum_ns.checked_div(self.pcr_intervals)
    }

    /// The sender spaces its PCRs beyond the limit (GStreamer's mpegtsmux:
    /// 80 ms for video; VLC 57-85 ms): nearly every interval is over it, which
    /// loss on the way cannot do (it only stretches the intervals it hits).
    pub fn pcr_spaced_by_sender(&self) -> bool {
        self.pcr_intervals >= 4 && self.pcr_repetition_errors * 10 >= self.pcr_intervals * 9
    }

    pub fn programs(&self) -> &[(u16, u16)] {
        &self.programs
    }

    /// (PID, packets), sorted by PID.
    pub fn pids(&self) -> Vec<(u16, u64)> {
        let mut v: Vec<(u16, u64)> = self.pids.iter().filter(|(_, s)| s.packets > 0).map(|(&p, s)| (p, s.packets)).collect();
        v.sort_unstable();
        v
    }
}

/// (discontinuity_indicator, PCR in 27 MHz units, payload offset) of one packet.
fn adaptation(p: &[u8], afc: u8) -> (bool, Option<u64>, usize) {
    if afc & 0x2 == 0 {
        return (false, None, 4);
    }
    let Some(&len) = p.get(4) else { return (false, None, 4) };
    let payload = 5 + usize::from(len);
    if len == 0 {
        return (false, None, payload);
    }
    let flags = p.get(5).copied().unwrap_or(0);
    let pcr = if flags & 0x10 != 0 && len >= 7 {
        p.get(6..12).map(|b| {
            let base = (u64::from(b[0]) << 25) | (u64::from(b[1]) << 17) | (u64::from(b[2]) << 9) | (u64::from(b[3]) << 1) | (u64::from(b[4]) >> 7);
            let ext = (u64::from(b[4] & 1) << 8) | u64::from(b[5]);
            base * 300 + ext
        })
    } else {
        None
    };
    (flags & 0x80 != 0, pcr, payload)
}

/// The PTS of a PES packet starting here (00 00 01, stream id, PTS flag), 90 kHz.
fn pes_pts(pes: &[u8]) -> Option<u64> {
    if pes.get(..3)? != [0, 0, 1] || *pes.get(7)? & 0x80 == 0 {
        return None;
    }
    let b = pes.get(9..14)?;
    Some((u64::from(b[0] >> 1) & 0x7) << 30 | u64::from(b[1]) << 22 | u64::from(b[2] >> 1) << 15 | u64::from(b[3]) << 7 | u64::from(b[4] >> 1))
}

/// CRC-32/MPEG-2 (poly 0x04C11DB7, no reflection, no final xor): 0 over a
/// section that includes its own CRC when the section is intact.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04c1_1db7 } else { crc << 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TS packet: PID, CC, payload flag, optional adaptation (discontinuity, PCR).
    fn ts(pid: u16, cc: u8, payload: bool, pcr: Option<u64>, discontinuity: bool) -> [u8; 188] {
        let mut p = [0xffu8; 188];
        p[0] = SYNC;
        p[1] = (pid >> 8) as u8 & 0x1f;
        p[2] = pid as u8;
        let adapt = pcr.is_some() || discontinuity;
        p[3] = ((u8::from(adapt) << 1 | u8::from(payload)) << 4) | (cc & 0x0f);
        if adapt {
            p[4] = 7;
            p[5] = (u8::from(discontinuity) << 7) | (u8::from(pcr.is_some()) << 4);
            if let Some(v) = pcr {
                let (base, ext) = (v / 300, v % 300);
                p[6] = (base >> 25) as u8;
                p[7] = (base >> 17) as u8;
                p[8] = (base >> 9) as u8;
                p[9] = (base >> 1) as u8;
                p[10] = ((base & 1) as u8) << 7 | 0x7e | ((ext >> 8) as u8 & 1);
                p[11] = ext as u8;
            }
        }
        p
    }

    fn pat(cc: u8, programs: &[(u16, u16)]) -> [u8; 188] {
        let mut p = [0xffu8; 188];
        p[..4].copy_from_slice(&[SYNC, 0x40, 0x00, 0x10 | cc]);
        p[4] = 0; // pointer
        let len = 5 + 4 * programs.len() + 4;
        let mut sec = vec![0x00, 0xb0 | (len >> 8) as u8, len as u8, 0, 1, 0xc1, 0, 0];
        for &(prog, pid) in programs {
            sec.extend_from_slice(&prog.to_be_bytes());
            sec.extend_from_slice(&(0xe000 | pid).to_be_bytes());
        }
        let crc = crc32_mpeg2(&sec);
        sec.extend_from_slice(&crc.to_be_bytes());
        p[5..5 + sec.len()].copy_from_slice(&sec);
        p
    }

    fn datagram(packets: &[[u8; 188]]) -> Vec<u8> {
        packets.iter().flatten().copied().collect()
    }

    #[test]
    fn the_crc_of_a_known_section_checks() {
        let p = pat(0, &[(1, 0x1000)]);
        assert_eq!(crc32_mpeg2(&p[5..5 + 16]), 0);
        let mut s = TsStats::new(None);
        s.observe(&datagram(&[p]), 0);
        assert_eq!((s.crc_errors, s.programs()), (0, &[(1, 0x1000)][..]));
        let mut bad = p;
        bad[10] ^= 1;
        s.observe(&datagram(&[bad]), 1);
        assert_eq!(s.crc_errors, 1);
    }

    #[test]
    fn continuity_counts_payload_packets_allows_one_duplicate_and_honours_discontinuity() {
        let mut s = TsStats::new(None);
        let d = datagram(&[
            ts(256, 0, true, None, false),
            ts(256, 1, true, None, false),
            ts(256, 1, true, None, false),     // one duplicate: fine
            ts(256, 1, false, Some(0), false), // adaptation only: keeps the CC
            ts(256, 2, true, None, false),
            ts(256, 4, true, None, false), // 3 missing: an error
            ts(256, 9, true, None, true),  // discontinuity indicator: fine
            ts(NULL_PID, 7, true, None, false),
        ]);
        s.observe(&d, 0);
        assert_eq!(s.cc_errors, 1);
        s.observe(&datagram(&[ts(256, 9, true, None, false), ts(256, 9, true, None, false)]), 1);
        assert_eq!(s.cc_errors, 2, "a third copy is an error");
    }

    #[test]
    fn sync_tei_and_pcr_rules() {
        let mut s = TsStats::new(None);
        let mut broken = ts(300, 0, true, None, false);
        broken[0] = 0x48;
        let mut tei = ts(300, 1, true, None, false);
        tei[1] |= 0x80;
        s.observe(&datagram(&[broken, tei]), 0);
        assert_eq!((s.sync_byte_errors, s.sync_loss, s.transport_errors), (1, 1, 1));
        // PCR values every 20 ms, then 80 ms apart (arrival times do not matter); then a jump of 1 s.
        let ms = 1_000_000u64;
        let step = 27_000u64; // 1 ms in 27 MHz units
        for (i, t) in [0u64, 20, 40, 120].iter().enumerate() {
            s.observe(&datagram(&[ts(256, i as u8, true, Some(t * step), false)]), i as u64 * 500 * ms);
        }
        assert_eq!((s.pcr_repetition_errors, s.pcr_discontinuities), (1, 0));
        assert_eq!(s.pcr_max_interval_ns, 80 * ms);
        assert_eq!((s.pcr_intervals, s.pcr_avg_interval_ns()), (3, Some(40 * ms)));
        assert!(!s.pcr_spaced_by_sender(), "one late PCR in three is the network's");
        s.observe(&datagram(&[ts(256, 4, true, Some(1120 * step), false)]), 2000 * ms);
        assert_eq!(s.pcr_discontinuities, 1);
        s.observe(&datagram(&[ts(256, 5, true, Some(10 * step), true)]), 2001 * ms);
        assert_eq!(s.pcr_discontinuities, 1, "announced by the discontinuity indicator");
    }

    #[test]
    fn a_sender_that_spaces_pcrs_80_ms_apart_is_told_from_a_lost_pcr() {
        let mut s = TsStats::new(None);
        let step = 27_000u64;
        for i in 0..20u64 {
            s.observe(&datagram(&[ts(256, i as u8, true, Some(i * 80 * step), false)]), i * 80_000_000);
        }
        assert_eq!((s.pcr_repetition_errors, s.pcr_intervals), (19, 19));
        assert!(s.pcr_spaced_by_sender());
        assert_eq!(s.pcr_avg_interval_ns(), Some(80_000_000));
    }

    #[test]
    fn a_missing_pat_or_pmt_counts_once_per_half_second() {
        let mut s = TsStats::new(None);
        let ms = 1_000_000u64;
        s.observe(&datagram(&[pat(0, &[(1, 0x100)])]), 0);
        for i in 1..=25u64 {
            s.observe(&datagram(&[ts(256, i as u8, true, None, false)]), i * 100 * ms);
        }
        // 2.5 s with one PAT at the start and no PMT: one timeout every 0.6 s for each.
        assert_eq!((s.pat_errors, s.pmt_errors), (4, 4));
    }

    /// A PMT section for program 1 listing `es` PIDs, in one packet on `pmt_pid`.
    fn pmt(pmt_pid: u16, es: &[u16]) -> [u8; 188] {
        let mut p = [0xffu8; 188];
        p[..4].copy_from_slice(&[SYNC, 0x40 | (pmt_pid >> 8) as u8, pmt_pid as u8, 0x10]);
        p[4] = 0;
        let len = 9 + 5 * es.len() + 4;
        let mut sec = vec![0x02, 0xb0 | (len >> 8) as u8, len as u8, 0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0x00];
        for &pid in es {
            sec.extend_from_slice(&[0x02, 0xe0 | (pid >> 8) as u8, pid as u8, 0xf0, 0x00]);
        }
        let crc = crc32_mpeg2(&sec);
        sec.extend_from_slice(&crc.to_be_bytes());
        p[5..5 + sec.len()].copy_from_slice(&sec);
        p
    }

    /// A packet starting a PES with this PTS.
    fn pes(pid: u16, cc: u8, pts: u64) -> [u8; 188] {
        let mut p = ts(pid, cc, true, None, false);
        p[1] |= 0x40;
        let hdr = [
            0,
            0,
            1,
            0xe0,
            0,
            0,
            0x80,
            0x80,
            5,
            (0x21 | ((pts >> 29) & 0x0e)) as u8,
            (pts >> 22) as u8,
            (((pts >> 14) & 0xfe) | 1) as u8,
            (pts >> 7) as u8,
            (((pts << 1) & 0xfe) | 1) as u8,
        ];
        p[4..4 + hdr.len()].copy_from_slice(&hdr);
        p
    }

    #[test]
    fn pids_the_pmt_lists_must_appear_and_pts_must_repeat() {
        let mut s = TsStats::new(None);
        let ms = 1_000_000u64;
        s.observe(&datagram(&[pat(0, &[(1, 0x100)])]), 0);
        s.observe(&datagram(&[pmt(0x100, &[0x101, 0x102])]), 0);
        // 0x101 carries PES with PTS every 40 ms, then a gap of 1 s; 0x102 never comes.
        for i in 0..70u64 {
            let pts = if i < 50 { i * 40 * 90 } else { (i * 40 + 1000) * 90 };
            let t = i * 100 * ms;
            s.observe(&datagram(&[pat(i as u8, &[(1, 0x100)]), pmt(0x100, &[0x101, 0x102]), pes(0x101, i as u8, pts)]), t);
        }
        assert_eq!(s.pts_errors, 1, "one gap of 1040 ms between PTS values");
        // 6.9 s without PID 0x102: one error after 5 s.
        assert_eq!(s.pid_errors, 1);
        assert_eq!(s.pmt_errors, 0);
    }

    #[test]
    fn pids_are_bounded() {
        let mut s = TsStats::new(None);
        for pid in 0..(MAX_PIDS as u16 + 10) {
            s.observe(&datagram(&[ts(pid + 32, 0, true, None, false)]), 0);
        }
        assert_eq!(s.pid_overflow, 10);
        assert!(is_ts(&datagram(&[ts(1, 0, true, None, false)])));
        assert!(!is_ts(&[0x47; 100]));
    }
}
