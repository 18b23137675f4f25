//! SA payload negotiation ([RFC 7296 §2.7], [§3.3]): building our proposals, choosing one of the
//! peer's as responder, and checking the responder's choice as initiator.
//!
//! [RFC 7296 §2.7]: https://www.rfc-editor.org/rfc/rfc7296#section-2.7
//! [§3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3

use hitless_crypto::CryptoProvider;
use hitless_sadb::EspAlgorithms;
use hitless_wire::ike::Proposal;
use hitless_wire::ike::Transform;
use hitless_wire::ike::TransformAttribute;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::EsnId;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;
use hitless_wire::registry::ProtocolId;
use hitless_wire::registry::TransformAttributeType;
use hitless_wire::registry::TransformType;

use crate::config::Encryption;
use crate::config::Esn;
use crate::config::EspProposal;
use crate::config::IkeProposal;
use crate::error::PeerMisbehaved;

/// The algorithms negotiated for an IKE SA.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct IkeAlgorithms {
    /// Encryption (AEAD or CBC) with its key length.
    pub encryption: Encryption,
    /// Integrity, [`IntegId::NONE`] with an AEAD.
    pub integrity: IntegId,
    /// The PRF.
    pub prf: PrfId,
    /// The key exchange method.
    pub key_exchange: KeMethod,
}

/// The algorithms negotiated for a Child SA.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ChildAlgorithms {
    /// What the data plane needs.
    pub esp: EspAlgorithms,
    /// The PFS key exchange of the CREATE_CHILD_SA that made it, if any.
    pub key_exchange: Option<KeMethod>,
}

/// One proposal chosen by the responder: the peer's proposal number and SPI, and one transform
/// of each type.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Chosen {
    /// The proposal number to echo.
    pub number: u8,
    /// The peer's SPI from its proposal.
    pub peer_spi: Vec<u8>,
    /// One transform per type, in the order the types appear in our proposal.
    pub transforms: Vec<Transform>,
}

impl Chosen {
    /// The proposal to put in our response, with our SPI.
    pub(crate) fn to_proposal(&self, protocol: ProtocolId, our_spi: Vec<u8>) -> Proposal {
        Proposal {
            number: self.number,
            protocol,
            spi: our_spi,
            transforms: self.transforms.clone(),
        }
    }

    /// The transform of `kind`, if any.
    pub(crate) fn transform(&self, kind: TransformType) -> Option<&Transform> {
        self.transforms.iter().find(|t| t.transform_type == kind)
    }

    /// The IKE algorithms, if every mandatory transform is there.
    pub(crate) fn ike_algorithms(&self) -> Option<IkeAlgorithms> {
        let encr = self.transform(TransformType::ENCR)?;
        Some(IkeAlgorithms {
            encryption: Encryption {
                id: EncrId(encr.id),
                key_bits: encr.key_length(),
            },
            integrity: self
                .transform(TransformType::INTEG)
                .map_or(IntegId::NONE, |t| IntegId(t.id)),
            prf: PrfId(self.transform(TransformType::PRF)?.id),
            key_exchange: KeMethod(self.transform(TransformType::KE)?.id),
        })
    }

    /// The ESP algorithms and PFS method, if every mandatory transform is there.
    pub(crate) fn child_algorithms(&self) -> Option<ChildAlgorithms> {
        let encr = self.transform(TransformType::ENCR)?;
        let esn = self
            .transform(TransformType::ESN)
            .is_some_and(|t| EsnId(t.id) == EsnId::ESN);
        Some(ChildAlgorithms {
            esp: EspAlgorithms {
                encr: EncrId(encr.id),
                encr_key_bits: encr.key_length(),
                integ: self
                    .transform(TransformType::INTEG)
                    .map_or(IntegId::NONE, |t| IntegId(t.id)),
                esn,
            },
            key_exchange: self
                .transform(TransformType::KE)
                .map(|t| KeMethod(t.id))
                .filter(|m| *m != KeMethod::NONE),
        })
    }
}

