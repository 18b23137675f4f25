//! NO SECURITY. The one mixing primitive every stand-in is built from: a streaming 64-bit hash
//! (SplitMix64's finaliser applied to a chain of 8-byte words) and a counter-mode expansion of
//! its result. Every step of the chain is a bijection of the state, so two inputs of the same
//! length that differ anywhere hash differently; that is all the stand-ins need.

/// A streaming hash over a byte string; how the bytes are split across `update` calls does not
/// matter.
#[derive(Clone)]
pub(crate) struct Hasher {
    state: u64,
    pending: [u8; 8],
    pending_len: usize,
    total: u64,
}

impl Hasher {
    /// Starts a hash in domain `domain`, so that different uses never collide by construction.
    pub(crate) fn new(domain: u64) -> Self {
        Self {
            state: mix(domain ^ 0x6a09_e667_f3bc_c908),
            pending: [0; 8],
            pending_len: 0,
            total: 0,
        }
    }

    /// Feeds bytes.
    pub(crate) fn update(&mut self, mut bytes: &[u8]) -> &mut Self {
        self.total = self.total.wrapping_add(bytes.len() as u64);
        while !bytes.is_empty() {
            let take = (8 - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len == 8 {
                self.absorb(u64::from_le_bytes(self.pending));
                self.pending_len = 0;
            }
        }
        self
    }

    /// Feeds a length-prefixed field, so that field boundaries count.
    pub(crate) fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.update(&(bytes.len() as u64).to_le_bytes())
            .update(bytes)
    }

    /// The 64-bit digest.
    pub(crate) fn finish(&self) -> u64 {
        let mut last = [0u8; 8];
        last[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
        let state = mix(self.state ^ u64::from_le_bytes(last));
        mix(state ^ self.total.rotate_left(32) ^ 0xbb67_ae85_84ca_a73b)
    }

    fn absorb(&mut self, word: u64) {
        self.state = mix(self.state ^ word);
    }
}

/// Fills `out` with a stream derived from `seed`, starting at block `first_block`.
pub(crate) fn expand(seed: u64, first_block: u64, out: &mut [u8]) {
    for (block, chunk) in (first_block..).zip(out.chunks_mut(8)) {
        let word = mix(seed ^ mix(block.wrapping_add(0x3c6e_f372_fe94_f82b))).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// XORs `data` with the stream of `seed` (the stand-in cipher).
pub(crate) fn xor_stream(seed: u64, data: &mut [u8]) {
    for (block, chunk) in (0u64..).zip(data.chunks_mut(8)) {
        let word = mix(seed ^ mix(block.wrapping_add(0x3c6e_f372_fe94_f82b))).to_le_bytes();
        for (byte, key) in chunk.iter_mut().zip(word) {
            *byte ^= key;
        }
    }
}

/// SplitMix64's finaliser: a bijection on 64-bit words with good diffusion.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_input_hashes_like_joined_input() {
        let joined = Hasher::new(1).update(b"hello, world!").finish();
        let split = Hasher::new(1)
            .update(b"hel")
            .update(b"")
            .update(b"lo, wor")
            .update(b"ld!")
            .finish();
        assert_eq!(joined, split);
        assert_ne!(joined, Hasher::new(2).update(b"hello, world!").finish());
        assert_ne!(joined, Hasher::new(1).update(b"hello, world?").finish());
        assert_ne!(
            Hasher::new(1).update(b"ab").finish(),
            Hasher::new(1).update(b"ab\0").finish()
        );
    }

    #[test]
    fn fields_are_delimited() {
        let a = Hasher::new(1).field(b"ab").field(b"c").finish();
        let b = Hasher::new(1).field(b"a").field(b"bc").finish();
        assert_ne!(a, b);
    }

    #[test]
    fn xor_stream_is_an_involution() {
        let mut data = *b"some plaintext that spans blocks";
        xor_stream(7, &mut data);
        assert_ne!(&data, b"some plaintext that spans blocks");
        xor_stream(7, &mut data);
        assert_eq!(&data, b"some plaintext that spans blocks");
    }
}
