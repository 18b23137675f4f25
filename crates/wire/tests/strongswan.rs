//! Interop: parse every datagram and SK plaintext captured from two strongSwan 5.9.8 charons
//! (`testdata/strongswan/`, see its README) and compare our one-line summaries with charon's own
//! description of each message.

// Test helpers outside `#[test]` functions fail loudly on malformed test data.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::path::PathBuf;

use hitless_wire::esp;
use hitless_wire::esp::Udp4500;
use hitless_wire::ike;
use hitless_wire::ike::EncryptedKind;
use hitless_wire::ike::Flags;
use hitless_wire::ike::Header;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::PayloadType;

/// One message as charon described it: exchange, response flag, message ID, and the fragment
/// number for an SKF fragment (`EF(n/m)` in charon's notation).
type Key = (String, bool, u32, Option<u16>);

#[test]
fn captured_datagrams_parse_and_match_charon() {
    for run in ["plain", "frag"] {
        let log = charon_log(&testdata().join(format!("{run}.log")));
        let mut ike_messages = 0;
        let mut esp_packets = 0;
        for (name, bytes) in files(&testdata().join(run)) {
            let from_initiator = name.ends_with("-ab.bin");
            let ike_bytes = if name.contains("-500-") {
                &bytes[..]
            } else {
                match esp::classify_udp4500(&bytes) {
                    Udp4500::Ike(ike_bytes) => ike_bytes,
                    Udp4500::Esp(packet) => {
                        let packet = esp::Packet::new_checked(packet).unwrap();
                        let header = esp::Header::parse(&packet).unwrap();
                        assert!((1..=2).contains(&header.sequence_number), "{name}");
                        esp_packets += 1;
                        continue;
                    }
                    other => panic!("{run}/{name}: unexpected {other:?}"),
                }
            };
            let message = ike::parse_message(ike_bytes)
                .unwrap_or_else(|error| panic!("{run}/{name}: {error}"));
            // Re-emitting a parsed message gives back the bytes charon sent.
            assert_eq!(message.emit().unwrap(), ike_bytes, "{run}/{name}");
            let header = message.header;
            assert_eq!(header.flags.initiator, from_initiator, "{run}/{name}");
            let fragment = match message.encrypted.map(|encrypted| encrypted.kind) {
                Some(EncryptedKind::Skf {
                    fragment_number, ..
                }) => Some(fragment_number),
                _ => None,
            };
            let key = (
                header.exchange.to_string(),
                header.flags.response,
                header.message_id,
                fragment,
            );
            let charon = log
                .get(&key)
                .unwrap_or_else(|| panic!("{run}/{name}: {key:?} not in charon's log"));
            let ours = message.summary();
            match message.encrypted.map(|encrypted| encrypted.kind) {
                // Charon describes the decrypted content; the inner test compares that.
                Some(EncryptedKind::Sk) => assert!(ours.ends_with(" [SK]"), "{ours}"),
                Some(EncryptedKind::Skf { .. }) | None => assert_eq!(&ours, charon, "{run}/{name}"),
            }
            ike_messages += 1;
        }
        assert!(
            ike_messages >= 12,
            "{run}: only {ike_messages} IKE messages"
        );
        assert_eq!(esp_packets, 4, "{run}: two pings, both ways");
    }
}

#[test]
fn captured_sk_plaintexts_parse_and_match_charon() {
    let dir = testdata().join("inner");
    let descriptions = fs::read_to_string(dir.join("inner.log")).unwrap();
    let mut count = 0;
    for line in descriptions.lines() {
        let (name, description) = line.split_once(' ').unwrap();
        let first = name
            .trim_end_matches(".bin")
            .rsplit('-')
            .next()
            .and_then(|number| number.parse::<u8>().ok())
            .unwrap();
        let bytes = fs::read(dir.join(name)).unwrap();
        let payloads = ike::parse_payload_chain(PayloadType(first), &bytes)
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(ike::emit_payload_chain(&payloads, PayloadType::NONE), bytes);
        let (exchange, response, message_id, charon) = translate(description);
        let header = Header {
            spi_i: 1,
            spi_r: 2,
            next_payload: PayloadType::SK,
            major_version: 2,
            minor_version: 0,
            exchange: exchange_type(&exchange),
            flags: Flags {
                initiator: true,
                version: false,
                response,
            },
            message_id,
            length: 0,
        };
        assert_eq!(ike::summary(&header, &payloads, false), charon, "{name}");
        count += 1;
    }
    assert!(count >= 16, "only {count} plaintexts");
}

