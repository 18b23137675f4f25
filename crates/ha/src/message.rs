//! Sync records: what travels inside a sync datagram (docs/design/ha.md, "Wire format").
//!
//! A datagram's plaintext is a list of records, each a TLV attribute (16-bit record type,
//! 16-bit length) whose value is itself a list of attributes. A receiver skips record types
//! and attribute types it does not know, so a node one version ahead can add both without
//! breaking the cluster during a rolling upgrade; an incompatible change bumps the datagram
//! header's version instead ([`crate::channel`]).
//!
//! A record that fails to decode is dropped alone and counted; the records around it still
//! apply. Because every record is decoded completely before anything is applied, a corrupt or
//! truncated attribute never replaces a good snapshot.

use hitless_ike::IkeSaSnapshot;
use hitless_ike::IkeSpis;
use hitless_ike::InFlight;
use hitless_ike::WindowSnapshot;
use hitless_sadb::Direction;
use hitless_sadb::Spi;
use zeroize::Zeroizing;

use crate::sa_codec;
use crate::status::Role;
use crate::tlv;
use crate::tlv::Fields;
use crate::tlv::TlvError;
use crate::tlv::Writer;

/// A random session identifier, chosen by a node each time it starts.
pub(crate) type SessionId = [u8; 16];

/// A challenge nonce.
pub(crate) type Nonce = [u8; 16];

/// One sync record.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Record {
    /// Liveness, role and acknowledgement of the receiver's stream.
    Heartbeat(Heartbeat),
    /// "Prove that `target` is your current session": sent for a session not yet verified.
    Challenge {
        /// The session being challenged.
        target: SessionId,
        /// To be echoed.
        nonce: Nonce,
    },
    /// The answer to a challenge, sent in the challenged session.
    ChallengeResponse {
        /// The challenge's nonce.
        nonce: Nonce,
    },
    /// "Datagrams `from..=to` of your stream never arrived."
    Nack {
        /// First missing sequence number.
        from: u64,
        /// Last missing sequence number.
        to: u64,
    },
    /// "Send me everything": a node that starts, restarts or was demoted.
    ResyncRequest,
    /// A bulk transfer of every SA follows; SAs the receiver holds that it does not contain
    /// are gone.
    BulkBegin {
        /// How many IKE SAs the transfer holds.
        sas: u32,
        /// The sender's role when it started the transfer.
        sender_role: Role,
    },
    /// The end of a bulk transfer.
    BulkEnd {
        /// How many IKE SAs it held.
        sas: u32,
    },
    /// An IKE SA was created or changed: its complete state.
    IkeSa(Box<SaRecord>),
    /// An IKE SA is gone.
    IkeSaDelete(IkeSpis),
    /// An IKE SA's message IDs moved.
    MessageIds(Box<MessageIds>),
    /// ESP sequence checkpoints.
    Checkpoints(Vec<Checkpoint>),
}

/// A heartbeat's content.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Heartbeat {
    /// The sender's role.
    pub(crate) role: Role,
    /// The highest takeover epoch the sender knows.
    pub(crate) epoch: u64,
    /// Whether the sender holds a complete copy of the active node's state.
    pub(crate) ready: bool,
    /// The highest sequence number of the receiver's stream that the sender has received
    /// without a gap.
    pub(crate) ack: u64,
    /// IKE SAs the sender holds.
    pub(crate) sas: u32,
}

/// A full IKE SA snapshot and how its message IDs are synced.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct SaRecord {
    /// The state.
    pub(crate) snapshot: IkeSaSnapshot,
    /// The sender syncs this SA's message IDs lazily (RFC 6311 negotiated with the peer), so
    /// they may be behind after a takeover.
    pub(crate) lazy_ids: bool,
}

