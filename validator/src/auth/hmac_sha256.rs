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
//! - A tag hashes the message where it lies, in its pieces, from those
//!   chaining values ([`crate::hash::Padded`]: a block inside one piece is
//!   compressed in place, only the blocks that straddle pieces or hold the
//!   padding are assembled), then the outer hash's single block.
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
        // Inner hash: the message after the key block.
        let inner = Padded::new(parts, BLOCK).finish(self.inner);
        // Outer hash: one block, the key block and the 32-byte inner
        // digest before the padding.
        let mut block = [0u8; BLOCK];
        block[..32].copy_from_slice(&inner);
        block[32] = 0x80;
        block[BLOCK - 8..].copy_from_slice(&(((BLOCK + 32) * 8) as u64).to_be_bytes());
        let mut state = self.outer;
        compress(&mut state, &block);
        digest_of(&state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::tests::hex;
    use hmac::{Hmac, Mac};
    use proptest::prelude::*;

    fn reference(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
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
        }
    }
}
