//! NAT detection ([RFC 7296 §2.23]): the NAT_DETECTION_SOURCE_IP and
//! NAT_DETECTION_DESTINATION_IP notifications of IKE_SA_INIT, and what they tell.
//!
//! [RFC 7296 §2.23]: https://www.rfc-editor.org/rfc/rfc7296#section-2.23

use std::net::IpAddr;
use std::net::SocketAddr;

use hitless_crypto::CryptoError;
use hitless_crypto::CryptoProvider;
use hitless_crypto::secret::constant_time_eq;
use hitless_wire::ike::NotifyPayload;
use hitless_wire::registry::HashAlgorithm;
use hitless_wire::registry::NotifyType;

use crate::error::PeerMisbehaved;
use crate::info::NatState;
use crate::message::Message;
use crate::message::notify;

/// The length of a NAT detection hash (SHA-1).
const HASH_LEN: usize = 20;

/// `SHA-1(SPIi | SPIr | IP | port)` (§2.23), or `None` if the provider has no SHA-1.
pub(crate) fn detection_hash(
    crypto: &CryptoProvider,
    spi_i: u64,
    spi_r: u64,
    address: SocketAddr,
) -> Option<Vec<u8>> {
    let sha1 = crypto.hash(HashAlgorithm::SHA1)?;
    let ip = match address.ip() {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    Some(sha1.hash(&[
        &spi_i.to_be_bytes(),
        &spi_r.to_be_bytes(),
        &ip,
        &address.port().to_be_bytes(),
    ]))
}

/// Our two NAT detection notifications. With `force_encap` the source hash is random, so the
/// peer believes we are behind a NAT and both sides use UDP encapsulation (strongSwan's
/// `encap = yes`). Empty if the provider lacks SHA-1.
pub(crate) fn notifies(
    crypto: &CryptoProvider,
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
    force_encap: bool,
) -> Result<Vec<NotifyPayload>, CryptoError> {
    let (Some(mut source), Some(destination)) = (
        detection_hash(crypto, spi_i, spi_r, local),
        detection_hash(crypto, spi_i, spi_r, remote),
    ) else {
        return Ok(Vec::new());
    };
    if force_encap {
        crypto.fill_random(&mut source)?;
    }
    Ok(vec![
        notify(NotifyType::NAT_DETECTION_SOURCE_IP, source),
        notify(NotifyType::NAT_DETECTION_DESTINATION_IP, destination),
    ])
}

/// What the peer's NAT detection notifications say about the path from `remote` (where its
/// message came from) to `local` (where we received it). `None` if it sent none, which means it
/// does not support NAT traversal (§2.23).
///
/// # Errors
///
/// [`PeerMisbehaved::BadNatDetection`] for a hash of the wrong length.
pub(crate) fn check(
    crypto: &CryptoProvider,
    message: &Message,
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
) -> Result<Option<NatState>, PeerMisbehaved> {
    let sources: Vec<&NotifyPayload> = message
        .notifies()
        .filter(|n| n.notify_type == NotifyType::NAT_DETECTION_SOURCE_IP)
        .collect();
    let destination = message.notify(NotifyType::NAT_DETECTION_DESTINATION_IP);
    let (false, Some(destination)) = (sources.is_empty(), destination) else {
        return Ok(None);
    };
    if destination.data.len() != HASH_LEN || sources.iter().any(|s| s.data.len() != HASH_LEN) {
        return Err(PeerMisbehaved::BadNatDetection);
    }
    let (Some(remote_hash), Some(local_hash)) = (
        detection_hash(crypto, spi_i, spi_r, remote),
        detection_hash(crypto, spi_i, spi_r, local),
    ) else {
        return Ok(None);
    };
    Ok(Some(NatState {
        remote_behind_nat: !sources
            .iter()
            .any(|s| constant_time_eq(&s.data, &remote_hash)),
        local_behind_nat: !constant_time_eq(&destination.data, &local_hash),
    }))
}

/// The NAT-T port (RFC 3948).
pub(crate) const NAT_T_PORT: u16 = 4500;

/// `address` with the port floated to 4500 if it was 500 (§2.23: the initiator moves to port
/// 4500 once a NAT is detected).
pub(crate) fn float(address: SocketAddr) -> SocketAddr {
    if address.port() == 500 {
        SocketAddr::new(address.ip(), NAT_T_PORT)
    } else {
        address
    }
}
