//! Loading certificates, private keys and CA certificates from PEM (or DER) and assembling our
//! [`CertifiedKey`].
//!
//! PEM is decoded by `rustls-pki-types`; keys may be PKCS #8 ("PRIVATE KEY"), PKCS #1
//! ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"), as `openssl` and strongSwan's `pki` write
//! them. Encrypted keys are refused: the daemon starts unattended.

use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use hitless_crypto::pki::CertifiedKey;
use hitless_crypto::pki::PkiError;
use hitless_crypto::pki::Signer;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::pki::signer::KeyError;
use crate::pki::signer::KeyFormat;
use crate::pki::signer::KeyPairSigner;
use crate::pki::trust::TrustAnchorError;
use crate::pki::trust::TrustAnchors;
use crate::pki::x509::Certificate;
use crate::pki::x509::public_key_from_spki;

/// Why certificates or a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// PEM that does not decode.
    #[error("bad PEM: {0}")]
    Pem(String),
    /// No certificate in the input.
    #[error("no certificate found, expected PEM \"BEGIN CERTIFICATE\" blocks or DER")]
    NoCertificate,
    /// No private key in the input.
    #[error(
        "no private key found, expected a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY \
         block, or DER"
    )]
    NoPrivateKey,
    /// More than one private key.
    #[error("more than one private key, expected exactly one")]
    SeveralPrivateKeys,
    /// An encrypted private key.
    #[error("the private key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)")]
    EncryptedPrivateKey,
    /// The key is not one we support.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A certificate that does not parse or that we cannot use.
    #[error("certificate: {0}")]
    Certificate(PkiError),
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// A CA certificate we cannot use as a trust anchor.
    #[error(transparent)]
    TrustAnchor(#[from] TrustAnchorError),
}

/// Our credential from a certificate chain (end entity first, DER) and the signer of the end
/// entity's key.
///
/// # Errors
///
/// [`LoadError::NoCertificate`] for an empty chain, [`LoadError::Certificate`] when the end
/// entity does not parse or has an unsupported key, [`LoadError::KeyMismatch`] when the
/// signer's key is not the certificate's.
pub fn certified_key(
    chain: Vec<Vec<u8>>,
    signer: Arc<dyn Signer>,
) -> Result<CertifiedKey, LoadError> {
    let end_entity = chain.first().ok_or(LoadError::NoCertificate)?;
    let certificate = Certificate::parse(end_entity).map_err(LoadError::Certificate)?;
    let public_key = certificate.public_key().map_err(LoadError::Certificate)?;
    let names = certificate.names().map_err(LoadError::Certificate)?;
    // Compare the keys themselves, not their SPKI encodings (parameters may be written
    // differently).
    let ours = public_key_from_spki(signer.public_key().spki()).map_err(LoadError::Certificate)?;
    let theirs = public_key_from_spki(public_key.spki()).map_err(LoadError::Certificate)?;
    if ours != theirs {
        return Err(LoadError::KeyMismatch);
    }
    Ok(CertifiedKey::new(chain, signer, names))
}

/// The certificates (DER) in PEM "CERTIFICATE" blocks, or a single DER certificate.
///
/// # Errors
///
/// [`LoadError::Pem`] for bad PEM, [`LoadError::NoCertificate`] when there is none.
pub fn certificates_from_pem(input: &[u8]) -> Result<Vec<Vec<u8>>, LoadError> {
    if !is_pem(input) {
        return if input.is_empty() {
            Err(LoadError::NoCertificate)
        } else {
            Ok(vec![input.to_vec()])
        };
    }
    let certificates = CertificateDer::pem_slice_iter(input)
        .map(|certificate| {
            certificate
                .map(|der| der.as_ref().to_vec())
                .map_err(|e| LoadError::Pem(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if certificates.is_empty() {
        return Err(LoadError::NoCertificate);
    }
    Ok(certificates)
}

/// A private key from PEM (PKCS #8, PKCS #1 RSA or SEC 1 EC) or DER (any of those).
///
/// # Errors
///
/// [`LoadError`] naming what is wrong: no key, several, encrypted, unsupported.
pub fn private_key_from_pem(input: &[u8]) -> Result<KeyPairSigner, LoadError> {
    if !is_pem(input) {
        let mut error = LoadError::NoPrivateKey;
        for format in [KeyFormat::Pkcs8, KeyFormat::Pkcs1Rsa, KeyFormat::Sec1Ec] {
            match KeyPairSigner::from_der(format, input) {
                Ok(key) => return Ok(key),
                Err(size @ KeyError::RsaSize(_)) => error = LoadError::Key(size),
                Err(KeyError::Unsupported(_)) => {}
            }
        }
        return Err(error);
    }
    let mut keys = PrivateKeyDer::pem_slice_iter(input);
    let key = match keys.next() {
        Some(Ok(key)) => key,
        Some(Err(e)) => return Err(LoadError::Pem(e.to_string())),
        None if contains(input, b"ENCRYPTED PRIVATE KEY") => {
            return Err(LoadError::EncryptedPrivateKey);
        }
        None => return Err(LoadError::NoPrivateKey),
    };
    if keys.next().is_some() {
        return Err(LoadError::SeveralPrivateKeys);
    }
    let (format, der) = match &key {
        PrivateKeyDer::Pkcs8(der) => (KeyFormat::Pkcs8, der.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(der) => (KeyFormat::Pkcs1Rsa, der.secret_pkcs1_der()),
        PrivateKeyDer::Sec1(der) => (KeyFormat::Sec1Ec, der.secret_sec1_der()),
        _ => return Err(LoadError::NoPrivateKey),
    };
    Ok(KeyPairSigner::from_der(format, der)?)
}

/// Trust anchors from PEM or DER CA certificates.
///
/// # Errors
///
/// [`LoadError`] when the input holds no certificate or one that is not a usable CA.
pub fn trust_anchors_from_pem(input: &[u8]) -> Result<TrustAnchors, LoadError> {
    let certificates = certificates_from_pem(input)?;
    Ok(TrustAnchors::from_der(
        certificates.iter().map(Vec::as_slice),
    )?)
}

/// Reads our certificate chain and private key from files and checks they belong together.
///
/// # Errors
///
/// [`LoadError`] for unreadable files, bad contents or a key that does not match.
pub fn load_certified_key(
    certificate_file: &Path,
    private_key_file: &Path,
) -> Result<CertifiedKey, LoadError> {
    let chain = certificates_from_pem(&read(certificate_file)?)?;
    let key = private_key_from_pem(&read(private_key_file)?)?;
    certified_key(chain, Arc::new(key))
}

/// Reads CA certificates from files (each PEM with one or more certificates, or DER).
///
/// # Errors
///
/// [`LoadError`] for unreadable files or certificates that are not usable CAs.
pub fn load_trust_anchors(files: &[&Path]) -> Result<TrustAnchors, LoadError> {
    let mut certificates = Vec::new();
    for file in files {
        certificates.extend(certificates_from_pem(&read(file)?)?);
    }
    Ok(TrustAnchors::from_der(
        certificates.iter().map(Vec::as_slice),
    )?)
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    fs::read(path).map_err(|error| LoadError::Io {
        path: path.to_owned(),
        error,
    })
}

fn is_pem(input: &[u8]) -> bool {
    contains(input, b"-----BEGIN ")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
