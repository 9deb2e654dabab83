//! Replay protection: remember accepted event ids for a window, in fixed
//! memory.
//!
//! A captured signed webhook can be resent verbatim; its signature stays
//! valid. [`ReplayGuard`] remembers every accepted event id until its window
//! ends and refuses a second copy inside it.
//!
//! # Design
//!
//! * **Storage from the caller.** The guard never allocates: its table is
//!   any [`Storage`] of [`Slot`]s (24 bytes each) the caller provides, as
//!   smoltcp's socket set takes its storage. An array, `[Slot::EMPTY; 64]`,
//!   lives inline, so a guard can sit in a `static` on a microcontroller
//!   ([`ReplayGuard::new`] is `const`); a host passes a boxed slice built on
//!   the heap, `vec![Slot::EMPTY; n].into_boxed_slice()`, and holds a
//!   million entries without ever building the table on a stack; a
//!   borrowed `&mut [Slot]` works too ([`ReplayGuard::with_storage`]). The
//!   capacity is the storage's length, fixed for the guard's life.
//! * **Fingerprints, not ids.** A slot stores a 128-bit SipHash-1-3 of the
//!   id under a 16-byte key ([`ReplayGuard::with_hash_key`]; the gate derives
//!   it from its secrets), whatever the id's length. SipHash is a keyed PRF,
//!   and about four times faster than SHA-256 on an id, which matters on the
//!   request path. Two distinct ids share a fingerprint only by a 128-bit
//!   collision: among a million live ids the chance of an accidental one is
//!   about 2^-89, and without the key nobody can aim for one. With a known
//!   key (a gate without secrets, which authenticates nobody anyway) a
//!   collision can at worst make the gate refuse one alert as a replay.
//!   Fingerprints are uniformly spread, so they index the table directly
//!   and a sender cannot aim ids at one bucket.
//! * **Open addressing, linear probing, no tombstones.** The digest picks a
//!   home slot; an id sits in the first free slot from there. Entries expire
//!   in place and are deleted by backward-shift deletion (Knuth's
//!   Algorithm R), which moves the rest of the cluster back so every probe
//!   chain stays gap-free and short: expired entries met while probing are
//!   deleted at once (at most four per call, since each deletion walks the
//!   rest of its cluster; beyond that an expired slot on the path is reused
//!   in place), and a cleaning hand looks at four more slots per insertion
//!   so expired entries no probe meets do not pile up. A bound on every
//!   entry's displacement from its home ends the search for an absent id
//!   early even when no slot is empty. An operation costs O(1) expected
//!   while the table is not close to full: size the storage at about twice
//!   the most ids live at once (rate limit × window). Measured with 4096
//!   slots and 1000 live ids: about 1550 slots occupied, under one slot to
//!   walk on average before an empty one. A power-of-two capacity finds an
//!   id's home slot with a mask rather than a division.
//! * **Fail closed.** A new id is only ever stored in an empty slot or one
//!   freed by expiry; a live entry is never evicted. When all `N` entries
//!   (`N` the capacity) are live the guard answers
//!   [`Rejection::ReplayCacheFull`]. Near or at full,
//!   one call may walk the whole table (O(N), never worse). Once a walk has
//!   found every entry live, later refusals skip it until the earliest entry
//!   expires, but the search for a duplicate still runs up to the largest
//!   displacement, which in a completely full table approaches N (measured
//!   at N = 2^18: about 0.25 ms per refusal, release build).
//! * **Monotonic clock.** The guard keeps the latest `now_ms` it was given
//!   and uses `max(now_ms, latest)` as the time. If the caller's clock steps
//!   back, the guard behaves as if time stood still: nothing expires early,
//!   nothing already expired comes back, and new entries are remembered for
//!   their window measured from the latest time. The outcome never depends
//!   on which expired entries happened to be deleted already.

use crate::error::{snippet, Rejection};

/// Expired entries deleted (by backward shift) per operation at most. Each
/// deletion costs the length of the rest of its cluster, which is tiny in a
/// table that is not near full; the budget keeps one call O(N) even when a
/// huge cluster has expired all at once.
const DELETE_BUDGET: usize = 4;

/// Slots the cleaning hand looks at per insertion.
const HAND_STEPS: usize = 4;

/// Digest stored per event id.
type Key = [u8; 16];

/// One slot of a guard's table (24 bytes): an id's fingerprint and when it
/// expires. Storage is built from [`Slot::EMPTY`]; only the guard fills it.
///
/// ```
/// use alertgate_validator::replay::{ReplayGuard, Slot, DEFAULT_HASH_KEY};
/// // Inline: a static on a microcontroller, or a small guard anywhere.
/// static GUARD: ReplayGuard<[Slot; 8]> = ReplayGuard::new();
/// assert_eq!(GUARD.capacity(), 8);
/// // On the heap, never on a stack: any size.
/// let slots = vec![Slot::EMPTY; 1 << 16].into_boxed_slice();
/// let guard = ReplayGuard::with_storage(slots, DEFAULT_HASH_KEY);
/// assert_eq!(guard.capacity(), 65_536);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    key: Key,
    /// `i64::MIN` = empty.
    expires_at: i64,
}

