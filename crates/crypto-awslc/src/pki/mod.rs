//! Certificate authentication on aws-lc-rs: the implementations of
//! [`hitless_crypto::pki`]'s traits.
//!
//! - [`KeyPairSigner`]: our private key, signing with the RFC 7427 schemes of its type.
//! - [`TrustAnchors`]: the configured CA certificates, verifying peers' chains with
//!   `rustls-webpki` ([RFC 5280 §6]) and checking signatures with aws-lc-rs.
//! - [`certified_key`], [`certificates_from_pem`], [`private_key_from_pem`],
//!   [`trust_anchors_from_pem`] and the file loaders: PEM or DER input.
//!
//! Certificates are read with `x509-parser`, never with ASN.1 code of our own.
//!
//! [RFC 5280 §6]: https://www.rfc-editor.org/rfc/rfc5280#section-6

mod load;
mod signer;
mod trust;
mod x509;

pub use load::LoadError;
pub use load::certificates_from_pem;
pub use load::certified_key;
pub use load::load_certified_key;
pub use load::load_trust_anchors;
pub use load::private_key_from_pem;
pub use load::trust_anchors_from_pem;
pub use signer::KeyError;
pub use signer::KeyFormat;
pub use signer::KeyPairSigner;
pub use signer::verify_signature;
pub use trust::TrustAnchorError;
pub use trust::TrustAnchors;
pub use trust::certificate_subject;
