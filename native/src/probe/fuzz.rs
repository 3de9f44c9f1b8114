//! Deterministic fuzzing of the wire decoder, small enough to ship: the CLI's
//! self-test runs it to show that hostile datagrams cannot crash a receiver.
//!
//! A seeded xorshift generator builds valid probes and replies and mutates
//! them the ways a network or an attacker would (truncation, extension, bit
//! flips, random runs, lying header fields, pure garbage, oversized buffers).
//! Every input is decoded under `catch_unwind`; a panic is a decoder bug.
//! Valid inputs must also decode back to exactly what was encoded.

use std::cell::Cell;
use std::panic;
use std::sync::Once;

use super::wire::{self, Clock, DecodeError, MalformedReason, Packet, Probe, Refusals, Reply};

/// Outcome of a fuzz run. Every input lands in exactly one of probes,
/// replies, foreign, malformed or panics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuzzReport {
    pub total: u64,
    pub probes: u64,
    pub replies: u64,
    pub foreign: u64,
    pub malformed: u64,
    /// Malformed inputs split by reason, indexed by `MalformedReason::index()`.
    pub malformed_by_reason: [u64; MalformedReason::ALL.len()],
    pub panics: u64,
    /// The first input that made the decoder panic, to reproduce the bug.
    pub first_panic_input: Option<Vec<u8>>,
    /// The panic message of that input, when it was a string.
    pub first_panic_message: Option<String>,
    /// Valid inputs that did not decode to exactly what was encoded.
    pub roundtrip_failures: u64,
}

impl FuzzReport {
    /// True when the decoder never panicked and never garbled a valid packet.
    pub fn is_clean(&self) -> bool {
        self.panics == 0 && self.roundtrip_failures == 0
    }
}

/// Decodes `iterations` generated datagrams; the same `seed` always yields
/// the same inputs and so the same report.
pub fn fuzz_decode(iterations: u64, seed: u64) -> FuzzReport {
    install_quiet_panic_hook();
    let _quiet = QuietPanics::enter();
    let mut rng = XorShift::new(seed);
    let mut buf = Vec::new();
    let mut report = FuzzReport::default();
    for _ in 0..iterations {
        let expect = generate(&mut rng, &mut buf);
        report.total += 1;
        match panic::catch_unwind(|| wire::decode(&buf)) {
            Ok(Ok(packet)) => {
                match packet {
                    Packet::Probe(_) => report.probes += 1,
                    Packet::Reply(_) => report.replies += 1,
                }
                if !expect.matches(&packet) {
                    report.roundtrip_failures += 1;
                }
            }
            Ok(Err(DecodeError::Foreign)) => {
                report.foreign += 1;
                if !matches!(expect, Expect::Anything) {
                    report.roundtrip_failures += 1;
                }
            }
            Ok(Err(DecodeError::Malformed(reason))) => {
                report.malformed += 1;
                if let Some(count) = report.malformed_by_reason.get_mut(reason.index()) {
                    *count += 1;
                }
                if !matches!(expect, Expect::Anything) {
                    report.roundtrip_failures += 1;
                }
            }
            Err(payload) => {
                report.panics += 1;
                if report.first_panic_input.is_none() {
                    report.first_panic_input = Some(buf.clone());
                    report.first_panic_message = panic_message(payload.as_ref());
                }
            }
        }
    }
    report
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
}

thread_local! {
    static PANICS_ARE_QUIET: Cell<bool> = const { Cell::new(false) };
}
static QUIET_HOOK: Once = Once::new();

