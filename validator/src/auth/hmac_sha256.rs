//! HMAC-SHA256 (RFC 2104), pre-keyed, on `sha2::compress256`.
//!
//! Why not `hmac::Hmac<sha2::Sha256>`: flash on Cortex-M. The generic
//! `hmac`/`digest`/`block-buffer` layers (a buffered core per direction,
//! generic over the hash, with lazy/eager block buffers) cost about 2 KiB of
//! code in the footprint firmware, more than the compression function they
//! wrap. HMAC-SHA256 needs much less:
//!
//! - [`HmacSha256::new`] hashes the key block XOR `ipad` and XOR `opad` once
//!   and keeps only the two chaining values (2 × 32 bytes, against 152 for
//!   `Hmac<Sha256>`): "cloning" the pre-keyed MAC per request is copying
//!   eight words.
//! - A tag is computed by [`PendingTag`] from those chaining values, a
//!   block at a time, reading the message where it lies (no buffering
//!   layer, see [`crate::hash::Padded`]): the gate spreads its blocks over
//!   the body check.
//!
//! The compression function is still `sha2`'s: on x86/x86_64 (SHA-NI) and
//! aarch64 it picks the hardware instructions at run time, and with the
//! `compact-sha256` feature it is the small rolled loop. Every branch here
//! depends on lengths only, never on key or message bytes. Tested against
//! the `hmac` crate and RFC 4231.

use crate::hash::{compress, digest_of, sha256, Padded, BLOCK, IV};

/// HMAC-SHA256 keyed once: the chaining values after the key block XOR
/// `ipad` and after the key block XOR `opad`.
///
/// Holds no key bytes. `Clone` is a 64-byte copy; [`HmacSha256::tag`]
/// does not mutate, so one value serves any number of requests.
#[derive(Clone)]
pub(crate) struct HmacSha256 {
    /// State of the inner hash after `K ^ ipad`.
    inner: [u32; 8],
    /// State of the outer hash after `K ^ opad`.
    outer: [u32; 8],
}

impl HmacSha256 {
    /// Pre-keys the MAC with `key` (any length; one longer than the block is
    /// hashed first, RFC 2104 §2).
    pub(crate) fn new(key: &[u8]) -> Self {
        let digest;
        let key = if key.len() > BLOCK {
            digest = sha256(&[key]);
            &digest[..]
        } else {
            key
        };
        // The key, zero-padded to a block, XOR ipad; then XOR opad. (Not
        // `[0x36; 64]`: that would link a `memset` for this one use.)
        let mut block = [0u8; BLOCK];
        for (b, k) in block.iter_mut().zip(key) {
            *b = *k;
        }
        for b in &mut block {
            *b ^= 0x36;
        }
        let mut inner = IV;
        compress(&mut inner, &block);
        for b in &mut block {
            *b ^= 0x36 ^ 0x5c;
        }
        let mut outer = IV;
        compress(&mut outer, &block);
        HmacSha256 { inner, outer }
    }

    /// The tag of the concatenation of `parts`.
    pub(crate) fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        PendingTag::new(self, parts).finish()
    }
}

/// One tag being computed a block at a time, so that a caller can spread
/// the compressions over other work ([`PendingTag::step`]) and take the tag
/// once it needs it ([`PendingTag::finish`]).
///
/// Why: on a host with SHA instructions one compression is a chain of
/// dependent rounds (about 30 ns on the bench machine) that leaves most of
/// the core idle. Issued between pieces of independent work (the gate
/// parses and checks the body meanwhile), the rounds run in the shadow of
/// that work instead of before it. The message is read where it lies: a
/// block inside one part is compressed in place, only blocks that straddle
/// parts or hold the padding are assembled.
pub(crate) struct PendingTag<'m> {
    /// Inner chaining value; after the inner hash, the outer one.
    state: [u32; 8],
    /// Outer hash's chaining value after `K ^ opad`.
    outer: [u32; 8],
    /// The inner hash's message, after the key block.
    message: Padded<'m>,
    /// Its blocks compressed so far; one more than their number once the
    /// outer block is done too.
    done: usize,
}

