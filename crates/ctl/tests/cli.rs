//! hitlessctl as a user runs it: the real binary against a fake hitlessd on a temporary socket
//! (the real daemon's end-to-end tests live with the daemon).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on failure

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::process::Output;

use hitless_control::ControlError;
use hitless_control::ErrorKind;
use hitless_control::Event;
use hitless_control::LogLevel;
use hitless_control::Request;
use hitless_control::Response;
use hitless_control::SaRef;
use hitless_control::SaTarget;
use hitless_control::response::Affected;
use hitless_control::response::ChildSaId;
use hitless_control::response::IkeSa;
use hitless_control::response::IkeSaId;
use hitless_control::response::IkeSaState;
use hitless_control::response::Nat;
use hitless_control::response::Role;
use hitless_control::response::SaList;
use hitless_control::response::Status;
use hitless_control::testing::FakeDaemon;
use hitless_sadb::IkeSpi;
use hitless_sadb::Spi;

fn hitlessctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hitlessctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .env_remove("HITLESS_SOCKET")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn sa_list() -> SaList {
    SaList {
        ike_sas: vec![IkeSa {
            id: IkeSaId(5),
            connection: "site-b".into(),
            state: IkeSaState::Established,
            role: Role::Responder,
            local: "192.0.2.1:500".parse().unwrap(),
            remote: "198.51.100.1:500".parse().unwrap(),
            local_id: "gw-a".into(),
            remote_id: "gw-b".into(),
            spi_i: IkeSpi(1),
            spi_r: IkeSpi(2),
            algorithms: None,
            nat: Nat::default(),
            age_secs: 5,
            rekey_in_secs: None,
            children: vec![],
        }],
    }
}

fn status() -> Status {
    Status {
        software: "hitlessd 0.1.0".into(),
        pid: 4242,
        uptime_secs: 61,
        config_file: "/etc/hitless/hitless.toml".into(),
        log_level: LogLevel::Warn,
        backend: "xfrm".into(),
        workers: 1,
        ike_sas: 1,
        half_open_ike_sas: 0,
        child_sas: 0,
        connections: vec!["site-b".into()],
        metrics_listen: Some("127.0.0.1:9745".into()),
        wireshark_keylog: None,
        ha: None,
    }
}

fn handler(request: &Request) -> Result<Response, ControlError> {
    match request {
        Request::Status => Ok(Response::Status(Box::new(status()))),
        Request::ListSas { .. } => Ok(Response::Sas(sa_list())),
        Request::Initiate { connection, .. } if connection == "site-b" => Ok(Response::Initiated {
            ike_sa: IkeSaId(5),
            children: vec!["net".into()],
        }),
        Request::Initiate { connection, .. } if connection == "flaky" => Ok(Response::Initiated {
            ike_sa: IkeSaId(6),
            children: vec!["net".into()],
        }),
        Request::Initiate { connection, .. } => Err(ControlError::new(
            ErrorKind::UnknownConnection,
            format!("no connection named `{connection}`"),
        )),
        Request::Terminate {
            target: SaTarget::Ike(SaRef::Name(name)),
        } if name == "site-b" => Ok(Response::Terminated(Affected {
            ike_sas: vec![IkeSaId(5)],
            child_sas: vec![ChildSaId(7)],
        })),
        Request::Reload => Err(ControlError::new(
            ErrorKind::ConfigInvalid,
            "/etc/hitless/hitless.toml:3:1: connections.x.bogus: unknown key `bogus`",
        )),
        _ => Err(ControlError::new(ErrorKind::UnknownSa, "no such SA")),
    }
}

fn events() -> Vec<Event> {
    vec![
        Event::IkeSaEstablished {
            ike_sa: IkeSaId(5),
            connection: "site-b".into(),
            remote: "198.51.100.1:500".parse().unwrap(),
            remote_id: "gw-b".into(),
        },
        Event::ChildSaInstalled {
            ike_sa: IkeSaId(5),
            child_sa: ChildSaId(7),
            name: "net".into(),
            spi_in: Spi(0xc1a2_b3c4),
            spi_out: Spi(0x0bad_f00d),
            resource: None,
        },
        Event::IkeSaFailed {
            ike_sa: Some(IkeSaId(6)),
            connection: Some("flaky".into()),
            remote: None,
            error: "peer did not answer".into(),
        },
    ]
}

fn daemon(dir: &Path) -> FakeDaemon {
    FakeDaemon::start(&dir.join("hitlessd.sock"), events(), handler).unwrap()
}

#[test]
fn not_running_says_so_with_exit_status_3() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("hitlessd.sock");
    for command in [
        &["status"][..],
        &["list-sas", "--json"],
        &["ha", "active"],
        &["events"],
    ] {
        let output = hitlessctl(&socket, command);
        assert_eq!(output.status.code(), Some(3), "{command:?}");
        assert_eq!(
            stderr(&output),
            format!(
                "error: hitlessd is not running (no socket at {})\n",
                socket.display()
            )
        );
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn default_socket_path_in_the_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_hitlessctl"))
        .arg("status")
        .env("HITLESS_SOCKET", "/nonexistent/hitlessd.sock")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr(&output),
        "error: hitlessd is not running (no socket at /nonexistent/hitlessd.sock)\n"
    );
}

