//! SHA-256 of a message in pieces, on `sha2`'s compression function.
//!
//! `sha2::Sha256` (the `digest` traits and `block-buffer` around the
//! compression function) is about half a KiB of buffering and padding code
//! on a Cortex-M, and cannot start from a given chaining value, which the
//! pre-keyed HMAC-SHA256 of [`crate::auth`] needs. Every message this crate
//! hashes is already in memory, in a few pieces (a label and a secret; a
//! timestamp, a `.` and a body), so there is nothing to stream: [`Padded`]
//! names block `i` of the padded message and compresses it, in place when
//! one piece holds the whole block, assembled otherwise. It serves the
//! gate's digests (body ids, the replay key, configured passphrases)
//! through [`sha256`] and the HMAC's inner hash. The one message that is
//! not in memory as such, a presented passphrase whose JSON escapes are
//! decoded as it is hashed, goes through `sha256_bytes`, a byte at a time. The compression function is still
//! `sha2`'s: SHA-NI/ARMv8 instructions on hosts that have them (picked at
//! run time), the rolled loop with `compact-sha256`.

use sha2::digest::generic_array::GenericArray;

/// SHA-256 block size, bytes.
pub(crate) const BLOCK: usize = 64;

/// SHA-256's initial chaining value (FIPS 180-4 §5.3.3).
pub(crate) const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// One compression of `block` into `state`.
#[inline]
pub(crate) fn compress(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    sha2::compress256(
        state,
        core::slice::from_ref(GenericArray::from_slice(block)),
    );
}

/// A chaining value as digest bytes (big-endian words).
#[inline]
pub(crate) fn digest_of(state: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// The SHA-256 padding of the concatenation of `parts`: the message,
/// `0x80`, zeros and the 64-bit bit length, in whole blocks.
#[derive(Clone, Copy)]
pub(crate) struct Padded<'m> {
    /// The message, in pieces.
    parts: &'m [&'m [u8]],
    /// Message length, bytes.
    len: usize,
    /// Bytes compressed before the message (the HMAC key block), counted
    /// in the length.
    before: usize,
}

impl<'m> Padded<'m> {
    /// The padded concatenation of `parts`, to follow `before` bytes (a
    /// multiple of [`BLOCK`]) already compressed into the state.
    #[inline]
    pub(crate) fn new(parts: &'m [&'m [u8]], before: usize) -> Self {
        Padded {
            parts,
            len: parts.iter().map(|p| p.len()).sum(),
            before,
        }
    }

    /// Number of blocks.
    #[inline]
    fn blocks(&self) -> usize {
        (self.len + 9).div_ceil(BLOCK)
    }

    /// Compresses block `index` (below [`Padded::blocks`]) into `state`.
    fn compress(&self, state: &mut [u32; 8], index: usize) {
        let start = index * BLOCK;
        // In place when one part holds the whole block.
        let mut at = start;
        for part in self.parts {
            if at < part.len() {
                if let Some(Ok(block)) = part.get(at..at + BLOCK).map(<&[u8; BLOCK]>::try_from) {
                    compress(state, block);
                    return;
                }
                break;
            }
            at -= part.len();
        }
        // Assembled: the message bytes it covers, then the padding.
        let mut block = [0u8; BLOCK];
        let mut filled = 0;
        let mut at = start;
        for part in self.parts {
            if at >= part.len() {
                at -= part.len();
                continue;
            }
            let take = (part.len() - at).min(BLOCK - filled);
            block[filled..filled + take].copy_from_slice(&part[at..at + take]);
            filled += take;
            at = 0;
            if filled == BLOCK {
                break;
            }
        }
        if (start..start + BLOCK).contains(&self.len) {
            block[self.len - start] = 0x80;
        }
        if index + 1 == self.blocks() {
            let bits = ((self.before + self.len) as u64).wrapping_mul(8);
            block[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        }
        compress(state, &block);
    }

    /// Compresses every block into `state` (the chaining value after the
    /// `before` bytes) and returns the digest.
    pub(crate) fn finish(&self, mut state: [u32; 8]) -> [u8; 32] {
        for index in 0..self.blocks() {
            self.compress(&mut state, index);
        }
        digest_of(&state)
    }
}

/// SHA-256 of the concatenation of `parts`, behind one out-of-line
/// function.
#[inline(never)]
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    Padded::new(parts, 0).finish(IV)
}

/// SHA-256 of a message handed over a byte at a time: for text that is
/// decoded as it is hashed (a JSON string with escapes), so that it needs
/// no buffer and no bound on its length.
#[cfg(feature = "scheme-passphrase")]
pub(crate) fn sha256_bytes(bytes: impl Iterator<Item = u8>) -> [u8; 32] {
    let mut state = IV;
    let mut block = [0u8; BLOCK];
    let mut len = 0usize;
    for b in bytes {
        block[len % BLOCK] = b;
        len += 1;
        if len.is_multiple_of(BLOCK) {
            compress(&mut state, &block);
        }
    }
    // The padding: 0x80, zeros and the bit length in the last 8 bytes, in
    // one more block when those do not fit after the 0x80.
    let at = len % BLOCK;
    block[at] = 0x80;
    block[at + 1..].fill(0);
    if at >= BLOCK - 8 {
        compress(&mut state, &block);
        block = [0; BLOCK];
    }
    let bits = (len as u64).wrapping_mul(8);
    block[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
    compress(&mut state, &block);
    digest_of(&state)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The bytes of a hex string (test vectors).
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn sha256_vectors() {
        let digest = |parts: &[&[u8]]| sha256(parts).to_vec();
        assert_eq!(
            digest(&[]),
            hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(
            digest(&[b"a", b"bc"]),
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            digest(&[b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"]),
            hex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        );
        // Every length around the padding boundaries, whole and in pieces
        // that straddle blocks.
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        for n in 0..data.len() {
            use sha2::Digest;
            let expected = sha2::Sha256::digest(&data[..n]).to_vec();
            assert_eq!(digest(&[&data[..n]]), expected);
            let (a, b) = data[..n].split_at(n / 3);
            let (b, c) = b.split_at(b.len() / 2);
            assert_eq!(digest(&[a, b, &[], c]), expected);
            #[cfg(feature = "scheme-passphrase")]
            assert_eq!(sha256_bytes(data[..n].iter().copied()).to_vec(), expected);
        }
    }
}
