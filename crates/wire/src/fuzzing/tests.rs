//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the entry points, and
//! (ignored by default) regenerates the seed files from the strongSwan captures:
//!
//! ```sh
//! cargo test -p hitless-wire --lib fuzzing::tests::write_seed_corpora -- --ignored
//! ```

use std::fs;
use std::path::Path;
use std::path::PathBuf;

use super::*;
use crate::ike::AuthPayload;
use crate::ike::CertPayload;
use crate::ike::CertReqPayload;
use crate::ike::CfgAttribute;
use crate::ike::CpPayload;
use crate::ike::DeletePayload;
use crate::ike::EapPayload;
use crate::ike::EncryptedKind;
use crate::ike::Flags;
use crate::ike::Header;
use crate::ike::IdPayload;
use crate::ike::NotifyPayload;
use crate::ike::TrafficSelector;
use crate::ike::VendorIdPayload;
use crate::registry::AuthMethod;
use crate::registry::CertEncoding;
use crate::registry::CfgAttributeType;
use crate::registry::CfgType;
use crate::registry::ExchangeType;
use crate::registry::IdType;
use crate::registry::NotifyType;
use crate::registry::ProtocolId;
use crate::registry::TsType;

/// A fuzz entry point.
type Entry = fn(&[u8]);

const TARGETS: [(&str, Entry); 4] = [
    ("ike_message", ike_message),
    ("sa_proposals", sa_proposals),
    ("traffic_selectors", traffic_selectors),
    ("esp_packet", esp_packet),
];

#[test]
fn replay_corpora() {
    for (target, entry) in TARGETS {
        let dir = corpus_dir(target);
        let files = fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect::<Vec<_>>();
        assert!(!files.is_empty(), "{}: empty corpus", dir.display());
        for file in files {
            let data = fs::read(&file).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| entry(&data)) {
                std::panic::resume_unwind(Box::new(format!("{}: {panic:?}", file.display())));
            }
        }
    }
}

#[test]
fn entry_points_accept_garbage() {
    for (_, entry) in TARGETS {
        for data in [&[][..], &[0], &[0xff], &[0; 64], &[0xff; 64]] {
            entry(data);
        }
    }
}

#[test]
#[ignore = "writes the seed files of fuzz/corpus; run by hand after a new capture"]
fn write_seed_corpora() {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/strongswan");
    for run in ["plain", "frag"] {
        let mut files = fs::read_dir(testdata.join(run))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect::<Vec<_>>();
        files.sort();
        for path in files {
            let name = format!("strongswan-{run}-{}", stem(&path));
            let datagram = fs::read(&path).unwrap();
            let message = match esp::classify_udp4500(&datagram) {
                _ if name.contains("-500-") => &datagram[..],
                esp::Udp4500::Ike(message) => {
                    add_seed("esp_packet", &name, &datagram);
                    message
                }
                _ => {
                    add_seed("esp_packet", &name, &datagram);
                    continue;
                }
            };
            add_seed("ike_message", &name, message);
            let parsed = ike::parse_message(message).unwrap();
            add_bodies(&name, &parsed.payloads);
        }
    }
    let mut inner = fs::read_dir(testdata.join("inner"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "bin"))
        .collect::<Vec<_>>();
    inner.sort();
    for path in inner {
        let name = format!("inner-{}", stem(&path));
        let first = name.rsplit('-').next().unwrap().parse::<u8>().unwrap();
        let plaintext = fs::read(&path).unwrap();
        let payloads = ike::parse_payload_chain(PayloadType(first), &plaintext).unwrap();
        add_bodies(&name, &payloads);
        // The plaintext as the body of an SK payload, so the inner chain parser is reached.
        let (mut message, start) = ike::emit_encrypted_message(
            &header(ExchangeType::IKE_AUTH),
            EncryptedKind::Sk,
            PayloadType(first),
            plaintext.len(),
        );
        message[start..].copy_from_slice(&plaintext);
        add_seed("ike_message", &name, &message);
    }
    let everything = every_payload();
    let message = ike::emit_message(&header(ExchangeType::INFORMATIONAL), &everything);
    add_seed("ike_message", "synthetic-every-payload", &message);
    add_bodies("synthetic-every-payload", &everything);
    let (mut fragment, start) = ike::emit_encrypted_message(
        &header(ExchangeType::IKE_AUTH),
        EncryptedKind::Skf {
            fragment_number: 2,
            total_fragments: 3,
        },
        PayloadType::NONE,
        24,
    );
    fragment[start..].fill(0x5a);
    add_seed("ike_message", "synthetic-skf", &fragment);
    let mut ts_with_unknown = vec![2, 0, 0, 0, 9, 0, 0, 8, 1, 2, 3, 4];
    ts_with_unknown.extend_from_slice(&[7, 17, 0, 16, 0, 53, 0, 53, 10, 0, 0, 1, 10, 0, 0, 9]);
    add_seed(
        "traffic_selectors",
        "synthetic-unknown-type",
        &ts_with_unknown,
    );
    add_seed("esp_packet", "synthetic-keepalive", &[0xff]);
    add_seed(
        "esp_packet",
        "synthetic-trailer",
        &[0x45, 0, 0, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 2, 4],
    );
}

