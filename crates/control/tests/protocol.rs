//! The wire format is a contract with scripts and other clients: these tests pin its JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on failure

use std::collections::BTreeMap;

use hitless_control::ClientMessage;
use hitless_control::ControlError;
use hitless_control::ErrorKind;
use hitless_control::Event;
use hitless_control::HaAction;
use hitless_control::LogLevel;
use hitless_control::Request;
use hitless_control::Response;
use hitless_control::SaRef;
use hitless_control::SaTarget;
use hitless_control::ServerMessage;
use hitless_control::codec::decode;
use hitless_control::codec::encode_frame;
use hitless_control::message::Outcome;
use hitless_control::message::RequestFrame;
use hitless_control::message::RequestId;
use hitless_control::message::ResponseFrame;
use hitless_control::response::Affected;
use hitless_control::response::ChildAlgorithms;
use hitless_control::response::ChildSa;
use hitless_control::response::ChildSaId;
use hitless_control::response::ChildSaState;
use hitless_control::response::IkeAlgorithms;
use hitless_control::response::IkeSa;
use hitless_control::response::IkeSaId;
use hitless_control::response::IkeSaState;
use hitless_control::response::Nat;
use hitless_control::response::Role;
use hitless_control::response::SaList;
use hitless_control::response::Stats;
use hitless_sadb::IkeSpi;
use hitless_sadb::ResourceId;
use hitless_sadb::Spi;
use serde_json::json;

fn json_of<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}

fn round_trip_request(request: Request, expected: serde_json::Value) {
    let message = ClientMessage::Request(RequestFrame {
        id: RequestId(3),
        body: request,
    });
    assert_eq!(
        json_of(&message),
        json!({"request": {"id": 3, "body": expected}})
    );
    let frame = encode_frame(&message).unwrap();
    assert_eq!(decode::<ClientMessage>(&frame[4..]).unwrap(), message);
}

#[test]
fn requests_on_the_wire() {
    round_trip_request(Request::Status, json!({"command": "status"}));
    round_trip_request(
        Request::ListSas { connection: None },
        json!({"command": "list-sas", "connection": null}),
    );
    round_trip_request(
        Request::Initiate {
            connection: "site-b".into(),
            child: Some("net".into()),
        },
        json!({"command": "initiate", "connection": "site-b", "child": "net"}),
    );
    round_trip_request(
        Request::Terminate {
            target: SaTarget::Ike(SaRef::Id(7)),
        },
        json!({"command": "terminate", "target": {"ike": {"id": 7}}}),
    );
    round_trip_request(
        Request::Rekey {
            target: SaTarget::Child(SaRef::Name("net".into())),
        },
        json!({"command": "rekey", "target": {"child": {"name": "net"}}}),
    );
    round_trip_request(Request::Reload, json!({"command": "reload"}));
    round_trip_request(Request::Stats, json!({"command": "stats"}));
    round_trip_request(
        Request::LogLevel {
            level: LogLevel::Debug,
        },
        json!({"command": "log-level", "level": "debug"}),
    );
    round_trip_request(
        Request::Subscribe { logs: None },
        json!({"command": "subscribe", "logs": null}),
    );
    round_trip_request(
        Request::Ha {
            action: HaAction::Standby,
        },
        json!({"command": "ha", "action": "standby"}),
    );
}

#[test]
fn optional_fields_may_be_omitted_by_scripts() {
    let minimal = br#"{"request":{"id":1,"body":{"command":"list-sas"}}}"#;
    let ClientMessage::Request(frame) = decode::<ClientMessage>(minimal).unwrap() else {
        panic!("not a request");
    };
    assert_eq!(frame.body, Request::ListSas { connection: None });
}