/// New message IDs of an IKE SA.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct MessageIds {
    /// The IKE SA.
    pub(crate) spis: IkeSpis,
    /// The whole window (outstanding request and cached response included) as of this
    /// exchange; false for a lazy update that carries only the two counters.
    pub(crate) exact: bool,
    /// The counters and, when exact, the cached messages.
    pub(crate) window: WindowSnapshot,
    /// What the outstanding request is for (exact updates only).
    pub(crate) in_flight: Option<InFlight>,
}

/// The sequence state of one ESP SA as the sender knows it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Checkpoint {
    /// The SA: our inbound SPI or the peer's (outbound).
    pub(crate) spi: Spi,
    /// Its direction.
    pub(crate) direction: Direction,
    /// Outbound: the last sequence number used. Inbound: the highest accepted.
    pub(crate) sequence: u64,
}

/// The records of one plaintext, with what had to be skipped.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Records that decoded.
    pub(crate) records: Vec<Record>,
    /// Records of a type this version does not know (skipped).
    pub(crate) unknown: u32,
    /// Records that failed to decode (dropped).
    pub(crate) corrupt: u32,
}

impl Record {
    /// Appends this record, TLV-encoded, to `w`.
    ///
    /// # Errors
    ///
    /// [`TlvError::TooLong`] when it does not fit a 16-bit length.
    pub(crate) fn write(&self, w: &mut Writer) -> Result<(), TlvError> {
        w.nested(self.kind(), |w| {
            self.write_fields(w)?;
            // Last: a list cut at an attribute boundary lacks it, so it is never mistaken
            // for a complete record with fewer attributes.
            w.bytes(END, &[])
        })
    }

    fn kind(&self) -> u16 {
        match self {
            Self::Heartbeat(_) => HEARTBEAT,
            Self::Challenge { .. } => CHALLENGE,
            Self::ChallengeResponse { .. } => CHALLENGE_RESPONSE,
            Self::Nack { .. } => NACK,
            Self::ResyncRequest => RESYNC_REQUEST,
            Self::BulkBegin { .. } => BULK_BEGIN,
            Self::BulkEnd { .. } => BULK_END,
            Self::IkeSa(_) => IKE_SA,
            Self::IkeSaDelete(_) => IKE_SA_DELETE,
            Self::MessageIds(_) => MESSAGE_IDS,
            Self::Checkpoints(_) => CHECKPOINTS,
        }
    }

    fn write_fields(&self, w: &mut Writer) -> Result<(), TlvError> {
        match self {
            Self::Heartbeat(h) => {
                w.u8(HB_ROLE, h.role.to_wire());
                w.u64(HB_EPOCH, h.epoch);
                w.flag(HB_READY, h.ready);
                w.u64(HB_ACK, h.ack);
                w.u32(HB_SAS, h.sas);
                Ok(())
            }
            Self::Challenge { target, nonce } => {
                w.bytes(CH_TARGET, target)?;
                w.bytes(CH_NONCE, nonce)
            }
            Self::ChallengeResponse { nonce } => w.bytes(CH_NONCE, nonce),
            Self::Nack { from, to } => {
                w.u64(NACK_FROM, *from);
                w.u64(NACK_TO, *to);
                Ok(())
            }
            Self::ResyncRequest => Ok(()),
            Self::BulkBegin { sas, sender_role } => {
                w.u32(BULK_SAS, *sas);
                w.u8(BULK_ROLE, sender_role.to_wire());
                Ok(())
            }
            Self::BulkEnd { sas } => {
                w.u32(BULK_SAS, *sas);
                Ok(())
            }
            Self::IkeSa(record) => {
                sa_codec::write_snapshot(w, &record.snapshot)?;
                if record.lazy_ids {
                    w.flag(SA_LAZY_IDS, true);
                }
                Ok(())
            }
            Self::IkeSaDelete(spis) => {
                sa_codec::write_spis(w, *spis);
                Ok(())
            }
            Self::MessageIds(ids) => {
                sa_codec::write_spis(w, ids.spis);
                w.flag(MID_EXACT, ids.exact);
                w.nested(sa_codec::WINDOW, |w| sa_codec::write_window(w, &ids.window))?;
                if let Some(in_flight) = &ids.in_flight {
                    sa_codec::write_in_flight(w, in_flight)?;
                }
                Ok(())
            }
            Self::Checkpoints(entries) => {
                for entry in entries {
                    let mut value = [0u8; CHECKPOINT_ENTRY_LEN];
                    value[..4].copy_from_slice(&entry.spi.0.to_be_bytes());
                    value[4] = match entry.direction {
                        Direction::Inbound => 1,
                        Direction::Outbound => 2,
                    };
                    value[5..].copy_from_slice(&entry.sequence.to_be_bytes());
                    w.bytes(CP_ENTRY, &value)?;
                }
                Ok(())
            }
        }
    }