/// Our IKE proposals as SA payload proposals, numbered from 1, with `spi` (empty in an initial
/// IKE_SA_INIT, our new SPI in an IKE SA rekey).
pub(crate) fn ike_proposals(config: &[IkeProposal], spi: &[u8]) -> Vec<Proposal> {
    config
        .iter()
        .zip(1u8..)
        .map(|(proposal, number)| {
            let mut transforms = Vec::new();
            transforms.extend(proposal.encryption.iter().map(encr_transform));
            transforms.extend(proposal.prf.iter().map(|p| plain(TransformType::PRF, p.0)));
            transforms.extend(
                proposal
                    .integrity
                    .iter()
                    .filter(|i| **i != IntegId::NONE)
                    .map(|i| plain(TransformType::INTEG, i.0)),
            );
            transforms.extend(
                proposal
                    .key_exchange
                    .iter()
                    .map(|k| plain(TransformType::KE, k.0)),
            );
            Proposal {
                number,
                protocol: ProtocolId::IKE,
                spi: spi.to_vec(),
                transforms,
            }
        })
        .collect()
}

/// Our ESP proposals, numbered from 1, with our inbound SPI. `with_ke` includes the PFS KE
/// transforms (left out in IKE_AUTH, [RFC 7296 §1.2]).
///
/// [RFC 7296 §1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
pub(crate) fn esp_proposals(config: &[EspProposal], spi: u32, with_ke: bool) -> Vec<Proposal> {
    config
        .iter()
        .zip(1u8..)
        .map(|(proposal, number)| {
            let mut transforms = Vec::new();
            transforms.extend(proposal.encryption.iter().map(encr_transform));
            transforms.extend(
                proposal
                    .integrity
                    .iter()
                    .filter(|i| **i != IntegId::NONE)
                    .map(|i| plain(TransformType::INTEG, i.0)),
            );
            if with_ke {
                transforms.extend(
                    proposal
                        .key_exchange
                        .iter()
                        .map(|k| plain(TransformType::KE, k.0)),
                );
            }
            let esn: &[EsnId] = match proposal.esn {
                Esn::No => &[EsnId::NO_ESN],
                Esn::Yes => &[EsnId::ESN],
                Esn::Either => &[EsnId::ESN, EsnId::NO_ESN],
            };
            transforms.extend(esn.iter().map(|e| plain(TransformType::ESN, e.0)));
            Proposal {
                number,
                protocol: ProtocolId::ESP,
                spi: spi.to_be_bytes().to_vec(),
                transforms,
            }
        })
        .collect()
}

/// Chooses one of the peer's proposals as responder ([RFC 7296 §2.7]). Our proposals are tried
/// in our order of preference (strongSwan's default); within a proposal, for each transform type
/// the first of ours that the peer also offers wins, except that `preferred_ke` (the method of
/// the initiator's KE payload) wins when acceptable, which saves an INVALID_KE_PAYLOAD round
/// trip.
///
/// A peer proposal is acceptable when it has the same protocol, an SPI of the right size, and
/// shares a transform of every type our proposal has and has no type ours lacks (other than
/// a KE of NONE). Transforms with attributes other than KEY_LENGTH are skipped (§3.3.6).
///
/// [RFC 7296 §2.7]: https://www.rfc-editor.org/rfc/rfc7296#section-2.7
pub(crate) fn choose(
    ours: &[Proposal],
    theirs: &[Proposal],
    preferred_ke: Option<KeMethod>,
) -> Option<Chosen> {
    for our in ours {
        for their in theirs {
            if their.protocol != our.protocol || !spi_size_ok(their) {
                continue;
            }
            if let Some(transforms) = match_transforms(our, their, preferred_ke) {
                return Some(Chosen {
                    number: their.number,
                    peer_spi: their.spi.clone(),
                    transforms,
                });
            }
        }
    }
    None
}