fn sample_sa() -> IkeSa {
    IkeSa {
        id: IkeSaId(1),
        connection: "site-b".into(),
        state: IkeSaState::Established,
        role: Role::Initiator,
        local: "192.0.2.1:500".parse().unwrap(),
        remote: "198.51.100.1:4500".parse().unwrap(),
        local_id: "gw-a.example.org".into(),
        remote_id: "gw-b.example.org".into(),
        spi_i: IkeSpi(0x0123_4567_89ab_cdef),
        spi_r: IkeSpi(0xfedc_ba98_7654_3210),
        algorithms: Some(IkeAlgorithms {
            encryption: "AES_GCM_16".into(),
            key_bits: Some(256),
            integrity: None,
            prf: "PRF_HMAC_SHA2_384".into(),
            key_exchange: "CURVE25519".into(),
            additional_key_exchanges: vec![],
        }),
        nat: Nat::default(),
        age_secs: 133,
        rekey_in_secs: Some(13_260),
        children: vec![ChildSa {
            id: ChildSaId(3),
            name: "net".into(),
            state: ChildSaState::Installed,
            mode: "tunnel".into(),
            spi_in: Spi(0xc1a2_b3c4),
            spi_out: Spi(0x0bad_f00d),
            algorithms: ChildAlgorithms {
                encryption: "AES_GCM_16".into(),
                key_bits: Some(256),
                integrity: None,
                key_exchange: None,
                esn: true,
            },
            udp_encap: true,
            resource: Some(ResourceId(2)),
            bytes_in: 1_234_567,
            bytes_out: 7_654_321,
            packets_in: 1000,
            packets_out: 2000,
            age_secs: 61,
            rekey_in_secs: Some(3000),
            expires_in_secs: Some(3900),
            local_ts: vec!["10.1.0.0/16".into()],
            remote_ts: vec!["10.2.0.0/16".into()],
        }],
    }
}

#[test]
fn sa_list_json_is_what_monitoring_scripts_read() {
    let value = json_of(&SaList {
        ike_sas: vec![sample_sa()],
    });
    let sa = &value["ike_sas"][0];
    assert_eq!(sa["id"], 1);
    assert_eq!(sa["state"], "established");
    assert_eq!(sa["spi_i"], "0123456789abcdef");
    assert_eq!(sa["remote"], "198.51.100.1:4500");
    assert_eq!(sa["rekey_in_secs"], 13_260);
    let child = &sa["children"][0];
    assert_eq!(child["spi_in"], "0xc1a2b3c4");
    assert_eq!(child["spi_out"], "0x0badf00d");
    assert_eq!(child["resource"], 2);
    assert_eq!(child["bytes_in"], 1_234_567);
    assert_eq!(child["algorithms"]["esn"], true);
    let back: SaList = serde_json::from_value(value).unwrap();
    assert_eq!(back.ike_sas[0], sample_sa());
}

#[test]
fn responses_and_errors_on_the_wire() {
    let ok = ServerMessage::Response(ResponseFrame {
        id: Some(RequestId(4)),
        result: Outcome::Ok(Response::Terminated(Affected {
            ike_sas: vec![IkeSaId(1)],
            child_sas: vec![ChildSaId(3)],
        })),
    });
    assert_eq!(
        json_of(&ok),
        json!({"response": {"id": 4, "result": {"ok": {"type": "terminated", "ike_sas": [1], "child_sas": [3]}}}})
    );
    let error = ServerMessage::Response(ResponseFrame {
        id: Some(RequestId(5)),
        result: Outcome::Error(ControlError::new(
            ErrorKind::UnknownConnection,
            "no connection named `site-c`",
        )),
    });
    assert_eq!(
        json_of(&error),
        json!({"response": {"id": 5, "result": {"error": {"kind": "unknown-connection", "message": "no connection named `site-c`"}}}})
    );
    let mut drops = BTreeMap::new();
    drops.insert("replayed".to_owned(), 3);
    let stats = Response::Stats(Stats {
        data_plane: hitless_control::response::DataPlaneStats {
            drops,
            ..Default::default()
        },
        ..Default::default()
    });
    let value = json_of(&stats);
    assert_eq!(value["type"], "stats");
    assert_eq!(value["data_plane"]["drops"]["replayed"], 3);
    for message in [ok, error] {
        let frame = encode_frame(&message).unwrap();
        assert_eq!(decode::<ServerMessage>(&frame[4..]).unwrap(), message);
    }
}

#[test]
fn events_on_the_wire() {
    let event = Event::ChildSaRekeyed {
        ike_sa: IkeSaId(1),
        old: ChildSaId(3),
        new: ChildSaId(4),
        name: "net".into(),
        spi_in: Spi(1),
        spi_out: Spi(2),
    };
    assert_eq!(
        json_of(&event),
        json!({"type": "child-sa-rekeyed", "ike_sa": 1, "old": 3, "new": 4, "name": "net", "spi_in": "0x00000001", "spi_out": "0x00000002"})
    );
    let back: Event = serde_json::from_value(json_of(&event)).unwrap();
    assert_eq!(back, event);
}
