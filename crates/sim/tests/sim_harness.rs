//! The simulator itself: determinism, failure reports (seed, reason, transcript), invariants,
//! backend failures fed back to the engine, and the capture and Wireshark key tables.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hitless_ike::Event;
use hitless_sim::CaptureMode;
use hitless_sim::CryptoChoice;
use hitless_sim::DataPlaneKind;
use hitless_sim::Flow;
use hitless_sim::Invariant;
use hitless_sim::LinkParams;
use hitless_sim::Loss;
use hitless_sim::NodeConfig;
use hitless_sim::Sim;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;

fn lossy() -> LinkParams {
    LinkParams::clean(Duration::from_millis(20))
        .with_jitter(Duration::from_millis(10))
        .with_loss(Loss::Random(0.2))
        .with_reorder(0.1)
        .with_duplicate(0.1)
}

fn transcript_of(seed: u64) -> String {
    let mut gw = Gateways::with(
        seed,
        scenario::config_a(),
        scenario::config_b(),
        Default::default(),
        lossy(),
    );
    gw.establish_within(3, Duration::from_secs(200)).unwrap();
    gw.sim.run_for(Duration::from_secs(300)).unwrap();
    gw.sim.transcript().to_string()
}

#[test]
fn same_seed_gives_the_same_run() {
    let first = transcript_of(7);
    assert_eq!(first, transcript_of(7));
    assert_ne!(first, transcript_of(8));
}

struct NoChildSas;

impl Invariant for NoChildSas {
    fn name(&self) -> &str {
        "no Child SAs (a test invariant that must fail)"
    }

    fn check(&mut self, sim: &Sim) -> Result<(), String> {
        for node in sim.nodes() {
            if node.backend.state().installed().count() > 0 {
                return Err(format!("{} installed an SA", node.name));
            }
        }
        Ok(())
    }
}

#[test]
fn a_violated_invariant_stops_the_run_with_seed_and_transcript() {
    let mut gw = Gateways::new(11);
    gw.sim.add_invariant(Box::new(NoChildSas));
    let failure = gw.establish(Duration::from_secs(5)).unwrap_err();
    assert_eq!(failure.seed, 11);
    let report = failure.to_string();
    assert!(
        report.starts_with("seed 11 failed at 0.015s: invariant \"no Child SAs"),
        "{report}"
    );
    assert!(report.contains("rerun with SIM_SEEDS=11"), "{report}");
    assert!(report.contains("b→a IKE_AUTH response mid=1"), "{report}");
}

#[test]
fn a_run_with_nothing_left_to_do_stalls() {
    let mut gw = Gateways::new(12);
    let (a, b) = (gw.a, gw.b);
    gw.sim.crash(b);
    gw.sim.initiate(a, "gw").unwrap();
    let failure = gw
        .sim
        .run_until(Duration::from_secs(600), |_| false)
        .unwrap_err();
    assert!(
        failure.reason.contains("nothing left to do"),
        "{}",
        failure.reason
    );
    let failure = Gateways::new(13)
        .sim
        .run_until(Duration::from_secs(1), |_| false);
    assert!(failure.is_err());
}

#[test]
fn a_failing_seed_panics_with_the_rerun_hint() {
    let outcome = std::panic::catch_unwind(|| {
        hitless_sim::check_seed_list([3, 4], |seed| {
            let gw = Gateways::new(seed);
            if seed == 4 {
                Err(gw.sim.failure("seed four is unlucky"))
            } else {
                Ok(())
            }
        });
    });
    let message = outcome.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.contains("seed 4 failed at 0.000s: seed four is unlucky"),
        "{message}"
    );
    assert!(message.contains("rerun with SIM_SEEDS=4"), "{message}");
}