    /// The record encoded on its own.
    ///
    /// # Errors
    ///
    /// As [`Record::write`].
    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, TlvError> {
        let mut w = Writer::new();
        self.write(&mut w)?;
        Ok(w.into_bytes())
    }

    /// Decodes one record of type `kind`; `None` for a type this version does not know.
    fn read(kind: u16, value: &[u8]) -> Result<Option<Self>, TlvError> {
        if !KNOWN.contains(&kind) {
            return Ok(None);
        }
        let f = Fields::parse(value)?;
        f.one(END)?;
        Ok(Some(match kind {
            HEARTBEAT => Self::Heartbeat(Heartbeat {
                role: Role::from_wire(f.u8(HB_ROLE)?).ok_or(TlvError::BadValue(HB_ROLE))?,
                epoch: f.u64(HB_EPOCH)?,
                ready: f.flag(HB_READY)?,
                ack: f.u64(HB_ACK)?,
                sas: f.u32(HB_SAS)?,
            }),
            CHALLENGE => Self::Challenge {
                target: f.array(CH_TARGET)?,
                nonce: f.array(CH_NONCE)?,
            },
            CHALLENGE_RESPONSE => Self::ChallengeResponse {
                nonce: f.array(CH_NONCE)?,
            },
            NACK => {
                let (from, to) = (f.u64(NACK_FROM)?, f.u64(NACK_TO)?);
                if from == 0 || to < from {
                    return Err(TlvError::BadValue(NACK_TO));
                }
                Self::Nack { from, to }
            }
            RESYNC_REQUEST => Self::ResyncRequest,
            BULK_BEGIN => Self::BulkBegin {
                sas: f.u32(BULK_SAS)?,
                sender_role: Role::from_wire(f.u8(BULK_ROLE)?)
                    .ok_or(TlvError::BadValue(BULK_ROLE))?,
            },
            BULK_END => Self::BulkEnd {
                sas: f.u32(BULK_SAS)?,
            },
            IKE_SA => Self::IkeSa(Box::new(SaRecord {
                snapshot: sa_codec::read_snapshot(&f)?,
                lazy_ids: f.flag_or_false(SA_LAZY_IDS)?,
            })),
            IKE_SA_DELETE => Self::IkeSaDelete(sa_codec::read_spis(&f)?),
            MESSAGE_IDS => {
                let exact = f.flag(MID_EXACT)?;
                let window = sa_codec::read_window(&f.nested(sa_codec::WINDOW)?)?;
                let in_flight = sa_codec::read_in_flight(&f)?;
                let only_counters = window.outstanding.is_none()
                    && window.last_response.is_none()
                    && in_flight.is_none();
                if !exact && !only_counters {
                    return Err(TlvError::BadValue(MID_EXACT));
                }
                Self::MessageIds(Box::new(MessageIds {
                    spis: sa_codec::read_spis(&f)?,
                    exact,
                    window,
                    in_flight,
                }))
            }
            CHECKPOINTS => Self::Checkpoints(
                f.all(CP_ENTRY)
                    .map(read_checkpoint)
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Ok(None),
        }))
    }
}

/// Decodes every record of a plaintext. Unknown record types are skipped; a record that fails
/// to decode is dropped alone; a truncated tail ends the list.
pub(crate) fn decode(plaintext: &[u8]) -> Decoded {
    let mut decoded = Decoded::default();
    let mut rest = plaintext;
    while !rest.is_empty() {
        let Ok((kind, value, tail)) = tlv::split_one(rest) else {
            decoded.corrupt += 1;
            break;
        };
        rest = tail;
        match Record::read(kind, value) {
            Ok(Some(record)) => decoded.records.push(record),
            Ok(None) => decoded.unknown += 1,
            Err(_) => decoded.corrupt += 1,
        }
    }
    decoded
}

fn read_checkpoint(value: &[u8]) -> Result<Checkpoint, TlvError> {
    let value: [u8; CHECKPOINT_ENTRY_LEN] = tlv::array(CP_ENTRY, value)?;
    let direction = match value[4] {
        1 => Direction::Inbound,
        2 => Direction::Outbound,
        _ => return Err(TlvError::BadValue(CP_ENTRY)),
    };
    let mut sequence = [0u8; 8];
    sequence.copy_from_slice(&value[5..]);
    Ok(Checkpoint {
        spi: Spi(u32::from_be_bytes([value[0], value[1], value[2], value[3]])),
        direction,
        sequence: u64::from_be_bytes(sequence),
    })
}

/// Bytes one checkpoint entry takes in a record, header included.
pub(crate) const CHECKPOINT_ENCODED_LEN: usize = tlv::ATTRIBUTE_HEADER_LEN + CHECKPOINT_ENTRY_LEN;

/// A checkpoint entry's value: SPI, direction, sequence number.
const CHECKPOINT_ENTRY_LEN: usize = 13;

/// The record types this version reads.
const KNOWN: [u16; 11] = [
    HEARTBEAT,
    CHALLENGE,
    CHALLENGE_RESPONSE,
    NACK,
    RESYNC_REQUEST,
    BULK_BEGIN,
    BULK_END,
    IKE_SA,
    IKE_SA_DELETE,
    MESSAGE_IDS,
    CHECKPOINTS,
];

/// The last attribute of every record (empty). Records are cut only at attribute boundaries
/// by a bug or a hostile member, and such a cut loses it.
const END: u16 = 0;

// Record types. Numbers are never reused.
const HEARTBEAT: u16 = 1;
const CHALLENGE: u16 = 2;
const CHALLENGE_RESPONSE: u16 = 3;
const NACK: u16 = 4;
const RESYNC_REQUEST: u16 = 5;
const BULK_BEGIN: u16 = 6;
const BULK_END: u16 = 7;
const IKE_SA: u16 = 16;
const IKE_SA_DELETE: u16 = 17;
const MESSAGE_IDS: u16 = 18;
const CHECKPOINTS: u16 = 19;

// Attributes of HEARTBEAT.
const HB_ROLE: u16 = 1;
const HB_EPOCH: u16 = 2;
const HB_READY: u16 = 3;
const HB_ACK: u16 = 4;
const HB_SAS: u16 = 5;
// Of CHALLENGE and CHALLENGE_RESPONSE.
const CH_TARGET: u16 = 1;
const CH_NONCE: u16 = 2;
// Of NACK.
const NACK_FROM: u16 = 1;
const NACK_TO: u16 = 2;
// Of BULK_BEGIN and BULK_END.
const BULK_SAS: u16 = 1;
const BULK_ROLE: u16 = 2;
// Of IKE_SA, beyond the snapshot's own (sa_codec uses 1–31).
const SA_LAZY_IDS: u16 = 64;
// Of MESSAGE_IDS, beside SPI_I, SPI_R, WINDOW and IN_FLIGHT.
const MID_EXACT: u16 = 64;
// Of CHECKPOINTS.
const CP_ENTRY: u16 = 1;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_snapshot;