/// Checks the responder's answer to our proposals ([RFC 7296 §3.3.6]): exactly one proposal,
/// numbered as one of ours, with one transform of each type that proposal had, each one we
/// offered.
///
/// # Errors
///
/// [`PeerMisbehaved::ProposalNotOffered`] or [`PeerMisbehaved::BadSpiSize`].
///
/// [RFC 7296 §3.3.6]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3.6
pub(crate) fn check_response(
    ours: &[Proposal],
    theirs: &[Proposal],
) -> Result<Chosen, PeerMisbehaved> {
    let [their] = theirs else {
        return Err(PeerMisbehaved::ProposalNotOffered);
    };
    let our = ours
        .iter()
        .find(|p| p.number == their.number && p.protocol == their.protocol)
        .ok_or(PeerMisbehaved::ProposalNotOffered)?;
    if !spi_size_ok(their) {
        return Err(PeerMisbehaved::BadSpiSize);
    }
    let mut transforms = Vec::new();
    for kind in types_of(our) {
        let mut of_kind = their.transforms.iter().filter(|t| t.transform_type == kind);
        let (Some(chosen), None) = (of_kind.next(), of_kind.next()) else {
            return Err(PeerMisbehaved::ProposalNotOffered);
        };
        if !our.transforms.iter().any(|t| same_transform(t, chosen)) {
            return Err(PeerMisbehaved::ProposalNotOffered);
        }
        transforms.push(chosen.clone());
    }
    if their.transforms.iter().any(|t| {
        !our.transforms
            .iter()
            .any(|o| o.transform_type == t.transform_type)
    }) {
        return Err(PeerMisbehaved::ProposalNotOffered);
    }
    Ok(Chosen {
        number: their.number,
        peer_spi: their.spi.clone(),
        transforms,
    })
}

/// Whether any of our proposals accepts `method` as its KE transform (for INVALID_KE_PAYLOAD
/// handling, [RFC 7296 §1.2]).
///
/// [RFC 7296 §1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
pub(crate) fn offers_ke(ours: &[Proposal], method: KeMethod) -> bool {
    ours.iter()
        .flat_map(|p| &p.transforms)
        .any(|t| t.transform_type == TransformType::KE && KeMethod(t.id) == method)
}

/// `config` reduced to the algorithms `crypto` implements; proposals left without an
/// encryption, PRF or KE transform are dropped.
pub(crate) fn supported_ike(crypto: &CryptoProvider, config: &[IkeProposal]) -> Vec<IkeProposal> {
    config
        .iter()
        .map(|p| IkeProposal {
            encryption: supported_encryption(crypto, &p.encryption),
            integrity: p
                .integrity
                .iter()
                .copied()
                .filter(|i| crypto.integ(*i).is_some())
                .collect(),
            prf: p
                .prf
                .iter()
                .copied()
                .filter(|f| crypto.prf(*f).is_some())
                .collect(),
            key_exchange: p
                .key_exchange
                .iter()
                .copied()
                .filter(|k| crypto.key_exchange(*k).is_some())
                .collect(),
        })
        .filter(|p| {
            let aead = p.encryption.iter().any(Encryption::is_aead);
            !p.encryption.is_empty()
                && !p.prf.is_empty()
                && !p.key_exchange.is_empty()
                && (aead || !p.integrity.is_empty())
        })
        .collect()
}

/// `config` reduced to the algorithms `crypto` implements (the data plane uses the same
/// provider); proposals left without encryption (or PFS group, when one was configured) are
/// dropped.
pub(crate) fn supported_esp(crypto: &CryptoProvider, config: &[EspProposal]) -> Vec<EspProposal> {
    config
        .iter()
        .map(|p| EspProposal {
            encryption: supported_encryption(crypto, &p.encryption),
            integrity: p
                .integrity
                .iter()
                .copied()
                .filter(|i| crypto.integ(*i).is_some())
                .collect(),
            key_exchange: p
                .key_exchange
                .iter()
                .copied()
                .filter(|k| crypto.key_exchange(*k).is_some())
                .collect(),
            esn: p.esn,
        })
        .zip(config)
        .filter(|(p, original)| {
            let aead = p.encryption.iter().any(Encryption::is_aead);
            !p.encryption.is_empty()
                && (aead || !p.integrity.is_empty())
                && (original.key_exchange.is_empty() || !p.key_exchange.is_empty())
        })
        .map(|(p, _)| p)
        .collect()
}