#[test]
fn backend_failures_go_back_to_the_engine() {
    let mut gw = Gateways::new(14);
    let (a, b) = (gw.a, gw.b);
    gw.sim
        .node(b)
        .backend
        .state_mut()
        .fail_next_add(None, "SPI collision");
    gw.sim.initiate(a, "gw").unwrap();
    gw.sim.run_for(Duration::from_secs(30)).unwrap();
    let node = gw.sim.node_ref(b);
    assert_eq!(node.backend_errors.len(), 1, "{:?}", node.backend_errors);
    // The engine learns of it as the daemon would tell it (InstallFailed), reports the Child SA
    // failed and deletes it on both sides; the IKE SA stays.
    let failed = |e: &Event| {
        matches!(
            e,
            Event::ChildSaFailed {
                reason: hitless_ike::FailureReason::Backend(_),
                ..
            }
        )
    };
    assert!(scenario::saw(&gw.sim, b, failed));
    for node in [a, b] {
        assert_eq!(gw.sim.node_ref(node).backend.state().installed().count(), 0);
        assert_eq!(scenario::established(&gw.sim, node).len(), 1);
    }
}

/// Where test artefacts go: `target/sim/<name>`.
fn artefact(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("sim").join(name)
}

/// Gateways with the production provider and real data planes, established, with a second of
/// traffic both ways, everything captured.
fn captured_run() -> Sim {
    let mut sim = Sim::new(15);
    sim.set_capture(CaptureMode::All);
    let node = |config, address| {
        NodeConfig::new(std::sync::Arc::new(config))
            .address(address)
            .crypto(CryptoChoice::AwsLc)
            .data_plane(DataPlaneKind::Userspace)
    };
    let a = sim.add_node("a", node(scenario::config_a(), scenario::GW_A));
    let b = sim.add_node("b", node(scenario::config_b(), scenario::GW_B));
    sim.link(a, b, LinkParams::default(), LinkParams::default());
    sim.initiate(a, "gw").unwrap();
    sim.run_until(Duration::from_secs(5), |sim| {
        scenario::established_pair(sim, a, b).is_ok()
    })
    .unwrap();
    let second = Duration::from_secs(1);
    sim.start_flow(
        a,
        b,
        Flow::udp(scenario::HOST_A, scenario::HOST_B, 10).duration(second),
    )
    .unwrap();
    sim.start_flow(
        b,
        a,
        Flow::udp(scenario::HOST_B, scenario::HOST_A, 10).duration(second),
    )
    .unwrap();
    sim.run_for(Duration::from_secs(2)).unwrap();
    sim
}

#[test]
fn pcap_holds_every_packet_sent() {
    let sim = captured_run();
    let path = artefact("captured_run.pcap");
    sim.write_pcap(&path).unwrap();
    let bytes = fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], &0xa1b2_c3d4_u32.to_le_bytes());
    let mut records = 0;
    let mut offset = 24;
    while offset < bytes.len() {
        let length = u32::from_le_bytes(bytes[offset + 8..offset + 12].try_into().unwrap());
        offset += 16 + length as usize;
        records += 1;
    }
    assert_eq!(offset, bytes.len());
    // 4 IKE messages and 20 ESP packets.
    assert_eq!(records, 24);
    let keys = artefact("captured_run_keys");
    sim.write_keylog(&keys).unwrap();
    let ike = fs::read_to_string(keys.join("ikev2_decryption_table")).unwrap();
    assert_eq!(ike.lines().count(), 1, "{ike}");
    let esp = fs::read_to_string(keys.join("esp_sa")).unwrap();
    assert_eq!(esp.lines().count(), 2, "{esp}");
}

/// Decrypts the capture with tshark and the written key tables: IKE_AUTH's inner payloads and
/// every ESP packet's inner UDP datagram must show. Needs tshark (Wireshark 4.0's table
/// formats), which `scripts/install-deps.sh` installs.
#[test]
fn tshark_decrypts_the_capture_with_the_key_tables() {
    let sim = captured_run();
    let pcap = artefact("tshark_run.pcap");
    let keys = artefact("tshark_run_keys");
    sim.write_pcap(&pcap).unwrap();
    sim.write_keylog(&keys).unwrap();
    let output = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", &keys)
        .args(["-r", pcap.to_str().unwrap(), "-V"])
        .output()
        .expect("tshark runs (scripts/install-deps.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(!errors.contains("Error loading table"), "{errors}");
    assert_eq!(
        text.matches("Payload: Identification - Initiator").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("Payload: Authentication (39)").count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.matches("User Datagram Protocol, Src Port: 40000, Dst Port: 9")
            .count(),
        20
    );
}