    fn all_records() -> Vec<Record> {
        let snapshot = sample_snapshot(7);
        vec![
            Record::Heartbeat(Heartbeat {
                role: Role::Active,
                epoch: 3,
                ready: true,
                ack: 99,
                sas: 12,
            }),
            Record::Challenge {
                target: [1; 16],
                nonce: [2; 16],
            },
            Record::ChallengeResponse { nonce: [3; 16] },
            Record::Nack { from: 5, to: 9 },
            Record::ResyncRequest,
            Record::BulkBegin {
                sas: 2,
                sender_role: Role::Standby,
            },
            Record::BulkEnd { sas: 2 },
            Record::IkeSa(Box::new(SaRecord {
                snapshot: snapshot.clone(),
                lazy_ids: true,
            })),
            Record::IkeSaDelete(snapshot.spis),
            Record::MessageIds(Box::new(MessageIds {
                spis: snapshot.spis,
                exact: true,
                window: snapshot.window.clone(),
                in_flight: snapshot.in_flight.clone(),
            })),
            Record::MessageIds(Box::new(MessageIds {
                spis: snapshot.spis,
                exact: false,
                window: WindowSnapshot {
                    next_request: 9,
                    next_expected: 4,
                    ..WindowSnapshot::default()
                },
                in_flight: None,
            })),
            Record::Checkpoints(vec![
                Checkpoint {
                    spi: Spi(0x1234),
                    direction: Direction::Outbound,
                    sequence: 1 << 40,
                },
                Checkpoint {
                    spi: Spi(0x4321),
                    direction: Direction::Inbound,
                    sequence: 7,
                },
            ]),
        ]
    }

