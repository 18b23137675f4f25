//! Files the configuration refers to: PSKs, certificates, private keys, the HA secret.
//!
//! Files that hold secrets must be accessible by their owner only (mode 0600 or stricter), as
//! WireGuard and OpenSSH insist; anything else is refused with the command that fixes it. The
//! permission check is made on the opened file, so it cannot be raced by replacing the path.
//!
//! Reading goes through the [`Files`] trait so that tests and the fuzzer can supply contents
//! without touching the file system.

use std::fs::File;
use std::io;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hitless_crypto::SecretBytes;
use zeroize::Zeroizing;

/// Where referenced files come from.
pub trait Files {
    /// Reads a file that holds no secret (certificates, CA certificates).
    ///
    /// # Errors
    ///
    /// When the file is missing or unreadable.
    fn read_public(&self, path: &Path) -> Result<Vec<u8>, FileError>;

    /// Reads a file that holds a secret, refusing one that others may access.
    ///
    /// # Errors
    ///
    /// When the file is missing, unreadable, or accessible by group or others.
    fn read_secret(&self, path: &Path) -> Result<SecretBytes, FileError>;

    /// Checks that a file is accessible by its owner only (the configuration file itself,
    /// when it holds an inline secret).
    ///
    /// # Errors
    ///
    /// When the file is missing, unreadable, or accessible by group or others.
    fn check_private(&self, path: &Path) -> Result<(), FileError>;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filesystem;

/// Why a referenced file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The path does not exist.
    #[error("does not exist")]
    NotFound,
    /// The path is a directory or another non-regular file.
    #[error("is not a regular file")]
    NotAFile,
    /// The file holds a secret but its group or others have access.
    #[error(
        "holds a secret but is accessible by group or others (mode {mode:04o}); it must be \
         readable by its owner only: chmod 600 {path}"
    )]
    Insecure {
        /// The permission bits found.
        mode: u32,
        /// The path, for the suggested command.
        path: String,
    },
    /// Any other I/O error (permission denied, …).
    #[error("cannot be read: {0}")]
    Io(#[source] io::Error),
}

impl Files for Filesystem {
    fn read_public(&self, path: &Path) -> Result<Vec<u8>, FileError> {
        let (mut file, _) = open_regular(path)?;
        let mut contents = Vec::new();
        file.read_to_end(&mut contents).map_err(FileError::Io)?;
        Ok(contents)
    }

    fn read_secret(&self, path: &Path) -> Result<SecretBytes, FileError> {
        let (mut file, mode) = open_regular(path)?;
        check_mode(path, mode)?;
        let mut contents = Zeroizing::new(Vec::new());
        file.read_to_end(&mut contents).map_err(FileError::Io)?;
        Ok(SecretBytes::from_slice(&contents))
    }

    fn check_private(&self, path: &Path) -> Result<(), FileError> {
        let (_, mode) = open_regular(path)?;
        check_mode(path, mode)
    }
}

fn check_mode(path: &Path, mode: u32) -> Result<(), FileError> {
    if mode & 0o077 != 0 {
        return Err(FileError::Insecure {
            mode,
            path: path.display().to_string(),
        });
    }
    Ok(())
}

/// Decodes a PSK as written in a file or inline: text, `0x` + hex, or `0s` + base64 (the
/// prefixes strongSwan's secrets use). Surrounding whitespace, such as the final newline of a
/// file, is not part of the key.
///
/// # Errors
///
/// When the encoding is broken or the key is shorter than [`MIN_PSK_LEN`] bytes.
pub(crate) fn decode_psk(raw: &[u8]) -> Result<SecretBytes, String> {
    let trimmed = raw.trim_ascii();
    let key = if let Some(hex) = trimmed.strip_prefix(b"0x") {
        decode_hex(hex).ok_or("the PSK starts with 0x but is not valid hexadecimal")?
    } else if let Some(base64) = trimmed.strip_prefix(b"0s") {
        decode_base64(base64).ok_or("the PSK starts with 0s but is not valid base64")?
    } else {
        SecretBytes::from_slice(trimmed)
    };
    if key.is_empty() {
        return Err("the PSK is empty".to_owned());
    }
    if key.len() < MIN_PSK_LEN {
        return Err(format!(
            "the PSK is {} bytes long, expected at least {MIN_PSK_LEN} random bytes (RFC 7296 \
             §2.15: a PSK must be as hard to guess as the keys it protects); generate one with: \
             head -c 32 /dev/urandom | base64 | sed 's/^/0s/'",
            key.len()
        ));
    }
    Ok(key)
}

/// One PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`, …) and DER contents.
#[derive(Debug)]
pub(crate) struct PemBlock {
    pub(crate) label: String,
    pub(crate) der: SecretBytes,
}