impl Slot {
    /// An empty slot. A stored entry always expires after the time it was
    /// stored at, which is at least `i64::MIN`, so this value never marks a
    /// real entry.
    pub const EMPTY: Slot = Slot {
        key: [0; 16],
        expires_at: i64::MIN,
    };

    const fn is_empty(&self) -> bool {
        self.expires_at == i64::MIN
    }
}

/// Outcome of looking a key up for insertion.
enum Probe {
    /// The key is stored and live.
    Live,
    /// The key is absent; a slot to store it in (empty, or expired) and its
    /// displacement from the key's home slot.
    Vacant((usize, usize)),
    /// The key is absent and every slot is occupied.
    NoVacancy,
}

/// A guard's table: slots it can index, read and write, whose number is
/// the guard's capacity. Implemented for every `AsRef<[Slot]> +
/// AsMut<[Slot]>`: `[Slot; N]`, `&mut [Slot]`, `&mut [Slot; N]`, and on
/// hosts `Box<[Slot]>` and `Vec<Slot>`. Both must give the same slice, whose
/// length must not change while a guard holds the storage (none of those
/// types can change it: the guard owns it or borrows it mutably).
pub trait Storage: AsRef<[Slot]> + AsMut<[Slot]> {}

impl<T: AsRef<[Slot]> + AsMut<[Slot]>> Storage for T {}

/// Empties every slot: one small loop for every storage type (inlined for
/// an array, it came out unrolled on a Cortex-M).
#[cfg_attr(target_os = "none", inline(never))]
fn clear(slots: &mut [Slot]) {
    slots.fill(Slot::EMPTY);
}

/// The hash key of [`ReplayGuard::new`]. Public, so only for guards whose
/// callers are all trusted or that authenticate nobody.
pub const DEFAULT_HASH_KEY: [u8; 16] = *b"alertgate-replay";

/// SipHash-1-3 with a 128-bit output of `event_id` under `hash_key`: the
/// same fingerprint as the `siphasher` crate's `SipHasher13` and
/// `finish128` (checked by a test), written out so the rounds are a loop.
/// The crate's hasher, unrolled for speed, is about 1.3 KiB of flash on a
/// Cortex-M; this is a third of that.
fn fingerprint(hash_key: &[u8; 16], event_id: &[u8]) -> Key {
    /// Little-endian word of up to 8 bytes, zero-extended.
    fn word(bytes: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        w[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(w)
    }
    // One copy of the rounds on an MCU (64-bit rotations are long there);
    // inlined on hosts, where this is on every accepted request's path.
    #[cfg_attr(target_os = "none", inline(never))]
    fn rounds(v: &mut [u64; 4], n: usize) {
        for _ in 0..n {
            v[0] = v[0].wrapping_add(v[1]);
            v[1] = v[1].rotate_left(13) ^ v[0];
            v[0] = v[0].rotate_left(32);
            v[2] = v[2].wrapping_add(v[3]);
            v[3] = v[3].rotate_left(16) ^ v[2];
            v[0] = v[0].wrapping_add(v[3]);
            v[3] = v[3].rotate_left(21) ^ v[0];
            v[2] = v[2].wrapping_add(v[1]);
            v[1] = v[1].rotate_left(17) ^ v[2];
            v[2] = v[2].rotate_left(32);
        }
    }
    fn compress(v: &mut [u64; 4], m: u64) {
        v[3] ^= m;
        rounds(v, 1);
        v[0] ^= m;
    }
    let (k0, k1) = (word(&hash_key[..8]), word(&hash_key[8..]));
    // The 128-bit variant starts from v1 ^ 0xee.
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f83,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut blocks = event_id.chunks_exact(8);
    for block in &mut blocks {
        compress(&mut v, word(block));
    }
    compress(
        &mut v,
        ((event_id.len() as u64 & 0xff) << 56) | word(blocks.remainder()),
    );
    v[2] ^= 0xee;
    rounds(&mut v, 3);
    let h1 = v[0] ^ v[1] ^ v[2] ^ v[3];
    v[1] ^= 0xdd;
    rounds(&mut v, 3);
    let h2 = v[0] ^ v[1] ^ v[2] ^ v[3];
    (u128::from(h1) | u128::from(h2) << 64).to_le_bytes()
}

/// Remembers accepted event ids for a window, in the fixed slots of its
/// storage `S` (see [`Storage`]).
///
/// See the [module docs](self) for the design and guarantees.
///
/// ```
/// use alertgate_validator::replay::{ReplayGuard, Slot};
/// static EMPTY: ReplayGuard<[Slot; 8]> = ReplayGuard::new(); // usable in a static
/// assert_eq!(EMPTY.capacity(), 8);
///
/// let mut guard = ReplayGuard::<[Slot; 1024]>::new();
/// let window = 60_000;
/// assert!(guard.try_insert(b"evt-1", 1_000, window).is_ok());
/// let again = guard.try_insert(b"evt-1", 2_000, window).unwrap_err();
/// assert_eq!(again.code(), "replayed");
/// assert!(guard.contains(b"evt-1", 60_999));
/// // After the window the id may be used again.
/// assert!(guard.try_insert(b"evt-1", 61_000, window).is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct ReplayGuard<S> {
    slots: S,
    /// Occupied slots (live, or expired and not yet deleted).
    len: usize,
    /// No occupied slot is further than this from its home slot.
    max_disp: usize,
    /// Latest time seen by [`ReplayGuard::try_insert`].
    clock: i64,
    /// When `len` is the capacity: no entry expires before this. Reset by every
    /// deletion.
    full_until: i64,
    /// Next slot the cleaning hand looks at.
    hand: usize,
    /// SipHash key of the fingerprints.
    hash_key: [u8; 16],
}