    fn encode_all(records: &[Record]) -> Vec<u8> {
        let mut w = Writer::new();
        for record in records {
            record.write(&mut w).unwrap();
        }
        w.into_bytes().to_vec()
    }

    #[test]
    fn every_record_round_trips() {
        let records = all_records();
        let bytes = encode_all(&records);
        let decoded = decode(&bytes);
        assert_eq!(decoded.unknown, 0);
        assert_eq!(decoded.corrupt, 0);
        assert_eq!(decoded.records, records);
    }

    #[test]
    fn unknown_records_and_attributes_are_skipped() {
        let records = all_records();
        let mut w = Writer::new();
        w.bytes(0x0400, b"a record from the future").unwrap();
        // A snapshot with an attribute from the future in the SA and in a Child SA.
        let Record::IkeSa(sa) = &records[7] else {
            unreachable!()
        };
        w.nested(IKE_SA, |w| {
            w.bytes(0x7000, b"new field")?;
            sa_codec::write_snapshot(w, &sa.snapshot)?;
            w.u64(0x7001, 5);
            w.bytes(END, &[])?;
            // A newer version may append after END.
            w.u64(0x7002, 6);
            Ok(())
        })
        .unwrap();
        let bytes = w.into_bytes();
        let decoded = decode(&bytes);
        assert_eq!(decoded.unknown, 1);
        assert_eq!(decoded.corrupt, 0);
        let Record::IkeSa(got) = &decoded.records[0] else {
            panic!("{:?}", decoded.records)
        };
        assert_eq!(got.snapshot, sa.snapshot);
    }

    #[test]
    fn a_corrupt_record_is_dropped_alone() {
        let records = all_records();
        let mut w = Writer::new();
        records[0].write(&mut w).unwrap();
        // An IKE SA record without its keys.
        w.nested(IKE_SA, |w| {
            w.u64(sa_codec::SPI_I, 1);
            w.bytes(END, &[])
        })
        .unwrap();
        records[3].write(&mut w).unwrap();
        let bytes = w.into_bytes();
        let decoded = decode(&bytes);
        assert_eq!(decoded.corrupt, 1);
        assert_eq!(
            decoded.records,
            vec![records[0].clone(), records[3].clone()]
        );
    }

