//! Long data sealed in frames: the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár,
//! "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015) over
//! AES-256-GCM, with the nonce layout of the `aead` crate's `StreamBE32`:
//! `prefix (7 random bytes) ‖ frame counter (u32, big-endian) ‖ last-frame flag (1 byte)`.
//!
//! Each frame is authenticated on its own, so a reader handles data of any size in bounded
//! memory; the counter in the nonce makes a reordered or dropped frame fail to open, and the
//! flag makes a stream cut at a frame boundary detectable (no frame opened as the last).
//! Written here rather than taken from `aead::stream` because Arca's AES-GCM is aws-lc-rs's.

use zeroize::Zeroizing;

use crate::aead::{AeadKey, NONCE_LEN};
use crate::error::CryptoError;
use crate::keys::AesKey256;
use crate::random::fill_random;

/// Length in bytes of the random nonce prefix, stored beside the stream.
pub const PREFIX_LEN: usize = 7;

fn nonce(prefix: &[u8; PREFIX_LEN], counter: u32, last: bool) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[..PREFIX_LEN].copy_from_slice(prefix);
    n[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    n[NONCE_LEN - 1] = u8::from(last);
    n
}

/// Seals the frames of one stream, in order.
pub struct StreamSealer {
    key: AeadKey,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    finished: bool,
}

impl std::fmt::Debug for StreamSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSealer")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl StreamSealer {
    /// Starts a stream under `key` with a fresh random prefix (returned: the opener needs it).
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if no prefix can be drawn.
    pub fn new(key: &AesKey256) -> Result<(Self, [u8; PREFIX_LEN]), CryptoError> {
        let mut prefix = [0u8; PREFIX_LEN];
        fill_random(&mut prefix)?;
        Ok((
            Self {
                key: AeadKey::new(key)?,
                prefix,
                counter: 0,
                finished: false,
            },
            prefix,
        ))
    }

    /// Seals the next frame; `last` marks the final one, after which the stream is closed.
    ///
    /// # Errors
    /// [`CryptoError::InvalidLength`] after the last frame or past 2^32 frames.
    pub fn seal_frame(
        &mut self,
        aad: &[u8],
        plaintext: &[u8],
        last: bool,
    ) -> Result<Vec<u8>, CryptoError> {
        if self.finished {
            return Err(CryptoError::InvalidLength("frame after the last one"));
        }
        let out =
            self.key
                .seal_with_nonce(&nonce(&self.prefix, self.counter, last), aad, plaintext)?;
        if last {
            self.finished = true;
        } else {
            self.counter = self
                .counter
                .checked_add(1)
                .ok_or(CryptoError::InvalidLength("too many frames"))?;
        }
        Ok(out)
    }
}

/// Opens the frames of one stream, in order.
pub struct StreamOpener {
    key: AeadKey,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    finished: bool,
}

