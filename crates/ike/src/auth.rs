//! The AUTH payload ([RFC 7296 §2.15]): computing ours and verifying the peer's. Verification
//! is the only way to obtain a [`PeerAuthenticated`] token, and an established IKE SA cannot be
//! built without one.
//!
//! Only pre-shared keys (SHARED_KEY_MIC) are implemented; signatures (RFC 7427) plug in as
//! new [`LocalAuth`] / [`RemoteAuth`] variants handled here.
//!
//! [RFC 7296 §2.15]: https://www.rfc-editor.org/rfc/rfc7296#section-2.15

use hitless_crypto::Prf;
use hitless_crypto::SecretBytes;
use hitless_crypto::secret::constant_time_eq;
use hitless_wire::ike::AuthPayload;
use hitless_wire::ike::IdPayload;
use hitless_wire::registry::AuthMethod;

use crate::config::Identity;
use crate::config::LocalAuth;
use crate::config::RemoteAuth;
use crate::error::AuthFailure;

/// Proof that the peer's AUTH payload verified for `remote_id` (rustls's proof-token style).
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct PeerAuthenticated {
    remote_id: Identity,
    method: AuthMethod,
}

/// The three parts of the octets an AUTH payload signs (§2.15): the sender's IKE_SA_INIT
/// message, the other side's nonce, and the sender's ID payload, MACed with the sender's SK_p.
pub(crate) struct SignedOctets<'a> {
    /// The sender's IKE_SA_INIT message as sent (RealMessage1 or RealMessage2).
    pub init_message: &'a [u8],
    /// The other side's nonce data.
    pub peer_nonce: &'a [u8],
    /// The sender's ID payload.
    pub id: &'a IdPayload,
    /// The sender's SK_pi or SK_pr.
    pub sk_p: &'a SecretBytes,
}

/// RFC 7296 §2.15: the pad mixed into a shared secret.
const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

impl PeerAuthenticated {
    /// The identity the peer proved.
    pub(crate) fn remote_id(&self) -> &Identity {
        &self.remote_id
    }

    /// The method it used.
    pub(crate) fn method(&self) -> AuthMethod {
        self.method
    }

    /// Rebuilds the token for an IKE SA imported from an HA snapshot: the active node verified
    /// the peer, and the snapshot comes over the authenticated sync channel.
    pub(crate) fn imported(remote_id: Identity) -> Self {
        Self {
            remote_id,
            method: AuthMethod::SHARED_KEY_MIC,
        }
    }
}

/// Our AUTH payload.
pub(crate) fn sign(auth: &LocalAuth, prf: &dyn Prf, octets: &SignedOctets<'_>) -> AuthPayload {
    match auth {
        LocalAuth::Psk(secret) => AuthPayload {
            method: AuthMethod::SHARED_KEY_MIC,
            data: psk_mac(prf, secret, octets).expose().to_vec(),
        },
    }
}

/// Verifies the peer's AUTH payload for `remote_id` (already checked against the config).
///
/// # Errors
///
/// [`AuthFailure::MethodNotAllowed`] or [`AuthFailure::Mismatch`].
pub(crate) fn verify(
    auth: &RemoteAuth,
    prf: &dyn Prf,
    octets: &SignedOctets<'_>,
    payload: &AuthPayload,
    remote_id: Identity,
) -> Result<PeerAuthenticated, AuthFailure> {
    match auth {
        RemoteAuth::Psk(secret) => {
            if payload.method != AuthMethod::SHARED_KEY_MIC {
                return Err(AuthFailure::MethodNotAllowed(payload.method));
            }
            let expected = psk_mac(prf, secret, octets);
            // STYLE.md §3.9: AUTH values are compared in constant time.
            if !constant_time_eq(expected.expose(), &payload.data) {
                return Err(AuthFailure::Mismatch);
            }
            Ok(PeerAuthenticated {
                remote_id,
                method: payload.method,
            })
        }
    }
}

/// `prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)` with `<SignedOctets> =
/// message | nonce | prf(SK_p, RestOfIDPayload)` (§2.15).
fn psk_mac(prf: &dyn Prf, secret: &SecretBytes, octets: &SignedOctets<'_>) -> SecretBytes {
    let key = prf.compute(secret.expose(), &[KEY_PAD]);
    let maced_id = prf.compute(octets.sk_p.expose(), &[&octets.id.body()]);
    prf.compute(
        key.expose(),
        &[octets.init_message, octets.peer_nonce, maced_id.expose()],
    )
}
