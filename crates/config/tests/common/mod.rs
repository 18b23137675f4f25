//! Shared test helpers: an in-memory file system for referenced files.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::path::PathBuf;

use hitless_config::FileError;
use hitless_config::Files;
use hitless_crypto::SecretBytes;

/// Referenced files served from memory, with a "private" flag standing for mode 0600.
#[derive(Default)]
pub(crate) struct MemoryFiles {
    files: HashMap<PathBuf, (Vec<u8>, bool)>,
}

pub(crate) const CERT_PEM: &[u8] =
    b"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
pub(crate) const KEY_PEM: &[u8] =
    b"-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n";
pub(crate) const PSK: &[u8] = b"0sMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n";

impl MemoryFiles {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a file only its owner may read.
    pub(crate) fn private(mut self, path: &str, contents: &[u8]) -> Self {
        self.files.insert(path.into(), (contents.to_vec(), true));
        self
    }

    /// Adds a world-readable file.
    pub(crate) fn public(mut self, path: &str, contents: &[u8]) -> Self {
        self.files.insert(path.into(), (contents.to_vec(), false));
        self
    }
}

impl Files for MemoryFiles {
    fn read_public(&self, path: &Path) -> Result<Vec<u8>, FileError> {
        self.files
            .get(path)
            .map(|(contents, _)| contents.clone())
            .ok_or(FileError::NotFound)
    }

    fn read_secret(&self, path: &Path) -> Result<SecretBytes, FileError> {
        match self.files.get(path) {
            None => Err(FileError::NotFound),
            Some((_, false)) => Err(FileError::Insecure {
                mode: 0o644,
                path: path.display().to_string(),
            }),
            Some((contents, true)) => Ok(SecretBytes::from_slice(contents)),
        }
    }

    fn check_private(&self, _path: &Path) -> Result<(), FileError> {
        Ok(())
    }
}

/// The repository's `examples/` directory.
pub(crate) fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}