impl std::fmt::Debug for StreamOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamOpener")
            .field("counter", &self.counter)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl StreamOpener {
    /// Opens a stream sealed under `key` with `prefix`.
    ///
    /// # Errors
    /// [`CryptoError::Internal`] if the key is refused (not expected).
    pub fn new(key: &AesKey256, prefix: &[u8; PREFIX_LEN]) -> Result<Self, CryptoError> {
        Ok(Self {
            key: AeadKey::new(key)?,
            prefix: *prefix,
            counter: 0,
            finished: false,
        })
    }

    /// Opens the next frame, which the reader's framing says is `last` or not.
    ///
    /// # Errors
    /// [`CryptoError::AuthenticationFailed`] for a frame that is not the next one of this
    /// stream (tampered, reordered, dropped, or with the wrong `last`);
    /// [`CryptoError::InvalidLength`] after the last frame.
    pub fn open_frame(
        &mut self,
        aad: &[u8],
        ciphertext: &[u8],
        last: bool,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if self.finished {
            return Err(CryptoError::InvalidLength("frame after the last one"));
        }
        let out = self
            .key
            .open(&nonce(&self.prefix, self.counter, last), aad, ciphertext)?;
        if last {
            self.finished = true;
        } else {
            self.counter = self
                .counter
                .checked_add(1)
                .ok_or(CryptoError::InvalidLength("too many frames"))?;
        }
        Ok(out)
    }

    /// Whether the last frame was opened: a stream that ends before is truncated.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sealed(key: &AesKey256, frames: &[&[u8]]) -> ([u8; PREFIX_LEN], Vec<Vec<u8>>) {
        let (mut s, prefix) = StreamSealer::new(key).unwrap();
        let out = frames
            .iter()
            .enumerate()
            .map(|(i, f)| s.seal_frame(b"aad", f, i + 1 == frames.len()).unwrap())
            .collect();
        (prefix, out)
    }

    #[test]
    fn frames_open_in_order() {
        let key = AesKey256::generate().unwrap();
        let (prefix, frames) = sealed(&key, &[b"one", b"two", b""]);
        let mut o = StreamOpener::new(&key, &prefix).unwrap();
        assert_eq!(&**o.open_frame(b"aad", &frames[0], false).unwrap(), b"one");
        assert!(!o.is_finished());
        assert_eq!(&**o.open_frame(b"aad", &frames[1], false).unwrap(), b"two");
        assert_eq!(&**o.open_frame(b"aad", &frames[2], true).unwrap(), b"");
        assert!(o.is_finished());
        assert!(o.open_frame(b"aad", &frames[2], true).is_err());
    }

    #[test]
    fn reordered_dropped_cut_or_changed_frames_fail() {
        let key = AesKey256::generate().unwrap();
        let (prefix, frames) = sealed(&key, &[b"one", b"two", b"three"]);
        let open = |i: usize, last: bool, aad: &[u8], ct: &[u8]| {
            let mut o = StreamOpener::new(&key, &prefix).unwrap();
            for f in &frames[..i] {
                o.open_frame(b"aad", f, false).unwrap();
            }
            o.open_frame(aad, ct, last).is_ok()
        };
        // Dropped first frame, swapped frames.
        assert!(!open(0, false, b"aad", &frames[1]));
        assert!(!open(1, false, b"aad", &frames[2]));
        // A non-final frame presented as the last (a stream cut short), and the other way.
        assert!(!open(1, true, b"aad", &frames[1]));
        assert!(!open(2, false, b"aad", &frames[2]));
        // Other associated data, a flipped bit.
        assert!(!open(0, false, b"other", &frames[0]));
        let mut bad = frames[0].clone();
        bad[0] ^= 1;
        assert!(!open(0, false, b"aad", &bad));
        // The wrong key or prefix.
        let mut o = StreamOpener::new(&AesKey256::generate().unwrap(), &prefix).unwrap();
        assert!(o.open_frame(b"aad", &frames[0], false).is_err());
        let mut o = StreamOpener::new(&key, &[0; PREFIX_LEN]).unwrap();
        assert!(o.open_frame(b"aad", &frames[0], false).is_err());
    }

    #[test]
    fn nonces_follow_stream_be32() {
        assert_eq!(
            nonce(&[1, 2, 3, 4, 5, 6, 7], 0x0a0b_0c0d, true),
            [1, 2, 3, 4, 5, 6, 7, 0x0a, 0x0b, 0x0c, 0x0d, 1]
        );
        assert_eq!(nonce(&[0; 7], 1, false)[7..], [0, 0, 0, 1, 0]);
    }

    #[test]
    fn nothing_is_sealed_after_the_last_frame() {
        let key = AesKey256::generate().unwrap();
        let (mut s, _) = StreamSealer::new(&key).unwrap();
        s.seal_frame(b"", b"x", true).unwrap();
        assert!(s.seal_frame(b"", b"y", false).is_err());
    }
}