impl<'m> PendingTag<'m> {
    /// Starts the tag of the concatenation of `parts` under `mac`; no block
    /// is compressed yet.
    #[inline]
    pub(crate) fn new(mac: &HmacSha256, parts: &'m [&'m [u8]]) -> Self {
        PendingTag {
            state: mac.inner,
            outer: mac.outer,
            message: Padded::new(parts, BLOCK),
            done: 0,
        }
    }

    /// Compresses the next block, if one is left: the next block of the
    /// inner hash, then the outer hash's only block.
    #[inline]
    pub(crate) fn step(&mut self) {
        let inner = self.message.blocks();
        if self.done < inner {
            self.message.compress(&mut self.state, self.done);
        } else if self.done == inner {
            // The outer hash of the inner digest: one block (the key block
            // and 32 bytes before the padding).
            let mut block = [0u8; BLOCK];
            block[..32].copy_from_slice(&digest_of(&self.state));
            block[32] = 0x80;
            block[BLOCK - 8..].copy_from_slice(&(((BLOCK + 32) * 8) as u64).to_be_bytes());
            self.state = self.outer;
            compress(&mut self.state, &block);
        } else {
            return;
        }
        self.done += 1;
    }

    /// Compresses what is left and returns the tag. (One copy on
    /// bare-metal targets.)
    #[cfg_attr(target_os = "none", inline(never))]
    pub(crate) fn finish(mut self) -> [u8; 32] {
        for _ in self.done..=self.message.blocks() {
            self.step();
        }
        digest_of(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use proptest::prelude::*;

    fn reference(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc4231_vectors() {
        // (key, data, HMAC-SHA-256) of RFC 4231 §4.2–4.8 (case 5's tag is
        // truncated to 128 bits there, so it is compared as a prefix).
        let long_key = vec![0xaa; 131];
        let cases: [(Vec<u8>, Vec<u8>, &str); 7] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                "a3b6167473100ee06e0c796c2955552b",
            ),
            (
                long_key.clone(),
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                long_key,
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, expect) in &cases {
            let tag = HmacSha256::new(key).tag(&[data]);
            let expect = hex(expect);
            assert_eq!(&tag[..expect.len()], &expect[..], "{expect:02x?}");
        }
    }

    #[test]
    fn every_key_and_message_length_around_the_block() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        for key_len in [0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200] {
            let key = &bytes[..key_len];
            let mac = HmacSha256::new(key);
            for msg_len in 0..=200 {
                let msg = &bytes[..msg_len];
                assert_eq!(
                    mac.tag(&[msg]),
                    reference(key, &[msg]),
                    "{key_len} {msg_len}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn matches_the_hmac_crate(
            key in proptest::collection::vec(any::<u8>(), 0..200),
            msg in proptest::collection::vec(any::<u8>(), 0..400),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            // `msg` split at arbitrary points (empty pieces included).
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (msg.len() + 1)).collect();
            cuts.sort_unstable();
            let mut parts: Vec<&[u8]> = Vec::new();
            let mut start = 0;
            for c in cuts {
                parts.push(&msg[start..c]);
                start = c;
            }
            parts.push(&msg[start..]);
            let mac = HmacSha256::new(&key);
            let tag = mac.clone().tag(&parts);
            prop_assert_eq!(tag, reference(&key, &[&msg]));
            prop_assert_eq!(tag, reference(&key, &parts));
            // Pre-keyed state is reusable.
            prop_assert_eq!(mac.tag(&[&msg]), tag);
            // Any number of blocks compressed ahead, then the rest.
            for ahead in 0..=(msg.len() + 9).div_ceil(BLOCK) + 2 {
                let mut pending = PendingTag::new(&mac, &parts);
                for _ in 0..ahead {
                    pending.step();
                }
                prop_assert_eq!(pending.finish(), tag, "{} steps ahead", ahead);
            }
        }
    }
}
