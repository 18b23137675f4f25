//! Entry points for the `config_toml` fuzz target (and its corpus replay test).

use std::path::Path;

use hitless_crypto::SecretBytes;

use crate::files::FileError;
use crate::files::Files;

/// Parses arbitrary bytes as a configuration file. Referenced files all exist, hold a valid
/// PSK / PEM text, and are private, so the fuzzer reaches the whole conversion. Must never
/// panic; errors must render.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::parse(text, Path::new("/fuzz/hitless.toml"), &FuzzFiles) {
        Ok(config) => {
            let _ = format!("{config:?}");
            for warning in &config.warnings {
                let _ = warning.to_string();
            }
        }
        Err(error) => {
            let _ = error.to_string();
            let _ = error.render();
        }
    }
}

/// Files that always exist: PEM with a certificate and a key for `.pem`/`.key` names, a PSK
/// otherwise; `missing` in the name makes a file absent.
struct FuzzFiles;

const PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
const KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n";
const PSK: &[u8] = b"0123456789abcdef0123456789abcdef\n";

impl Files for FuzzFiles {
    fn read_public(&self, path: &Path) -> Result<Vec<u8>, FileError> {
        if path.to_string_lossy().contains("missing") {
            return Err(FileError::NotFound);
        }
        Ok(PEM.to_vec())
    }

    fn read_secret(&self, path: &Path) -> Result<SecretBytes, FileError> {
        let name = path.to_string_lossy();
        if name.contains("missing") {
            return Err(FileError::NotFound);
        }
        if name.ends_with(".key") {
            return Ok(SecretBytes::from_slice(KEY));
        }
        Ok(SecretBytes::from_slice(PSK))
    }

    fn check_private(&self, _path: &Path) -> Result<(), FileError> {
        Ok(())
    }
}