/// Decodes every PEM block in `contents`; a file without PEM armour is taken as one DER block
/// with an empty label.
///
/// # Errors
///
/// When a block is not terminated or its base64 is broken.
pub(crate) fn decode_pem(contents: &[u8]) -> Result<Vec<PemBlock>, String> {
    let Ok(text) = std::str::from_utf8(contents) else {
        return Ok(vec![PemBlock {
            label: String::new(),
            der: SecretBytes::from_slice(contents),
        }]);
    };
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = Zeroizing::new(String::new());
        let mut terminated = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == end {
                terminated = true;
                break;
            }
            // RFC 1421 headers (Proc-Type, DEK-Info) are not base64.
            if !line.contains(':') {
                body.push_str(line);
            }
        }
        if !terminated {
            return Err(format!("PEM block `{label}` has no `{end}` line"));
        }
        let der = decode_base64(body.as_bytes())
            .ok_or_else(|| format!("PEM block `{label}` is not valid base64"))?;
        blocks.push(PemBlock {
            label: label.to_owned(),
            der,
        });
    }
    if blocks.is_empty() && contents.first() == Some(&0x30) {
        blocks.push(PemBlock {
            label: String::new(),
            der: SecretBytes::from_slice(contents),
        });
    }
    Ok(blocks)
}

/// The shortest PSK accepted, in bytes.
pub const MIN_PSK_LEN: usize = 16;

fn open_regular(path: &Path) -> Result<(File, u32), FileError> {
    let file = File::open(path).map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => FileError::NotFound,
        _ => FileError::Io(error),
    })?;
    let metadata = file.metadata().map_err(FileError::Io)?;
    if !metadata.is_file() {
        return Err(FileError::NotAFile);
    }
    Ok((file, metadata.permissions().mode() & 0o7777))
}

fn decode_hex(hex: &[u8]) -> Option<SecretBytes> {
    let digits: Zeroizing<Vec<u8>> =
        Zeroizing::new(hex.iter().copied().filter(|c| *c != b':').collect());
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    let mut out = SecretBytes::zeroed(digits.len() / 2);
    for (byte, pair) in out.expose_mut().iter_mut().zip(digits.chunks(2)) {
        let value = |c: u8| char::from(c).to_digit(16);
        *byte = u8::try_from(value(pair[0])? * 16 + value(pair[1])?).ok()?;
    }
    Some(out)
}

/// Standard base64 (RFC 4648 §4), whitespace ignored, padding optional.
fn decode_base64(text: &[u8]) -> Option<SecretBytes> {
    let mut out = SecretBytes::default();
    let mut accumulator: u32 = 0;
    let mut bits = 0;
    let mut padding = false;
    for &c in text {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        if padding {
            return None;
        }
        accumulator = (accumulator << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.extend_from_slice(&[(accumulator >> bits).to_be_bytes()[3]]);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn psk_encodings() {
        let text = decode_psk(b"correct horse battery staple\n").unwrap();
        assert_eq!(text.expose(), b"correct horse battery staple");
        let hex = decode_psk(b"0x000102030405060708090a0b0c0d0e0f").unwrap();
        assert_eq!(hex.expose(), (0..16).collect::<Vec<u8>>());
        let base64 = decode_psk(b"0sAAECAwQFBgcICQoLDA0ODw==").unwrap();
        assert_eq!(base64.expose(), (0..16).collect::<Vec<u8>>());
        assert!(
            decode_psk(b"0xzz")
                .unwrap_err()
                .contains("not valid hexadecimal")
        );
        assert!(
            decode_psk(b"0s!!")
                .unwrap_err()
                .contains("not valid base64")
        );
        assert!(decode_psk(b"\n").unwrap_err().contains("empty"));
        let e = decode_psk(b"secret").unwrap_err();
        assert!(e.contains("6 bytes long, expected at least 16"), "{e}");
    }

    #[test]
    fn base64_rejects_data_after_padding() {
        assert!(decode_base64(b"AA==AA").is_none());
        assert_eq!(decode_base64(b"TWFu").unwrap().expose(), b"Man");
        assert_eq!(decode_base64(b"TWE").unwrap().expose(), b"Ma");
    }

    #[test]
    fn secret_file_permissions_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.psk");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"0123456789abcdef0123").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = Filesystem.read_secret(&path).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, FileError::Insecure { mode: 0o644, .. }));
        assert!(message.contains("mode 0644"), "{message}");
        assert!(
            message.contains(&format!("chmod 600 {}", path.display())),
            "{message}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            Filesystem.read_secret(&path),
            Err(FileError::Insecure { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Filesystem.read_secret(&path).unwrap().len(), 20);
        // Public files are not checked.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(Filesystem.read_public(&path).unwrap().len(), 20);
    }

    #[test]
    fn missing_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Filesystem.read_public(&dir.path().join("nope")),
            Err(FileError::NotFound)
        ));
        assert!(matches!(
            Filesystem.read_public(dir.path()),
            Err(FileError::NotAFile)
        ));
    }

    #[test]
    fn pem_blocks() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nTWFu\n-----END CERTIFICATE-----\n\
                    -----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nTWE=\n\
                    -----END EC PRIVATE KEY-----\n";
        let blocks = decode_pem(pem).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(blocks[0].der.expose(), b"Man");
        assert_eq!(blocks[1].label, "EC PRIVATE KEY");
        assert_eq!(blocks[1].der.expose(), b"Ma");
        let broken = b"-----BEGIN CERTIFICATE-----\nTWFu\n";
        assert!(
            decode_pem(broken)
                .unwrap_err()
                .contains("has no `-----END CERTIFICATE-----`")
        );
        let der = decode_pem(&[0x30, 0x03, 0x02, 0x01, 0x00]).unwrap();
        assert_eq!(der.len(), 1);
        assert!(decode_pem(b"nothing here").unwrap().is_empty());
    }
}
