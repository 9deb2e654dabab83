//! SHA-256 behind one out-of-line function.
//!
//! Every inlined `Sha256::digest` brings its own copy of the hasher's
//! buffering and padding code (about half a KiB on a Cortex-M); the gate
//! hashes in several places (body ids, the replay key, long HMAC keys,
//! passphrases), so they all call this one.

use sha2::{Digest, Sha256};

/// SHA-256 of the concatenation of `parts`.
#[inline(never)]
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}