fn supported_encryption(crypto: &CryptoProvider, encryption: &[Encryption]) -> Vec<Encryption> {
    encryption
        .iter()
        .copied()
        .filter(|e| {
            crypto.aead(e.id, e.key_bits).is_some() || crypto.cipher(e.id, e.key_bits).is_some()
        })
        .collect()
}

fn match_transforms(
    our: &Proposal,
    their: &Proposal,
    preferred_ke: Option<KeMethod>,
) -> Option<Vec<Transform>> {
    // The peer must not require a transform type we do not negotiate (a KE of NONE is the
    // same as no KE).
    let extra = their.transforms.iter().any(|t| {
        let none_ke = t.transform_type == TransformType::KE && t.id == KeMethod::NONE.0;
        let known = our
            .transforms
            .iter()
            .any(|o| o.transform_type == t.transform_type);
        !known && !none_ke
    });
    if extra {
        return None;
    }
    let mut chosen = Vec::new();
    for kind in types_of(our) {
        let acceptable = |t: &&Transform| {
            t.transform_type == kind
                && supported_attributes(t)
                && their.transforms.iter().any(|p| same_transform(t, p))
        };
        let preferred = preferred_ke
            .filter(|_| kind == TransformType::KE)
            .and_then(|ke| {
                our.transforms
                    .iter()
                    .filter(acceptable)
                    .find(|t| t.id == ke.0)
            });
        let pick = preferred.or_else(|| our.transforms.iter().find(acceptable))?;
        chosen.push(pick.clone());
    }
    Some(chosen)
}

fn types_of(proposal: &Proposal) -> Vec<TransformType> {
    let mut kinds: Vec<TransformType> = Vec::new();
    for t in &proposal.transforms {
        if !kinds.contains(&t.transform_type) {
            kinds.push(t.transform_type);
        }
    }
    kinds
}

fn same_transform(a: &Transform, b: &Transform) -> bool {
    a.transform_type == b.transform_type && a.id == b.id && a.key_length() == b.key_length()
}

fn supported_attributes(t: &Transform) -> bool {
    t.attributes.iter().all(|a| {
        matches!(a, TransformAttribute::Tv { kind, .. } if *kind == TransformAttributeType::KEY_LENGTH.0)
    })
}

fn spi_size_ok(proposal: &Proposal) -> bool {
    match proposal.protocol {
        ProtocolId::IKE => proposal.spi.is_empty() || proposal.spi.len() == 8,
        ProtocolId::ESP | ProtocolId::AH => proposal.spi.len() == 4,
        _ => false,
    }
}

fn encr_transform(encryption: &Encryption) -> Transform {
    Transform {
        transform_type: TransformType::ENCR,
        id: encryption.id.0,
        attributes: encryption
            .key_bits
            .map(|bits| TransformAttribute::Tv {
                kind: TransformAttributeType::KEY_LENGTH.0,
                value: bits,
            })
            .into_iter()
            .collect(),
    }
}