impl<const N: usize> Default for ReplayGuard<[Slot; N]> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ReplayGuard<[Slot; N]> {
    /// An empty guard of `N` inline slots hashing with
    /// [`DEFAULT_HASH_KEY`].
    pub const fn new() -> Self {
        Self::with_hash_key(DEFAULT_HASH_KEY)
    }

    /// An empty guard of `N` inline slots hashing ids under `hash_key`:
    /// keep it secret where untrusted senders choose event ids.
    pub const fn with_hash_key(hash_key: [u8; 16]) -> Self {
        Self::empty([Slot::EMPTY; N], hash_key)
    }
}

impl<S> ReplayGuard<S> {
    /// A guard over `slots`, which must all be empty.
    const fn empty(slots: S, hash_key: [u8; 16]) -> Self {
        ReplayGuard {
            hash_key,
            slots,
            len: 0,
            max_disp: 0,
            clock: i64::MIN,
            full_until: i64::MIN,
            hand: 0,
        }
    }
}

impl<S: Storage> ReplayGuard<S> {
    /// An empty guard over `storage` (every slot is emptied first, so
    /// storage a previous guard used may be passed again), hashing ids
    /// under `hash_key`: keep it secret where untrusted senders choose event
    /// ids. Its capacity is `storage`'s length.
    pub fn with_storage(mut storage: S, hash_key: [u8; 16]) -> Self {
        clear(storage.as_mut());
        Self::empty(storage, hash_key)
    }