/// Charon's descriptions keyed by message, each translated into our notation.
fn charon_log(path: &Path) -> HashMap<Key, String> {
    let mut log = HashMap::new();
    for line in fs::read_to_string(path).unwrap().lines() {
        let description = line
            .strip_prefix("generating ")
            .or_else(|| line.strip_prefix("parsed "))
            .unwrap();
        let (exchange, response, message_id, ours) = translate(description);
        let fragment = description
            .split_once("[ EF(")
            .and_then(|(_, rest)| rest.split_once('/'))
            .and_then(|(number, _)| number.parse().ok());
        log.insert((exchange, response, message_id, fragment), ours);
    }
    log
}

/// Translates `IKE_AUTH request 1 [ IDi N(INIT_CONTACT) ]` into our
/// `IKE_AUTH request mid=1 [IDi N(INITIAL_CONTACT)]`.
fn translate(description: &str) -> (String, bool, u32, String) {
    let (head, payloads) = description.split_once(" [").unwrap();
    let mut words = head.split(' ');
    let exchange = words.next().unwrap().to_owned();
    let role = words.next().unwrap();
    let message_id: u32 = words.next().unwrap().parse().unwrap();
    let names = payloads
        .trim_end_matches(']')
        .split_whitespace()
        .map(translate_name)
        .collect::<Vec<_>>()
        .join(" ");
    let ours = format!("{exchange} {role} mid={message_id} [{names}]");
    (exchange, role == "response", message_id, ours)
}

fn translate_name(name: &str) -> String {
    if let Some(fragment) = name.strip_prefix("EF(") {
        return format!("SKF({fragment}");
    }
    let Some(notify) = name.strip_prefix("N(") else {
        return name.to_owned();
    };
    let notify = notify.trim_end_matches(')');
    let ours = match notify {
        "NATD_S_IP" => "NAT_DETECTION_SOURCE_IP",
        "NATD_D_IP" => "NAT_DETECTION_DESTINATION_IP",
        "FRAG_SUP" => "IKEV2_FRAGMENTATION_SUPPORTED",
        "HASH_ALG" => "SIGNATURE_HASH_ALGORITHMS",
        "REDIR_SUP" => "REDIRECT_SUPPORTED",
        "CHDLESS_SUP" => "CHILDLESS_IKEV2_SUPPORTED",
        "MULT_AUTH" => "MULTIPLE_AUTH_SUPPORTED",
        "INIT_CONTACT" => "INITIAL_CONTACT",
        "MOBIKE_SUP" => "MOBIKE_SUPPORTED",
        "NO_ADD_ADDR" => "NO_ADDITIONAL_ADDRESSES",
        "EAP_ONLY" => "EAP_ONLY_AUTHENTICATION",
        "MSG_ID_SYN_SUP" => "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
        "TS_UNACCEPT" => "TS_UNACCEPTABLE",
        other => other,
    };
    format!("N({ours})")
}

fn exchange_type(name: &str) -> ExchangeType {
    [
        ExchangeType::IKE_SA_INIT,
        ExchangeType::IKE_AUTH,
        ExchangeType::CREATE_CHILD_SA,
        ExchangeType::INFORMATIONAL,
    ]
    .into_iter()
    .find(|exchange| exchange.name() == Some(name))
    .unwrap()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect::<Vec<_>>();
    files.sort();
    files
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/strongswan")
}
