//! Big-endian field access for the packet views.
//!
//! Callers index only after a view's `check_len` has proved the range present, so these helpers
//! take slices of the exact width and never fail.

use std::ops::Range;

/// Reads a big-endian `u16` at `at`.
pub(crate) fn read_u16(buffer: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buffer[at], buffer[at + 1]])
}

/// Reads a big-endian `u32` at `at`.
pub(crate) fn read_u32(buffer: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buffer[at], buffer[at + 1], buffer[at + 2], buffer[at + 3]])
}

/// Reads a big-endian `u64` from `range` (eight bytes).
pub(crate) fn read_u64(buffer: &[u8], range: Range<usize>) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&buffer[range]);
    u64::from_be_bytes(bytes)
}

/// Writes a big-endian `u16` at `at`.
pub(crate) fn write_u16(buffer: &mut [u8], at: usize, value: u16) {
    buffer[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// Writes a big-endian `u32` at `at`.
pub(crate) fn write_u32(buffer: &mut [u8], at: usize, value: u32) {
    buffer[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// Writes a big-endian `u64` into `range` (eight bytes).
pub(crate) fn write_u64(buffer: &mut [u8], range: Range<usize>, value: u64) {
    buffer[range].copy_from_slice(&value.to_be_bytes());
}

/// Declares a packet view struct with the constructors every view shares: `new_unchecked`,
/// `new_checked` (which calls the view's own `check_len`) and `into_inner`.
macro_rules! view {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Eq, PartialEq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps a buffer without checking it.
            ///
            /// # Panics
            ///
            /// Accessors panic on a buffer shorter than `check_len` requires; use
            /// `new_checked` on untrusted input.
            pub const fn new_unchecked(buffer: T) -> Self {
                Self { buffer }
            }

            /// Wraps a buffer after `check_len`.
            ///
            /// # Errors
            ///
            /// See `check_len`.
            pub fn new_checked(buffer: T) -> Result<Self, crate::error::ParseError> {
                let packet = Self::new_unchecked(buffer);
                packet.check_len()?;
                Ok(packet)
            }

            /// Returns the underlying buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }
        }
    };
}

pub(crate) use view;