    #[test]
    fn truncation_never_yields_a_partial_snapshot() {
        let snapshot = sample_snapshot(3);
        let record = Record::IkeSa(Box::new(SaRecord {
            snapshot,
            lazy_ids: false,
        }));
        let bytes = record.encode().unwrap();
        for cut in 0..bytes.len() {
            let decoded = decode(&bytes[..cut]);
            assert!(decoded.records.is_empty(), "cut at {cut}");
        }
        // Shortening the record's own length field cuts into its attributes.
        for cut in 1..bytes.len() - 4 {
            let mut shortened = bytes[..4 + cut].to_vec();
            let len = u16::try_from(cut).unwrap();
            shortened[2..4].copy_from_slice(&len.to_be_bytes());
            let decoded = decode(&shortened);
            assert!(decoded.records.is_empty(), "length {cut}");
            assert_eq!(decoded.corrupt, 1);
        }
    }

    #[test]
    fn inconsistent_values_are_rejected() {
        // A lazy message-ID update may not carry cached messages.
        let snapshot = sample_snapshot(1);
        let lazy_with_messages = Record::MessageIds(Box::new(MessageIds {
            spis: snapshot.spis,
            exact: false,
            window: snapshot.window,
            in_flight: None,
        }));
        let decoded = decode(&lazy_with_messages.encode().unwrap());
        assert_eq!(decoded.corrupt, 1);
        let nack = Record::Nack { from: 9, to: 5 };
        assert_eq!(decode(&nack.encode().unwrap()).corrupt, 1);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::test_support::sample_snapshot;

    fn record() -> impl Strategy<Value = Record> {
        prop_oneof![
            (
                any::<u64>(),
                any::<bool>(),
                any::<u64>(),
                any::<u32>(),
                1u8..=3
            )
                .prop_map(|(epoch, ready, ack, sas, role)| Record::Heartbeat(
                    Heartbeat {
                        role: Role::from_wire(role).unwrap(),
                        epoch,
                        ready,
                        ack,
                        sas,
                    }
                )),
            (1u64.., any::<u64>()).prop_map(|(from, len)| Record::Nack {
                from,
                to: from.saturating_add(len % 1000),
            }),
            proptest::collection::vec((any::<u32>(), any::<bool>(), any::<u64>()), 0..60).prop_map(
                |entries| Record::Checkpoints(
                    entries
                        .into_iter()
                        .map(|(spi, inbound, sequence)| Checkpoint {
                            spi: Spi(spi),
                            direction: if inbound {
                                Direction::Inbound
                            } else {
                                Direction::Outbound
                            },
                            sequence,
                        })
                        .collect()
                )
            ),
            (
                any::<u8>(),
                any::<u32>(),
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(seed, next_request, next_expected, message)| {
                    let mut snapshot = sample_snapshot(seed);
                    snapshot.window.next_request = next_request;
                    snapshot.window.next_expected = next_expected;
                    if let Some(o) = &mut snapshot.window.outstanding {
                        o.message = message;
                    }
                    Record::IkeSa(Box::new(SaRecord {
                        snapshot,
                        lazy_ids: seed % 3 == 0,
                    }))
                }),
        ]
    }

    proptest! {
        #[test]
        fn records_round_trip(records in proptest::collection::vec(record(), 0..8)) {
            let mut w = Writer::new();
            for record in &records {
                record.write(&mut w).unwrap();
            }
            let decoded = decode(&w.into_bytes());
            prop_assert_eq!(decoded.corrupt, 0);
            prop_assert_eq!(decoded.records, records);
        }

        /// Any corruption of an encoded snapshot record either fails to decode or decodes to
        /// a complete record; it never panics.
        #[test]
        fn corrupted_records_never_panic(
            seed in any::<u8>(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        ) {
            let record = Record::IkeSa(Box::new(SaRecord {
                snapshot: sample_snapshot(seed),
                lazy_ids: false,
            }));
            let mut bytes = record.encode().unwrap().to_vec();
            for (at, value) in flips {
                let len = bytes.len();
                bytes[at % len] ^= value;
            }
            let decoded = decode(&bytes);
            prop_assert!(decoded.records.len() + decoded.corrupt as usize + decoded.unknown as usize >= 1);
        }
    }
}
