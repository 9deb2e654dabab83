//! SHA-256: one small streaming hasher on `sha2`'s compression function.
//!
//! `sha2::Sha256` (the `digest` traits and `block-buffer` around the
//! compression function) is about half a KiB of buffering and padding code
//! on a Cortex-M, and cannot start from a given chaining value, which the
//! pre-keyed HMAC-SHA256 of [`crate::auth`] needs. This hasher serves both:
//! the gate's digests (body ids, the replay key, passphrases) through
//! [`sha256`], and the HMAC's inner and outer hashes. The compression
//! function is still `sha2`'s: SHA-NI/ARMv8 instructions on hosts that have
//! them (picked at run time), the rolled loop with `compact-sha256`.

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

/// A streaming SHA-256, optionally resumed from a chaining value.
#[derive(Clone)]
pub(crate) struct Sha256 {
    /// Chaining value after the last full block.
    state: [u32; 8],
    /// The pending partial block (its first `len % 64` bytes).
    block: [u8; BLOCK],
    /// Bytes hashed so far, including those pending in `block`.
    len: u64,
}

impl Sha256 {
    /// A fresh hasher.
    pub(crate) const fn new() -> Self {
        Self::resume(IV, 0)
    }

    /// A hasher that has already compressed `len` bytes (a multiple of 64)
    /// into `state`.
    pub(crate) const fn resume(state: [u32; 8], len: u64) -> Self {
        Sha256 {
            state,
            block: [0; BLOCK],
            len,
        }
    }

    /// Starts over as [`Sha256::resume`] would, reusing the buffer.
    #[cfg(feature = "_hmac")]
    pub(crate) fn restart(&mut self, state: [u32; 8], len: u64) {
        self.state = state;
        self.len = len;
    }

    /// Appends `data`.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        let used = (self.len % BLOCK as u64) as usize;
        self.len = self.len.wrapping_add(data.len() as u64);
        if used != 0 {
            let room = &mut self.block[used..];
            if data.len() < room.len() {
                room[..data.len()].copy_from_slice(data);
                return;
            }
            let (head, rest) = data.split_at(room.len());
            room.copy_from_slice(head);
            compress(&mut self.state, &self.block);
            data = rest;
        }
        let mut blocks = data.chunks_exact(BLOCK);
        for block in &mut blocks {
            if let Ok(block) = block.try_into() {
                compress(&mut self.state, block);
            }
        }
        let rest = blocks.remainder();
        self.block[..rest.len()].copy_from_slice(rest);
    }

    /// The digest of everything appended (the hasher is left padded: start
    /// a new one, `resume` or `restart` to hash again).
    pub(crate) fn finish(&mut self) -> [u8; 32] {
        // 0x80, zeros up to 56 mod 64, then the length in bits (big-endian).
        let bits = self.len.wrapping_mul(8);
        let zeros = (BLOCK + 55 - (self.len % BLOCK as u64) as usize) % BLOCK;
        let mut pad = [0u8; BLOCK + 9];
        pad[0] = 0x80;
        let end = zeros + 9;
        pad[zeros + 1..end].copy_from_slice(&bits.to_be_bytes());
        self.update(&pad[..end]);
        let mut out = [0u8; 32];
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// SHA-256 of the concatenation of `parts`, behind one out-of-line
/// function (every inlined hasher would bring its own copy of `finish`).
#[inline(never)]
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn sha256_vectors() {
        let digest = |parts: &[&[u8]]| {
            let mut h = Sha256::new();
            for p in parts {
                h.update(p);
            }
            h.finish().to_vec()
        };
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
        // Every length around the padding boundaries.
        let data = [0x5au8; 200];
        for n in 0..data.len() {
            use sha2::Digest;
            assert_eq!(
                digest(&[&data[..n]]),
                sha2::Sha256::digest(&data[..n]).to_vec()
            );
        }
    }
}
