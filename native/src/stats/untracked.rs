//! What did not fit in a fixed-size table (senders, responders, probers,
//! clients): packets and bytes, and how many distinct keys they came from,
//! so totals always add up. The set of keys is bounded too: beyond
//! `MAX_KEYS` distinct untracked keys, `senders` stops growing and
//! `senders_capped` says it is a lower bound.

use std::collections::HashSet;
use std::hash::Hash;

/// Distinct untracked keys remembered (about 3 MiB at most).
pub const MAX_KEYS: usize = 65_536;

#[derive(Debug)]
pub struct Untracked<K> {
    pub packets: u64,
    pub bytes: u64,
    keys: HashSet<K>,
    capped: bool,
}

impl<K> Default for Untracked<K> {
    fn default() -> Self {
        Untracked { packets: 0, bytes: 0, keys: HashSet::new(), capped: false }
    }
}

impl<K: Hash + Eq> Untracked<K> {
    /// One datagram of `bytes` from `key`, which has no row of its own.
    pub fn note(&mut self, key: K, bytes: usize) {
        self.packets = self.packets.saturating_add(1);
        self.bytes = self.bytes.saturating_add(bytes as u64);
        if !self.keys.contains(&key) {
            if self.keys.len() < MAX_KEYS {
                self.keys.insert(key);
            } else {
                self.capped = true;
            }
        }
    }

    pub fn senders(&self) -> usize {
        self.keys.len()
    }

    /// Keys matching `f` (e.g. one group's senders).
    pub fn senders_where(&self, f: impl Fn(&K) -> bool) -> usize {
        self.keys.iter().filter(|k| f(k)).count()
    }

    /// The counts without the keys, for a snapshot.
    pub fn view(&self) -> UntrackedView {
        UntrackedView { packets: self.packets, bytes: self.bytes, senders: self.keys.len(), senders_capped: self.capped }
    }
}

/// What a snapshot shows of an `Untracked` table.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UntrackedView {
    pub packets: u64,
    pub bytes: u64,
    /// Distinct keys; a lower bound when `senders_capped`.
    pub senders: usize,
    pub senders_capped: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_packets_and_distinct_keys_up_to_the_cap() {
        let mut u = Untracked::default();
        for k in 0..(MAX_KEYS as u32 + 10) {
            u.note(k, 100);
            u.note(k, 100);
        }
        assert_eq!(u.packets, 2 * (MAX_KEYS as u64 + 10));
        assert_eq!(u.bytes, 200 * (MAX_KEYS as u64 + 10));
        assert_eq!(u.senders(), MAX_KEYS);
        assert!(u.capped);
        assert_eq!(u.senders_where(|k| *k < 10), 10);
    }
}