#[test]
fn status_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let output = hitlessctl(daemon.path(), &["status"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("hitlessd 0.1.0 (pid 4242), up 1m1s\n"),
        "{text}"
    );
    assert!(text.contains("metrics      127.0.0.1:9745\n"), "{text}");
    let output = hitlessctl(daemon.path(), &["status", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["type"], "status");
    assert_eq!(value["pid"], 4242);
    let output = hitlessctl(daemon.path(), &["log-level"]);
    assert_eq!(stdout(&output), "log level warn\n");
}

#[test]
fn list_sas_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let output = hitlessctl(daemon.path(), &["list-sas"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.starts_with("IKE SAs (1)\nID  CONNECTION"), "{text}");
    assert!(
        text.contains("\n5   site-b      ESTABLISHED  responder"),
        "{text}"
    );
    assert!(text.ends_with("Child SAs (0)\nnone\n"), "{text}");
    let output = hitlessctl(daemon.path(), &["--json", "list-sas"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["ike_sas"][0]["spi_i"], "0000000000000001");
    assert_eq!(value["ike_sas"][0]["connection"], "site-b");
}

#[test]
fn initiate_waits_for_the_child_sas() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let output = hitlessctl(daemon.path(), &["initiate", "site-b"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "initiating site-b: IKE SA #5\nIKE SA #5 established with gw-b at 198.51.100.1:500\n\
         Child SA #7 net installed, SPIs 0xc1a2b3c4 in / 0x0badf00d out\nsite-b is up\n"
    );
    let output = hitlessctl(daemon.path(), &["initiate", "flaky"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: IKE SA #6 failed: peer did not answer\n"
    );
    let output = hitlessctl(daemon.path(), &["initiate", "nope", "--no-wait"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: unknown connection: no connection named `nope`\n"
    );
    let output = hitlessctl(
        daemon.path(),
        &["initiate", "site-b", "--no-wait", "--json"],
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["ike_sa"], 5);
    assert_eq!(value["result"], "initiating");
}

#[test]
fn daemon_errors_and_exit_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let output = hitlessctl(daemon.path(), &["terminate", "--ike", "site-b"]);
    assert!(output.status.success());
    assert_eq!(stdout(&output), "deleting IKE SA #5 and Child SA #7\n");
    let output = hitlessctl(daemon.path(), &["rekey", "--child-id", "99"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), "error: unknown SA: no such SA\n");
    let output = hitlessctl(daemon.path(), &["reload"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("invalid configuration: /etc/hitless/hitless.toml:3:1"));
    // Usage errors are clap's exit status 2.
    let output = hitlessctl(daemon.path(), &["rekey"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn events_stream_until_the_daemon_stops() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path());
    let output = hitlessctl(daemon.path(), &["events"]);
    assert!(output.status.success());
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0],
        "2023-11-14T22:13:20.000Z IKE SA #5 site-b established with gw-b at 198.51.100.1:500"
    );
    assert!(stderr(&output).contains("closed the event stream"));
    let output = hitlessctl(daemon.path(), &["events", "--json"]);
    let first: serde_json::Value =
        serde_json::from_str(stdout(&output).lines().next().unwrap()).unwrap();
    assert_eq!(first["event"]["type"], "ike-sa-established");
    assert_eq!(first["time_ms"], 1_700_000_000_000u64);
}

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let psk = dir.join("site-b.psk");
    std::fs::write(&psk, "0sMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n").unwrap();
    std::fs::set_permissions(&psk, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = dir.join("hitless.toml");
    std::fs::write(&path, body).unwrap();
    path
}

const GOOD: &str = r#"
[connections.site-b]
remote_addrs = ["198.51.100.1"]
remote_id = "gw-b.example.org"
psk_file = "site-b.psk"

[connections.site-b.children.net]
local_ts = ["10.1.0.0/16"]
remote_ts = ["10.2.0.0/16"]
"#;

#[test]
fn check_config_ok_works_offline() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), GOOD);
    let socket = dir.path().join("no-daemon.sock");
    let output = hitlessctl(&socket, &["check-config", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!("OK: {}: 1 connection (site-b)\n", path.display())
    );
    let output = hitlessctl(&socket, &["check-config", "--json", path.to_str().unwrap()]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["ok"], true);
    assert_eq!(value["connections"][0], "site-b");
}

#[test]
fn check_config_errors_exit_2_with_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &GOOD.replace("remote_ts", "remote_tss"));
    let socket = dir.path().join("no-daemon.sock");
    let output = hitlessctl(&socket, &["check-config", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let text = stderr(&output);
    assert!(
        text.starts_with(
            "error: connections.site-b.children.net.remote_tss: unknown key `remote_tss`\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("--> {}:9:1\n", path.display())),
        "{text}"
    );
    let output = hitlessctl(&socket, &["--json", "check-config", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["ok"], false);
    assert_eq!(value["line"], 9);
    assert_eq!(value["kind"], "unknown-key");
    assert_eq!(value["key"], "connections.site-b.children.net.remote_tss");

    // A PSK file others can read is refused.
    let path = write_config(dir.path(), GOOD);
    std::fs::set_permissions(
        dir.path().join("site-b.psk"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let output = hitlessctl(&socket, &["check-config", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("(mode 0644); it must be readable by its owner only"));

    // A file that does not exist.
    let output = hitlessctl(&socket, &["check-config", "/nonexistent/hitless.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read the configuration file"));
}

#[test]
fn help_reads_like_a_manual() {
    let output = Command::new(env!("CARGO_BIN_EXE_hitlessctl"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = stdout(&output);
    for section in [
        "EXAMPLES:",
        "EXIT STATUS:",
        "FILES:",
        "ENVIRONMENT:",
        "check-config",
    ] {
        assert!(text.contains(section), "--help lacks {section}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_hitlessctl"))
        .args(["terminate", "--help"])
        .output()
        .unwrap();
    assert!(stdout(&output).contains("hitlessctl terminate --ike site-b"));
}
