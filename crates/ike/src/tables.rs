//! Endpoint-wide tables: handles, SPI allocation without collisions, the Child SA index and the
//! error counters. Exchanges reach them through [`SaContext`](crate::exchange::SaContext).

use std::collections::BTreeMap;

use hitless_crypto::CryptoError;
use hitless_crypto::CryptoProvider;
use hitless_sadb::ReqId;
use hitless_sadb::Spi;

use crate::endpoint::Counters;
use crate::ids::ChildSaId;
use crate::ids::IkeSaId;
use crate::ike_sa::IkeSa;
use crate::ike_sa::handover::Handover;
use crate::ike_sa::handover::Provisional;

/// Identifiers and SPIs in use on this endpoint.
#[derive(Default)]
pub(crate) struct Tables {
    next_ike: u64,
    next_child: u64,
    next_reqid: u32,
    /// Our IKE SPIs (the ones we chose) → their IKE SA.
    pub ike_spis: BTreeMap<u64, IkeSaId>,
    /// Our inbound ESP SPIs → the IKE SA that owns them.
    pub esp_spis: BTreeMap<Spi, IkeSaId>,
    /// Child SA → its IKE SA.
    pub children: BTreeMap<ChildSaId, IkeSaId>,
    /// Error counters.
    pub counters: Counters,
    /// IKE SAs created by a rekey during the current input; the endpoint adopts them.
    pub born: Vec<IkeSa>,
    /// Child SAs and queued Child SA work to move between IKE SAs once the current input is
    /// done; the endpoint applies them, since it alone sees both IKE SAs.
    pub handovers: Vec<Handover>,
    /// New IKE SAs we created by answering the peer's rekey while our own rekey of the same
    /// IKE SA was in flight, by the old IKE SA they replace: which of the two survives is not
    /// decided yet ([RFC 7296 §2.8.2]), so they start no exchange of their own.
    ///
    /// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
    pub provisional: BTreeMap<IkeSaId, Provisional>,
}

/// ESP SPIs below this are reserved (RFC 4303 §2.1).
const MIN_ESP_SPI: u32 = 256;

impl Tables {
    /// A new IKE SA handle.
    pub(crate) fn new_ike_id(&mut self) -> IkeSaId {
        self.next_ike += 1;
        IkeSaId(self.next_ike)
    }

    /// A new Child SA handle, indexed under `owner`.
    pub(crate) fn new_child_id(&mut self, owner: IkeSaId) -> ChildSaId {
        self.next_child += 1;
        let id = ChildSaId(self.next_child);
        self.children.insert(id, owner);
        id
    }

    /// Marks a policy slot as taken (a Child SA imported from an HA snapshot keeps its
    /// slot), so [`Tables::new_reqid`] never hands it out again.
    pub(crate) fn reserve_reqid(&mut self, reqid: ReqId) {
        self.next_reqid = self.next_reqid.max(reqid.0);
    }

    /// A new policy slot.
    pub(crate) fn new_reqid(&mut self) -> ReqId {
        self.next_reqid += 1;
        ReqId(self.next_reqid)
    }

    /// A random IKE SPI (RFC 7296 §2.6: non-zero, unique among ours) for `owner`.
    pub(crate) fn allocate_ike_spi(
        &mut self,
        crypto: &CryptoProvider,
        owner: IkeSaId,
    ) -> Result<u64, CryptoError> {
        loop {
            let mut bytes = [0; 8];
            crypto.fill_random(&mut bytes)?;
            let spi = u64::from_be_bytes(bytes);
            if spi != 0 && !self.ike_spis.contains_key(&spi) {
                self.ike_spis.insert(spi, owner);
                return Ok(spi);
            }
        }
    }

    /// A random inbound ESP SPI, unique among ours, for `owner`.
    pub(crate) fn allocate_esp_spi(
        &mut self,
        crypto: &CryptoProvider,
        owner: IkeSaId,
    ) -> Result<Spi, CryptoError> {
        loop {
            let spi = Spi(random_u32(crypto)?);
            if spi.0 >= MIN_ESP_SPI && !self.esp_spis.contains_key(&spi) {
                self.esp_spis.insert(spi, owner);
                return Ok(spi);
            }
        }
    }

    /// Forgets a Child SA and its inbound SPI.
    pub(crate) fn remove_child(&mut self, child: ChildSaId, spi_in: Spi) {
        self.children.remove(&child);
        self.esp_spis.remove(&spi_in);
    }
}

/// A random `u32` from the provider.
pub(crate) fn random_u32(crypto: &CryptoProvider) -> Result<u32, CryptoError> {
    let mut bytes = [0; 4];
    crypto.fill_random(&mut bytes)?;
    Ok(u32::from_be_bytes(bytes))
}