/// Wraps the process's panic hook once so that panics caught by the fuzzer
/// are not printed (a planted bug would otherwise flood stderr). Panics on
/// every other thread, or outside a fuzz run, still reach the previous hook.
fn install_quiet_panic_hook() {
    QUIET_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !PANICS_ARE_QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Silences panics on this thread for as long as it lives.
struct QuietPanics {
    was_quiet: bool,
}

impl QuietPanics {
    fn enter() -> Self {
        QuietPanics { was_quiet: PANICS_ARE_QUIET.with(|q| q.replace(true)) }
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        PANICS_ARE_QUIET.with(|q| q.set(self.was_quiet));
    }
}

/// What decoding a generated input must give.
enum Expect {
    /// A mutation or garbage: any non-panicking outcome is acceptable.
    Anything,
    Probe(Probe),
    /// A reply, with the name it must carry (owned, since `Reply` borrows).
    Reply(Reply<'static>, String),
}

impl Expect {
    fn matches(&self, packet: &Packet<'_>) -> bool {
        match (self, packet) {
            (Expect::Anything, _) => true,
            (Expect::Probe(want), Packet::Probe(got)) => want == got,
            (Expect::Reply(want, want_name), Packet::Reply(got)) => Reply { name: "", ..*got } == *want && got.name == want_name,
            _ => false,
        }
    }
}

/// Typical probe sizes; large sizes come from the rarer oversized case.
const SMALL_PROBE_MAX: usize = 160;
/// One input in this many is near or beyond 64 KiB: rare, because each
/// costs ~1000 small ones in a debug build.
const OVERSIZED_ONE_IN: u64 = 512;

/// Fills `buf` with the next input and says what it must decode to.
fn generate(rng: &mut XorShift, buf: &mut Vec<u8>) -> Expect {
    if rng.one_in(OVERSIZED_ONE_IN) {
        return oversized(rng, buf);
    }
    match rng.below(100) {
        0..15 => {
            let len = rng_len(rng, wire::MIN_PROBE_LEN, SMALL_PROBE_MAX);
            valid_probe(rng, buf, len)
        }
        15..30 => valid_reply(rng, buf),
        30..40 => {
            valid_base(rng, buf);
            let cut = rng.below(buf.len() as u64) as usize;
            buf.truncate(cut);
            Expect::Anything
        }
        40..48 => {
            valid_base(rng, buf);
            extend(rng, buf);
            Expect::Anything
        }
        48..63 => {
            valid_base(rng, buf);
            for _ in 0..rng_len(rng, 1, 8) {
                flip_bit(rng, buf);
            }
            Expect::Anything
        }
        63..73 => {
            valid_base(rng, buf);
            random_run(rng, buf);
            Expect::Anything
        }
        73..85 => {
            valid_base(rng, buf);
            lie_in_a_field(rng, buf);
            Expect::Anything
        }
        85..93 => {
            let len = rng_len(rng, 0, 128);
            garbage(rng, buf, len);
            Expect::Anything
        }
        _ => {
            // Our magic and version, then noise: exercises everything past the magic check.
            let len = rng_len(rng, 4, 128);
            garbage(rng, buf, len);
            write_at(buf, 0, &wire::MAGIC.to_be_bytes());
            if rng.one_in(2) {
                write_at(buf, 4, &[wire::VERSION]);
            }
            Expect::Anything
        }
    }
}

fn random_probe(rng: &mut XorShift, length: u16) -> Probe {
    Probe {
        session: rng.next(),
        sender_id: rng.next() as u32,
        seq: if rng.one_in(2) { rng.below(1000) } else { rng.next() },
        ttl: rng.next() as u8,
        clock: Clock::Realtime,
        length,
        send_time_ns: rng.next(),
        send_mono_ns: rng.next(),
        pacing: rng.one_in(2).then(|| wire::Pacing { interval_ns: rng.next(), planned: rng.next() }),
    }
}

fn valid_probe(rng: &mut XorShift, buf: &mut Vec<u8>, len: usize) -> Expect {
    let len = len.clamp(wire::MIN_PROBE_LEN, wire::MAX_PACKET_LEN);
    let length = u16::try_from(len).unwrap_or(u16::MAX);
    let header = random_probe(rng, length);
    buf.clear();
    buf.resize(len, 0xA5); // encode_probe must overwrite all of it
    // The pacing block is left out of probes too short to hold it.
    let expected = Probe { pacing: header.pacing.filter(|_| len >= wire::MIN_PACING_PROBE_LEN), ..header };
    match wire::encode_probe(&header, buf) {
        Ok(_) => Expect::Probe(expected),
        Err(_) => Expect::Anything, // unreachable for these lengths; the decoder is under test
    }
}

/// Characters of 1 to 4 UTF-8 bytes, so name truncation meets every boundary.
const NAME_CHARS: [char; 8] = ['a', 'z', '0', '-', '.', 'é', '日', '🛰'];

fn valid_reply(rng: &mut XorShift, buf: &mut Vec<u8>) -> Expect {
    let probe = random_probe(rng, 0);
    let recv_ttl = if rng.one_in(3) { None } else { Some(rng.next() as u8) };
    let recv_time_ns = rng.next();
    let mut name = String::new();
    if !rng.one_in(4) {
        for _ in 0..rng.below(30) {
            let pick = rng.below(NAME_CHARS.len() as u64) as usize;
            name.push(NAME_CHARS.get(pick).copied().unwrap_or('a'));
        }
    }
    let cap = rng_len(rng, wire::HEADER_LEN, 160);
    // Counts near the edges of u32 as often as small ones.
    let mut count = || match rng.below(4) {
        0 => 0,
        1 => u32::MAX - rng.below(3) as u32,
        _ => rng.next() as u32,
    };
    let refusals = Refusals { per_prober: count(), global: count(), limit_mpps: count() };
    let news = rng.one_in(2);
    // 0: a v1 reply; 1: a reply that may carry the refusal block; 2: a report.
    let mode = rng.below(3);
    buf.clear();
    buf.resize(cap, 0x5A);
    if mode == 2 {
        let written = wire::encode_report(&probe, refusals, recv_time_ns, cap, buf);
        buf.truncate(written);
        if written == 0 {
            return Expect::Anything; // nothing to decode (an empty buffer is foreign)
        }
        let reply = Reply {
            session: probe.session,
            sender_id: probe.sender_id,
            seq: probe.seq,
            recv_ttl: None,
            echo_mono_ns: probe.send_mono_ns,
            recv_time_ns,
            length: wire::MIN_REFUSALS_REPLY_LEN as u16,
            name: "",
            refusals: Some(refusals),
            report: true,
        };
        return Expect::Reply(reply, String::new());
    }
    let asked = (mode == 1).then_some((refusals, news));
    let written = wire::encode_reply_with(&probe, recv_ttl, recv_time_ns, &name, asked, cap, buf).len;
    buf.truncate(written);

    // Independent oracle for the name and block rules: the name is cut to 64
    // bytes on a char boundary; then block + name if both fit, else the block
    // when it is news, else the name, else the block if it fits, else neither.
    let mut expected_name = name;
    while expected_name.len() > wire::MAX_NAME_LEN {
        expected_name.pop();
    }
    let block_len = wire::MIN_REFUSALS_REPLY_LEN;
    let named = |fixed: usize| !expected_name.is_empty() && fixed + 1 + expected_name.len() <= cap;
    let (block, with_name) = if mode != 1 {
        (false, named(wire::HEADER_LEN))
    } else if named(block_len) {
        (true, true)
    } else if news && cap >= block_len {
        (true, false)
    } else if named(wire::HEADER_LEN) {
        (false, true)
    } else {
        (cap >= block_len, false)
    };
    if !with_name {
        expected_name.clear();
    }
    let fixed = if block { block_len } else { wire::HEADER_LEN };
    let expected_len = if with_name { fixed + 1 + expected_name.len() } else { fixed };
    let reply = Reply {
        session: probe.session,
        sender_id: probe.sender_id,
        seq: probe.seq,
        recv_ttl,
        echo_mono_ns: probe.send_mono_ns,
        recv_time_ns,
        length: u16::try_from(expected_len).unwrap_or(0),
        name: "",
        refusals: block.then_some(refusals),
        report: false,
    };
    Expect::Reply(reply, expected_name)
}

/// A valid probe or reply to mutate.
fn valid_base(rng: &mut XorShift, buf: &mut Vec<u8>) {
    if rng.one_in(2) {
        let len = rng_len(rng, wire::MIN_PROBE_LEN, SMALL_PROBE_MAX);
        valid_probe(rng, buf, len);
    } else {
        valid_reply(rng, buf);
    }
}

/// Near-64 KiB probes (valid), or buffers past what the length field can say.
fn oversized(rng: &mut XorShift, buf: &mut Vec<u8>) -> Expect {
    if rng.one_in(2) {
        let len = rng_len(rng, wire::MAX_UDP_PAYLOAD_V4, wire::MAX_PACKET_LEN);
        return valid_probe(rng, buf, len);
    }
    valid_probe(rng, buf, wire::MAX_PACKET_LEN);
    let extra = rng_len(rng, 1, 4096);
    buf.resize(wire::MAX_PACKET_LEN + extra, 0);
    if rng.one_in(2) {
        flip_bit(rng, buf);
    }
    Expect::Anything
}

/// Appends zeros or noise, and sometimes makes the length field agree.
fn extend(rng: &mut XorShift, buf: &mut Vec<u8>) {
    let old_len = buf.len();
    let extra = rng_len(rng, 1, 64);
    buf.resize(old_len + extra, 0);
    if rng.one_in(2)
        && let Some(tail) = buf.get_mut(old_len..)
    {
        rng.fill(tail);
    }
    if rng.one_in(2) {
        let length = u16::try_from(buf.len()).unwrap_or(u16::MAX);
        write_at(buf, 20, &length.to_be_bytes());
    }
}

fn flip_bit(rng: &mut XorShift, buf: &mut [u8]) {
    let at = rng.below(buf.len() as u64) as usize;
    let bit = rng.below(8);
    if let Some(byte) = buf.get_mut(at) {
        *byte ^= 1 << bit;
    }
}

fn random_run(rng: &mut XorShift, buf: &mut [u8]) {
    let start = rng.below(buf.len() as u64) as usize;
    let len = rng_len(rng, 1, 16);
    let end = (start + len).min(buf.len());
    if let Some(run) = buf.get_mut(start..end) {
        rng.fill(run);
    }
}

/// Overwrites one header field with a plausible lie.
fn lie_in_a_field(rng: &mut XorShift, buf: &mut [u8]) {
    let len = buf.len() as u64;
    match rng.below(6) {
        0 => {
            let lie = match rng.below(4) {
                0 => len.wrapping_sub(1),
                1 => len + 1,
                2 => 0,
                _ => rng.next(),
            };
            write_at(buf, 20, &(lie as u16).to_be_bytes());
        }
        1 => {
            // One flag bit, or a mix of the defined reply bits (refusal block, report).
            let flags = if rng.one_in(2) { 1u16 << rng.below(16) } else { rng.below(8) as u16 };
            write_at(buf, 22, &flags.to_be_bytes());
        }
        2 => write_at(buf, 4, &[rng.below(4) as u8]),
        3 => write_at(buf, 5, &[rng.below(4) as u8]),
        4 => write_at(buf, 6, &[rng.below(3) as u8]),
        _ => {
            // name_len: around what is left, or anything.
            let left = len.saturating_sub(49);
            let lie = if rng.one_in(2) { left + rng.below(3) } else { rng.next() };
            write_at(buf, 48, &[lie as u8]);
        }
    }
}

fn garbage(rng: &mut XorShift, buf: &mut Vec<u8>, len: usize) {
    buf.clear();
    buf.resize(len, 0);
    rng.fill(buf);
}

/// Writes `bytes` at `at` if they fit; mutations on short buffers just skip.
fn write_at(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

fn rng_len(rng: &mut XorShift, min: usize, max: usize) -> usize {
    min + rng.below((max - min + 1) as u64) as usize
}

/// xorshift64*: tiny, fast, and identical on every platform.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so seeds 0, 1, 2 ... start far apart; never 0.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        XorShift((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` (0 when n is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            for (dst, src) in chunk.iter_mut().zip(self.next().to_le_bytes()) {
                *dst = src;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// One million inputs. A debug build runs this in a few seconds; the
    /// oversized cases (1 in 512) dominate the time.
    const ITERATIONS: u64 = 1_000_000;

    #[test]
    #[cfg_attr(feature = "planted-oob", ignore = "the planted bug makes this fail by design")]
    fn a_million_hostile_inputs_never_panic() {
        let started = Instant::now();
        let report = fuzz_decode(ITERATIONS, 0x6d63_6173);
        eprintln!("fuzz_decode({ITERATIONS}) took {:?}: {report:?}", started.elapsed());
        assert_eq!(report.panics, 0, "first panic input: {:?}", report.first_panic_input);
        assert_eq!(report.roundtrip_failures, 0);
        assert_eq!(report.total, ITERATIONS);
        assert_eq!(report.total, report.probes + report.replies + report.foreign + report.malformed);
        assert_eq!(report.malformed, report.malformed_by_reason.iter().sum::<u64>());
        assert!(report.probes > 0 && report.replies > 0 && report.foreign > 0);
        for reason in MalformedReason::ALL {
            assert!(report.malformed_by_reason.get(reason.index()).is_some_and(|&n| n > 0), "the generator never produced {}", reason.as_str());
        }
        assert!(report.is_clean());
    }

    #[test]
    fn same_seed_same_report() {
        assert_eq!(fuzz_decode(5_000, 7), fuzz_decode(5_000, 7));
        assert_ne!(fuzz_decode(5_000, 7), fuzz_decode(5_000, 8));
    }

    #[cfg(feature = "planted-oob")]
    #[test]
    fn the_planted_bug_is_found() {
        let report = fuzz_decode(100_000, 1);
        assert!(report.panics > 0, "{report:?}");
        assert_eq!(report.total, report.probes + report.replies + report.foreign + report.malformed + report.panics);
        let input = report.first_panic_input.unwrap_or_default();
        assert_eq!(input.get(..4), Some(&wire::MAGIC.to_be_bytes()[..]), "the planted bug is past the magic check");
        assert!(report.first_panic_message.unwrap_or_default().contains("index out of bounds"));
    }
}