fn add_seed(target: &str, name: &str, data: &[u8]) {
    let dir = corpus_dir(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

/// Adds the bodies of the SA and TS payloads among `payloads` to their targets' corpora.
fn add_bodies(name: &str, payloads: &[Payload]) {
    for (index, payload) in payloads.iter().enumerate() {
        let target = match payload {
            Payload::Sa(_) => "sa_proposals",
            Payload::TsI(_) | Payload::TsR(_) => "traffic_selectors",
            _ => continue,
        };
        let mut body = vec![0; payload.buffer_len()];
        payload.emit(&mut body).unwrap();
        add_seed(target, &format!("{name}-{index}"), &body);
    }
}

/// One payload of every kind, with the rarer encodings (IPv6 selectors, TLV attributes, a
/// CP request, EAP, an unknown payload).
fn every_payload() -> Vec<Payload> {
    let selector = TrafficSelector {
        ip_protocol: 6,
        start_port: 443,
        end_port: 443,
        start_address: "2001:db8::".parse().unwrap(),
        end_address: "2001:db8::ffff".parse().unwrap(),
    };
    vec![
        Payload::IdI(IdPayload {
            id_type: IdType::RFC822_ADDR,
            data: b"user@wire.test".to_vec(),
        }),
        Payload::Cert(CertPayload {
            encoding: CertEncoding::X509_CERT_SIGNATURE,
            data: vec![0x30, 0x82, 0x01, 0x0a],
        }),
        Payload::CertReq(CertReqPayload {
            encoding: CertEncoding::X509_CERT_SIGNATURE,
            authority: vec![0xab; 40],
        }),
        Payload::Auth(AuthPayload {
            method: AuthMethod::DIGITAL_SIGNATURE,
            data: vec![7; 48],
        }),
        Payload::Cp(CpPayload {
            cfg_type: CfgType::CFG_REQUEST,
            attributes: vec![
                CfgAttribute {
                    attribute_type: CfgAttributeType::INTERNAL_IP6_ADDRESS,
                    value: vec![],
                },
                CfgAttribute {
                    attribute_type: CfgAttributeType::INTERNAL_IP4_DNS,
                    value: vec![10, 0, 0, 53],
                },
            ],
        }),
        Payload::Eap(EapPayload {
            message: vec![2, 7, 0, 7, 1, b'a', b'b'],
        }),
        Payload::TsI(TsPayload {
            selectors: vec![selector],
            unknown_types: vec![],
        }),
        Payload::Delete(DeletePayload {
            protocol: ProtocolId::ESP,
            spis: vec![0xc001_0203, 0xc001_0204],
        }),
        Payload::Notify(NotifyPayload {
            protocol: ProtocolId::ESP,
            spi: vec![0xc0, 0x01, 0x02, 0x03],
            notify_type: NotifyType::IPSEC_REPLAY_COUNTER_SYNC,
            data: vec![0, 0, 0, 0, 0, 0, 0x10, 0],
        }),
        Payload::VendorId(VendorIdPayload {
            data: b"hitless".to_vec(),
        }),
        Payload::Unknown {
            payload_type: PayloadType(99),
            body: vec![1, 2, 3],
        },
    ]
}

fn header(exchange: ExchangeType) -> Header {
    Header {
        spi_i: 0x0102_0304_0506_0708,
        spi_r: 0x1112_1314_1516_1718,
        next_payload: PayloadType::NONE,
        major_version: 2,
        minor_version: 0,
        exchange,
        flags: Flags {
            initiator: true,
            ..Flags::default()
        },
        message_id: 1,
        length: 0,
    }
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

#[test]
fn unknown_ts_types_are_dropped_consistently() {
    let ts = TsPayload::parse(&[1, 0, 0, 0, 9, 0, 0, 4]).unwrap();
    assert_eq!(ts.unknown_types, vec![TsType(9)]);
    traffic_selectors(&[1, 0, 0, 0, 9, 0, 0, 4]);
}