fn plain(kind: TransformType, id: u16) -> Transform {
    Transform {
        transform_type: kind,
        id,
        attributes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ike(encr: Vec<Encryption>, ke: Vec<KeMethod>) -> IkeProposal {
        IkeProposal {
            encryption: encr,
            integrity: Vec::new(),
            prf: vec![PrfId::HMAC_SHA2_256],
            key_exchange: ke,
        }
    }

    #[test]
    fn chooses_our_first_acceptable_transforms() {
        let ours = ike_proposals(
            &[ike(
                vec![Encryption::aes_gcm16(256), Encryption::aes_gcm16(128)],
                vec![KeMethod::CURVE25519],
            )],
            &[],
        );
        let theirs = ike_proposals(
            &[ike(
                vec![Encryption::aes_gcm16(128), Encryption::aes_gcm16(256)],
                vec![KeMethod::ECP_256, KeMethod::CURVE25519],
            )],
            &[],
        );
        let chosen = choose(&ours, &theirs, None).unwrap();
        let algorithms = chosen.ike_algorithms().unwrap();
        assert_eq!(algorithms.encryption, Encryption::aes_gcm16(256));
        assert_eq!(algorithms.key_exchange, KeMethod::CURVE25519);
        assert_eq!(algorithms.integrity, IntegId::NONE);
        // The initiator accepts what we chose.
        let echoed = chosen.to_proposal(ProtocolId::IKE, Vec::new());
        assert_eq!(check_response(&theirs, &[echoed]).unwrap(), chosen);
    }

    #[test]
    fn key_length_must_match() {
        let ours = ike_proposals(
            &[ike(
                vec![Encryption::aes_gcm16(256)],
                vec![KeMethod::CURVE25519],
            )],
            &[],
        );
        let theirs = ike_proposals(
            &[ike(
                vec![Encryption::aes_gcm16(128)],
                vec![KeMethod::CURVE25519],
            )],
            &[],
        );
        assert_eq!(choose(&ours, &theirs, None), None);
    }

    #[test]
    fn preferred_ke_wins_when_acceptable() {
        let both = ike_proposals(
            &[ike(
                vec![Encryption::aes_gcm16(128)],
                vec![KeMethod::CURVE25519, KeMethod::ECP_256],
            )],
            &[],
        );
        let chosen = choose(&both, &both, Some(KeMethod::ECP_256)).unwrap();
        assert_eq!(
            chosen.ike_algorithms().unwrap().key_exchange,
            KeMethod::ECP_256
        );
        let chosen = choose(&both, &both, Some(KeMethod::MODP_2048)).unwrap();
        assert_eq!(
            chosen.ike_algorithms().unwrap().key_exchange,
            KeMethod::CURVE25519
        );
    }

    #[test]
    fn response_with_unoffered_transform_is_rejected() {
        let ours = ike_proposals(
            &[ike(
                vec![Encryption::aes_gcm16(128)],
                vec![KeMethod::CURVE25519],
            )],
            &[],
        );
        let mut bad = ours[0].clone();
        bad.transforms[0].id = EncrId::CHACHA20_POLY1305.0;
        assert_eq!(
            check_response(&ours, &[bad]),
            Err(PeerMisbehaved::ProposalNotOffered)
        );
        // Two proposals in a response.
        assert_eq!(
            check_response(&ours, &[ours[0].clone(), ours[0].clone()]),
            Err(PeerMisbehaved::ProposalNotOffered)
        );
        // Several transforms of one type.
        let mut many = ours[0].clone();
        many.transforms.push(many.transforms[0].clone());
        assert_eq!(
            check_response(&ours, &[many]),
            Err(PeerMisbehaved::ProposalNotOffered)
        );
    }

    #[test]
    fn esp_without_pfs_accepts_peer_without_ke_and_rejects_extra_types() {
        let ours = esp_proposals(&EspProposal::defaults(), 0x1234, true);
        let theirs = esp_proposals(&EspProposal::defaults(), 0x5678, true);
        let chosen = choose(&ours, &theirs, None).unwrap();
        assert_eq!(chosen.peer_spi, 0x5678u32.to_be_bytes().to_vec());
        let algorithms = chosen.child_algorithms().unwrap();
        assert_eq!(algorithms.esp.encr, EncrId::AES_GCM_16);
        assert_eq!(algorithms.key_exchange, None);
        // A peer that demands PFS is not acceptable to a config without it.
        let mut pfs = EspProposal::defaults();
        pfs.iter_mut()
            .for_each(|p| p.key_exchange = vec![KeMethod::CURVE25519]);
        let theirs = esp_proposals(&pfs, 0x5678, true);
        assert_eq!(choose(&ours, &theirs, None), None);
    }

    #[test]
    fn esp_with_pfs() {
        let mut pfs = EspProposal::defaults();
        pfs.iter_mut()
            .for_each(|p| p.key_exchange = vec![KeMethod::CURVE25519]);
        let ours = esp_proposals(&pfs, 1, true);
        let theirs = esp_proposals(&pfs, 2, true);
        let chosen = choose(&ours, &theirs, None).unwrap();
        assert_eq!(
            chosen.child_algorithms().unwrap().key_exchange,
            Some(KeMethod::CURVE25519)
        );
        // Without KE in IKE_AUTH.
        assert!(
            esp_proposals(&pfs, 1, false)
                .iter()
                .flat_map(|p| &p.transforms)
                .all(|t| t.transform_type != TransformType::KE)
        );
    }
}