    /// Most ids the guard can remember at once: its storage's length.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.as_ref().len()
    }

    #[inline]
    fn slots(&self) -> &[Slot] {
        self.slots.as_ref()
    }

    #[inline]
    fn slots_mut(&mut self) -> &mut [Slot] {
        self.slots.as_mut()
    }

    /// Home slot of a key in a table of `n > 0` slots.
    #[inline]
    fn home(key: &Key, n: usize) -> usize {
        let h = u64::from_le_bytes([
            key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
        ]);
        // The remainder is below n, so it fits a usize. For a power of two
        // it is a mask (folded away when `n` is a constant, as with arrays;
        // a test of one bit pattern otherwise, instead of a division).
        let n = n as u64;
        if n.is_power_of_two() {
            (h & (n - 1)) as usize
        } else {
            (h % n) as usize
        }
    }

    /// Next slot of a table of `n` slots, wrapping.
    #[inline]
    const fn next(i: usize, n: usize) -> usize {
        if i + 1 >= n {
            0
        } else {
            i + 1
        }
    }

    /// Forward distance from slot `a` to slot `b` (both `< n`).
    #[inline]
    const fn dist(a: usize, b: usize, n: usize) -> usize {
        if b >= a {
            b - a
        } else {
            n - a + b
        }
    }

    /// Deletes the entry in slot `hole` and shifts the rest of its cluster
    /// back so that every entry stays reachable from its home slot without
    /// crossing an empty slot. Returns how many slots after `hole` it
    /// examined; entries moved only within that range.
    fn remove_at(&mut self, hole: usize) -> usize {
        self.len -= 1;
        self.full_until = i64::MIN;
        let slots = self.slots_mut();
        let n = slots.len();
        let mut hole = hole;
        slots[hole] = Slot::EMPTY;
        let mut j = hole;
        let mut scanned = 0;
        loop {
            j = Self::next(j, n);
            scanned += 1;
            let s = slots[j];
            // Ends at the latest when `j` comes back round to the hole.
            if s.is_empty() {
                break;
            }
            // `s` may fill the hole if the hole lies between its home and
            // its slot, i.e. moving it keeps its chain unbroken.
            if Self::dist(Self::home(&s.key, n), j, n) >= Self::dist(hole, j, n) {
                // Empty `j` before filling the hole: copying `s` straight
                // from `j` to `hole` (or `slice::swap`) compiles to a
                // `memmove` call (the two slots might be the same one, as
                // far as the compiler knows), which links a 1.5 KiB
                // routine on a Cortex-M.
                slots[hole] = core::mem::replace(&mut slots[j], Slot::EMPTY);
                hole = j;
            }
        }
        if self.len == 0 {
            self.max_disp = 0;
        }
        scanned
    }

    /// Advances the cleaning hand over [`HAND_STEPS`] slots, deleting the
    /// expired entries it finds, so expired entries that no probe meets do
    /// not pile up: every slot is looked at every `N / HAND_STEPS` calls.
    fn tidy(&mut self, t: i64) {
        let n = self.capacity();
        for _ in 0..HAND_STEPS {
            let i = self.hand;
            let s = self.slots()[i];
            if !s.is_empty() && s.expires_at <= t {
                // Another entry may have moved into `i`: look again next time.
                self.remove_at(i);
            } else {
                self.hand = Self::next(i, n);
            }
        }
    }

    /// Looks `key` up at time `t` and finds where it would go.
    fn probe(&mut self, key: &Key, t: i64) -> Probe {
        let n = self.capacity();
        let home = Self::home(key, n);
        let mut i = home;
        let mut d = 0;
        let mut budget = DELETE_BUDGET;
        let mut reuse = None;
        // Phase 1: every slot where a live copy of the key may sit (within
        // `max_disp` of its home, before the first empty slot). Expired
        // entries met here are deleted while the budget lasts; after that
        // the first one is kept as the place to store the key.
        while d <= self.max_disp && d < n {
            let s = self.slots()[i];
            if s.is_empty() {
                return Probe::Vacant(reuse.unwrap_or((i, d)));
            }
            if s.expires_at <= t {
                if budget > 0 {
                    budget -= 1;
                    // Slot `i` now holds the next entry of the cluster (or
                    // is empty): look at it again. A live copy of the key
                    // lies ahead and moves back at most to `i`, unless the
                    // shift went round the table into the path already
                    // walked (it may then leave a hole there, or move an
                    // entry twice): in that case start over from home.
                    let scanned = self.remove_at(i);
                    if scanned >= n - d {
                        i = home;
                        d = 0;
                    }
                    continue;
                }
                if reuse.is_none() {
                    reuse = Some((i, d));
                }
            } else if s.key == *key {
                return Probe::Live;
            }
            i = Self::next(i, n);
            d += 1;
        }
        if let Some(slot) = reuse {
            return Probe::Vacant(slot);
        }
        // Phase 2: the key is absent and its search range is full of live
        // entries. Walk the whole cycle from home to the first empty or
        // expired slot; every slot before it is occupied, so the key stays
        // reachable there.
        if self.len == n && self.full_until > t {
            return Probe::NoVacancy;
        }
        let mut earliest = i64::MAX;
        let mut i = home;
        let slots = self.slots();
        for d in 0..n {
            let s = slots[i];
            if s.is_empty() || s.expires_at <= t {
                return Probe::Vacant((i, d));
            }
            earliest = earliest.min(s.expires_at);
            i = Self::next(i, n);
        }
        // All N entries are live; none frees before `earliest`.
        self.full_until = earliest;
        Probe::NoVacancy
    }

    /// Records `event_id` as accepted at `now_ms` for `window_ms`, unless it
    /// is already live.
    ///
    /// * A live entry for the id (expiring after the guard's time) →
    ///   [`Rejection::Replayed`].
    /// * Otherwise the id is stored until `time + window_ms` (saturating),
    ///   where `time` is `max(now_ms, latest now_ms seen)`. A window `<= 0`
    ///   accepts without storing anything: there is nothing to remember.
    /// * No empty or expired slot → [`Rejection::ReplayCacheFull`]; no live
    ///   entry is ever evicted.
    // Out of line on bare-metal targets: inlined into the gate, it came
    // out about 500 bytes larger on a Cortex-M.
    #[cfg_attr(target_os = "none", inline(never))]
    pub fn try_insert(
        &mut self,
        event_id: &[u8],
        now_ms: i64,
        window_ms: i64,
    ) -> Result<(), Rejection> {
        let t = now_ms.max(self.clock);
        self.clock = t;
        let expires_at = t.saturating_add(window_ms);
        let n = self.capacity();
        let full = Rejection::ReplayCacheFull { capacity: n };
        if n == 0 {
            return if expires_at > t { Err(full) } else { Ok(()) };
        }
        self.tidy(t);
        let key = fingerprint(&self.hash_key, event_id);
        match self.probe(&key, t) {
            Probe::Live => Err(Rejection::Replayed {
                event_id: snippet(event_id),
            }),
            _ if expires_at <= t => Ok(()),
            Probe::NoVacancy => Err(full),
            Probe::Vacant((i, d)) => {
                if self.slots()[i].is_empty() {
                    self.len += 1;
                } else {
                    // Overwriting an expired entry.
                    self.full_until = i64::MIN;
                }
                self.slots_mut()[i] = Slot { key, expires_at };
                self.max_disp = self.max_disp.max(d);
                Ok(())
            }
        }
    }

    /// Forgets `event_id` (live or expired): used when an acceptance is
    /// withdrawn after the fact, e.g. a shared replay store could not
    /// confirm it, so a retry is not refused as a replay of an alert that
    /// never took effect. Returns whether an entry was removed.
    pub fn forget(&mut self, event_id: &[u8]) -> bool {
        let n = self.capacity();
        if n == 0 {
            return false;
        }
        let key = fingerprint(&self.hash_key, event_id);
        let mut i = Self::home(&key, n);
        for _ in 0..=self.max_disp.min(n - 1) {
            let s = self.slots()[i];
            if s.is_empty() {
                return false;
            }
            if s.key == key {
                // Backward-shift deletion keeps every other chain intact,
                // and never moves an entry further from its home, so
                // `max_disp` stays a valid bound.
                self.remove_at(i);
                return true;
            }
            i = Self::next(i, n);
        }
        false
    }

    /// Whether `event_id` is remembered and live at `now_ms` (or at the
    /// latest time seen, if later). Read-only; O(1) expected.
    pub fn contains(&self, event_id: &[u8], now_ms: i64) -> bool {
        let slots = self.slots();
        let n = slots.len();
        if n == 0 {
            return false;
        }
        let t = now_ms.max(self.clock);
        let key = fingerprint(&self.hash_key, event_id);
        let mut i = Self::home(&key, n);
        for _ in 0..=self.max_disp.min(n - 1) {
            let s = slots[i];
            if s.is_empty() {
                return false;
            }
            if s.key == key && s.expires_at > t {
                return true;
            }
            i = Self::next(i, n);
        }
        false
    }

    /// Number of live entries at `now_ms` (or at the latest time seen, if
    /// later). O(capacity): meant for metrics, not the request path.
    pub fn live(&self, now_ms: i64) -> usize {
        let t = now_ms.max(self.clock);
        self.slots()
            .iter()
            .filter(|s| !s.is_empty() && s.expires_at > t)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::vec::Vec;

    proptest! {
        #[test]
        fn fingerprint_is_siphash13_128(
            key in any::<[u8; 16]>(),
            id in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            use core::hash::Hasher;
            use siphasher::sip128::{Hasher128, SipHasher13};
            let mut reference = SipHasher13::new_with_key(&key);
            reference.write(&id);
            prop_assert_eq!(fingerprint(&key, &id), reference.finish128().as_bytes());
        }
    }

    #[test]
    fn fingerprint_every_tail_length() {
        use core::hash::Hasher;
        use siphasher::sip128::{Hasher128, SipHasher13};
        let id: Vec<u8> = (0u8..=255).collect();
        for len in 0..=id.len() {
            let mut reference = SipHasher13::new_with_key(&DEFAULT_HASH_KEY);
            reference.write(&id[..len]);
            assert_eq!(
                fingerprint(&DEFAULT_HASH_KEY, &id[..len]),
                reference.finish128().as_bytes(),
                "{len}"
            );
        }
    }

    /// Checks the table's structural invariants.
    fn check_invariants<S: Storage>(g: &ReplayGuard<S>) {
        let slots = g.slots();
        let n = slots.len();
        let occupied = slots.iter().filter(|s| !s.is_empty()).count();
        assert_eq!(g.len, occupied);
        let mut live_keys = std::collections::HashSet::new();
        for (j, s) in slots.iter().enumerate() {
            if s.is_empty() {
                continue;
            }
            let h = ReplayGuard::<S>::home(&s.key, n);
            let d = ReplayGuard::<S>::dist(h, j, n);
            assert!(d <= g.max_disp, "displacement {d} > bound {}", g.max_disp);
            // Gap-free chain from the home slot.
            let mut i = h;
            while i != j {
                assert!(!slots[i].is_empty(), "gap in chain");
                i = ReplayGuard::<S>::next(i, n);
            }
            // At most one live entry per key (an expired copy may linger).
            if s.expires_at > g.clock {
                assert!(live_keys.insert(s.key), "two live entries for one key");
            }
        }
        if g.len == n && g.full_until != i64::MIN {
            assert!(slots.iter().all(|s| s.expires_at >= g.full_until));
        }
    }

    #[test]
    fn size_is_slots_plus_a_little() {
        assert_eq!(core::mem::size_of::<Slot>(), 24);
        let size = core::mem::size_of::<ReplayGuard<[Slot; 64]>>();
        // Three counters, two timestamps and the 16-byte hash key besides
        // the slots: 1592 bytes on a 64-bit host, 1584 on a 32-bit
        // microcontroller.
        let extra = 3 * core::mem::size_of::<usize>() + 16 + 16;
        assert_eq!(size, (64 * 24 + extra).next_multiple_of(8));
    }

    #[test]
    fn forget_withdraws_one_entry_and_keeps_the_others() {
        let mut g = ReplayGuard::<[Slot; 4]>::new();
        for id in [&b"a"[..], b"b", b"c", b"d"] {
            g.try_insert(id, 0, 1000).unwrap();
        }
        assert_eq!(
            g.try_insert(b"e", 0, 1000).unwrap_err().code(),
            "replay_cache_full"
        );
        assert!(g.forget(b"b"));
        assert!(!g.forget(b"b"));
        assert!(!g.forget(b"zz"));
        check_invariants(&g);
        // Every other entry is still found; the freed slot takes a new one.
        for id in [&b"a"[..], b"c", b"d"] {
            assert!(g.contains(id, 1));
        }
        assert!(!g.contains(b"b", 1));
        g.try_insert(b"b", 1, 1000).unwrap();
        assert_eq!(g.try_insert(b"a", 2, 1000).unwrap_err().code(), "replayed");
        check_invariants(&g);
    }

    #[test]
    fn basic_flow() {
        let mut g = ReplayGuard::<[Slot; 4]>::new();
        assert_eq!(g.live(0), 0);
        assert!(g.try_insert(b"a", 0, 100).is_ok());
        assert_eq!(
            g.try_insert(b"a", 50, 100),
            Err(Rejection::Replayed {
                event_id: snippet(b"a")
            })
        );
        assert!(g.contains(b"a", 99));
        assert!(!g.contains(b"a", 100));
        assert!(!g.contains(b"b", 0));
        assert!(g.try_insert(b"b", 50, 100).is_ok());
        assert!(g.try_insert(b"c", 50, 100).is_ok());
        assert!(g.try_insert(b"d", 50, 100).is_ok());
        assert_eq!(g.live(50), 4);
        assert_eq!(
            g.try_insert(b"e", 50, 100),
            Err(Rejection::ReplayCacheFull { capacity: 4 })
        );
        // Replayed takes precedence over full.
        assert_eq!(g.try_insert(b"d", 50, 100).unwrap_err().code(), "replayed");
        // "a" expires at 100 and frees a slot.
        assert_eq!(
            g.try_insert(b"e", 99, 100).unwrap_err().code(),
            "replay_cache_full"
        );
        assert!(g.try_insert(b"e", 100, 100).is_ok());
        // Full again (b, c, d, e live) until b, c, d expire at 150.
        assert_eq!(
            g.try_insert(b"a", 149, 100).unwrap_err().code(),
            "replay_cache_full"
        );
        assert_eq!(g.try_insert(b"a", 150, 100), Ok(()));
        assert_eq!(g.live(150), 2);
        check_invariants(&g);
    }

    #[test]
    fn clock_going_backwards_neither_resurrects_nor_forgets() {
        let mut g = ReplayGuard::<[Slot; 8]>::new();
        g.try_insert(b"old", 0, 100).unwrap();
        g.try_insert(b"new", 1_000, 100).unwrap();
        // "old" has expired at 1000; stepping back does not revive it.
        assert!(!g.contains(b"old", 50));
        assert!(g.try_insert(b"old", 50, 100).is_ok());
        // The re-insert at 50 counts from the guard's time (1000).
        assert!(g.contains(b"old", 1_099));
        assert!(!g.contains(b"old", 1_100));
        // "new" is still live, even when asked about a time before it.
        assert!(g.contains(b"new", 0));
        assert!(g.try_insert(b"new", i64::MIN, 100).is_err());
        assert_eq!(g.live(i64::MIN), 2);
        check_invariants(&g);
    }

    #[test]
    fn windows_and_extremes() {
        let mut g = ReplayGuard::<[Slot; 2]>::new();
        // Non-positive windows accept without storing.
        assert!(g.try_insert(b"x", 0, 0).is_ok());
        assert!(g.try_insert(b"x", 0, -5).is_ok());
        assert!(g.try_insert(b"x", 0, i64::MIN).is_ok());
        assert_eq!(g.live(0), 0);
        // Saturating expiry: remembered "forever".
        assert!(g.try_insert(b"x", i64::MAX - 1, i64::MAX).is_ok());
        assert!(g.contains(b"x", i64::MAX - 1));
        assert!(g.try_insert(b"x", i64::MAX - 1, 1).is_err());
        // At i64::MAX nothing can be live any more.
        assert!(g.try_insert(b"x", i64::MAX, i64::MAX).is_ok());
        assert_eq!(g.live(i64::MAX), 0);
        let mut g = ReplayGuard::<[Slot; 2]>::new();
        assert!(g.try_insert(b"y", i64::MIN, 1).is_ok());
        assert!(g.try_insert(b"y", i64::MIN, 1).is_err());
        assert!(g.try_insert(b"y", i64::MIN + 1, 1).is_ok());
        // Capacity 0: fail closed unless there is nothing to remember.
        let mut z = ReplayGuard::<[Slot; 0]>::new();
        assert_eq!(z.capacity(), 0);
        assert_eq!(
            z.try_insert(b"a", 0, 1),
            Err(Rejection::ReplayCacheFull { capacity: 0 })
        );
        assert!(z.try_insert(b"a", 0, 0).is_ok());
        assert!(!z.contains(b"a", 0));
        assert_eq!(z.live(0), 0);
    }

    #[test]
    fn long_ids_are_fine() {
        let mut g = ReplayGuard::<[Slot; 4]>::new();
        let long = [b'z'; 10_000];
        g.try_insert(&long, 0, 10).unwrap();
        match g.try_insert(&long, 1, 10) {
            Err(Rejection::Replayed { event_id }) => assert!(event_id.ends_with("...")),
            other => panic!("{other:?}"),
        }
        let mut other = long;
        other[9_999] = b'y';
        assert!(g.try_insert(&other, 1, 10).is_ok());
    }

    /// Reference behaviour: a map from id to expiry and the capacity rule.
    struct Model {
        map: HashMap<Vec<u8>, i64>,
        clock: i64,
        cap: usize,
    }

    impl Model {
        fn try_insert(&mut self, id: &[u8], now: i64, window: i64) -> Result<(), Rejection> {
            let t = now.max(self.clock);
            self.clock = t;
            // The clock never goes back, so expired ids can be forgotten.
            self.map.retain(|_, e| *e > t);
            if self.map.get(id).is_some_and(|&e| e > t) {
                return Err(Rejection::Replayed {
                    event_id: snippet(id),
                });
            }
            let e = t.saturating_add(window);
            if e <= t {
                return Ok(());
            }
            if self.live(t) >= self.cap {
                return Err(Rejection::ReplayCacheFull { capacity: self.cap });
            }
            self.map.insert(id.to_vec(), e);
            Ok(())
        }

        fn live(&self, now: i64) -> usize {
            let t = now.max(self.clock);
            self.map.values().filter(|&&e| e > t).count()
        }

        fn contains(&self, id: &[u8], now: i64) -> bool {
            let t = now.max(self.clock);
            self.map.get(id).is_some_and(|&e| e > t)
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert { id: u8, dt: i64, window: i64 },
        Contains { id: u8, dt: i64 },
        Live { dt: i64 },
    }

    fn dt() -> impl Strategy<Value = i64> {
        prop_oneof![
            6 => 0i64..4,
            2 => 0i64..60,
            1 => -80i64..0,
        ]
    }

    fn window() -> impl Strategy<Value = i64> {
        prop_oneof![
            8 => 1i64..200,
            1 => -3i64..=0,
            1 => Just(i64::MAX),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0u8..24, dt(), window()).prop_map(|(id, dt, window)| Op::Insert { id, dt, window }),
            2 => (0u8..24, dt()).prop_map(|(id, dt)| Op::Contains { id, dt }),
            1 => dt().prop_map(|dt| Op::Live { dt }),
        ]
    }

    fn run<const N: usize>(start: i64, ops: &[Op]) -> Result<(), TestCaseError> {
        run_on(ReplayGuard::<[Slot; N]>::new(), start, ops)
    }

    fn run_on<S: Storage>(
        mut g: ReplayGuard<S>,
        start: i64,
        ops: &[Op],
    ) -> Result<(), TestCaseError> {
        let n = g.capacity();
        let mut m = Model {
            map: HashMap::new(),
            clock: i64::MIN,
            cap: n,
        };
        let mut now = start;
        for (step, op) in ops.iter().enumerate() {
            match *op {
                Op::Insert { id, dt, window } => {
                    now = now.saturating_add(dt);
                    let id = [b'i', b'd', id];
                    let was_live = m.contains(&id, now);
                    let got = g.try_insert(&id, now, window);
                    prop_assert_eq!(
                        &got,
                        &m.try_insert(&id, now, window),
                        "N={} step {}",
                        n,
                        step
                    );
                    // Never accept a duplicate inside its window.
                    prop_assert!(!(was_live && got.is_ok()));
                }
                Op::Contains { id, dt } => {
                    now = now.saturating_add(dt);
                    let id = [b'i', b'd', id];
                    prop_assert_eq!(
                        g.contains(&id, now),
                        m.contains(&id, now),
                        "N={} step {}",
                        n,
                        step
                    );
                }
                Op::Live { dt } => {
                    now = now.saturating_add(dt);
                    prop_assert_eq!(g.live(now), m.live(now), "N={} step {}", n, step);
                }
            }
            check_invariants(&g);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn matches_model(
            start in prop_oneof![Just(0i64), any::<i64>(), Just(i64::MAX - 500), Just(i64::MIN)],
            ops in proptest::collection::vec(op(), 1..160),
        ) {
            run::<0>(start, &ops)?;
            run::<1>(start, &ops)?;
            run::<2>(start, &ops)?;
            run::<3>(start, &ops)?;
            run::<4>(start, &ops)?;
            run::<5>(start, &ops)?;
            run::<6>(start, &ops)?;
            run::<7>(start, &ops)?;
            run::<8>(start, &ops)?;
            run::<9>(start, &ops)?;
            run::<10>(start, &ops)?;
            run::<11>(start, &ops)?;
            run::<12>(start, &ops)?;
            run::<13>(start, &ops)?;
            run::<14>(start, &ops)?;
            run::<15>(start, &ops)?;
            run::<16>(start, &ops)?;
        }

        /// Storage on the heap or borrowed behaves as inline storage of the
        /// same length.
        #[test]
        fn any_storage_matches_model(
            start in prop_oneof![Just(0i64), any::<i64>(), Just(i64::MAX - 500), Just(i64::MIN)],
            ops in proptest::collection::vec(op(), 1..160),
            n in 0usize..=17,
        ) {
            let boxed = std::vec![Slot::EMPTY; n].into_boxed_slice();
            run_on(ReplayGuard::with_storage(boxed, DEFAULT_HASH_KEY), start, &ops)?;
            let mut slots = std::vec![Slot::EMPTY; n];
            run_on(ReplayGuard::with_storage(slots.as_mut_slice(), DEFAULT_HASH_KEY), start, &ops)?;
            // Storage a guard has used is emptied for the next one.
            run_on(ReplayGuard::with_storage(slots.as_mut_slice(), DEFAULT_HASH_KEY), start, &ops)?;
        }
    }

    #[test]
    fn storage_is_emptied_and_keyed_like_an_array() {
        let mut array = ReplayGuard::<[Slot; 5]>::with_hash_key([7; 16]);
        let mut slots = std::vec![Slot::EMPTY; 5];
        for round in 0..2 {
            let mut borrowed = ReplayGuard::with_storage(&mut slots[..], [7; 16]);
            assert_eq!(borrowed.capacity(), 5);
            assert_eq!(borrowed.live(0), 0, "round {round}");
            for id in [&b"a"[..], b"b", b"c"] {
                borrowed.try_insert(id, 0, 100).unwrap();
                if round == 0 {
                    array.try_insert(id, 0, 100).unwrap();
                }
            }
            check_invariants(&borrowed);
        }
        // Same key, same length: the same table, slot for slot.
        assert_eq!(&slots[..], &array.slots[..]);
    }

    #[test]
    fn a_million_slots_on_the_heap_from_a_test_thread() {
        // 24 MiB of slots: built and used on the heap, never on the stack.
        let slots = std::vec![Slot::EMPTY; 1 << 20].into_boxed_slice();
        let mut g = ReplayGuard::with_storage(slots, DEFAULT_HASH_KEY);
        assert_eq!(g.capacity(), 1 << 20);
        for k in 0..10_000u64 {
            g.try_insert(&k.to_le_bytes(), 0, 1_000).unwrap();
        }
        assert_eq!(
            g.try_insert(&7u64.to_le_bytes(), 1, 1_000)
                .unwrap_err()
                .code(),
            "replayed"
        );
        assert_eq!(g.live(1), 10_000);
        assert!(g.max_disp < 8, "max displacement {}", g.max_disp);
    }

    #[test]
    fn large_table_stays_fast_and_exact() {
        // 4096 slots, ~500 live ids at a time, 60k insertions: checks the
        // model at scale and that deletion keeps probe chains short.
        const N: usize = 1 << 12;
        large_table(&mut std::boxed::Box::new(ReplayGuard::<[Slot; N]>::new()));
        // The same on the heap, where the capacity is not a constant.
        let slots = std::vec![Slot::EMPTY; N].into_boxed_slice();
        large_table(&mut ReplayGuard::with_storage(slots, DEFAULT_HASH_KEY));
    }

    fn large_table<S: Storage>(g: &mut ReplayGuard<S>) {
        const N: usize = 1 << 12;
        assert_eq!(g.capacity(), N);
        let mut m = Model {
            map: HashMap::new(),
            clock: i64::MIN,
            cap: N,
        };
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut replayed = 0;
        for t in 0..60_000i64 {
            let id = (rand() % 20_000).to_le_bytes();
            let got = g.try_insert(&id, t, 500);
            replayed += usize::from(got.is_err());
            assert_eq!(got, m.try_insert(&id, t, 500));
            if t % 4096 == 0 {
                assert_eq!(g.live(t), m.live(t));
                check_invariants(g);
                assert!(g.max_disp < 32, "max displacement {}", g.max_disp);
                assert!(g.len < N / 3, "occupancy {}", g.len);
            }
        }
        assert!(replayed > 100, "some random ids repeat inside the window");
        // Now overfill: 5000 distinct ids with a long window.
        let mut full = 0;
        for k in 0..5_000u64 {
            let id = (1_000_000 + k).to_le_bytes();
            match g.try_insert(&id, 100_000, 1_000_000) {
                Ok(()) => {}
                Err(Rejection::ReplayCacheFull { capacity: N }) => full += 1,
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(full, 5_000 - N);
        assert_eq!(g.live(100_000), N);
        check_invariants(g);
        // Every remembered id is still found; duplicates are still caught.
        let mut remembered = 0;
        for k in 0..5_000u64 {
            let id = (1_000_000 + k).to_le_bytes();
            let inside = g.contains(&id, 100_001);
            remembered += usize::from(inside);
            let got = g.try_insert(&id, 100_001, 1_000_000).unwrap_err();
            assert_eq!(
                got.code(),
                if inside {
                    "replayed"
                } else {
                    "replay_cache_full"
                }
            );
        }
        assert_eq!(remembered, N);
        // Once the window passes, the table empties on demand.
        assert!(g.try_insert(b"later", 1_100_000, 10).is_ok());
        assert_eq!(g.live(1_100_000), 1);
        check_invariants(g);
    }
}
