//! hitlessd as a process: configuration errors, the control socket (one daemon per socket,
//! stale sockets, garbage from clients), SIGHUP reload that keeps SAs up, and SIGTERM that
//! deletes SAs politely (issue 7 item 1 and its bad-input list).

use std::io::Read;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use anyhow::Result;
use anyhow::ensure;
use hitless_e2e::ScratchDir;
use hitless_e2e::hitless::HitlessConfig;
use hitless_e2e::hitless::Hitlessd;
use hitless_e2e::hitless::binaries;
use hitless_e2e::netns::TwoGateways;
use hitless_e2e::require_environment;
use hitless_e2e::scenario::Initiator;
use hitless_e2e::scenario::SUITES;
use hitless_e2e::scenario::VsStrongswan;
use hitless_e2e::scenario::same_sas;
use hitless_e2e::wait_for;

#[test]
fn configuration_errors_exit_2_with_the_location() -> Result<()> {
    let scratch = ScratchDir::new("lifecycle-config")?;
    let dir = scratch.path();
    let mut config = HitlessConfig::psk("10.1.0.1", "10.1.0.2", "a", "b", "secret-0123456789");
    config.proposals = vec!["aes128gcm17-prfsha256-x25519".to_owned()];
    std::fs::write(dir.join("psk"), "secret-0123456789")?;
    let file = dir.join("hitless.toml");
    std::fs::write(&file, config.to_toml(dir))?;
    let output = Command::new(binaries()?.hitlessd)
        .arg("--config")
        .arg(&file)
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.code() == Some(2),
        "expected exit status 2, got {:?}: {stderr}",
        output.status
    );
    ensure!(
        stderr.contains(&format!("{}:", file.display()))
            && stderr.contains("connections.peer.proposals[0]")
            && stderr.contains("aes128gcm17")
            && stderr.contains("did you mean `aes128gcm16`"),
        "the message must name the file, line, key and what was expected: {stderr}"
    );
    // A PSK file others can read is refused too.
    config.proposals = vec!["aes128gcm16-prfsha256-x25519".to_owned()];
    std::fs::write(&file, config.to_toml(dir))?;
    let output = Command::new(binaries()?.hitlessd)
        .arg("--config")
        .arg(&file)
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.code() == Some(2),
        "world-readable PSK: {stderr}"
    );
    ensure!(stderr.contains("chmod 600"), "{stderr}");
    Ok(())
}

#[test]
fn one_daemon_per_control_socket_and_stale_sockets_are_replaced() -> Result<()> {
    require_environment()?;
    let scratch = ScratchDir::new("lifecycle-socket")?;
    let topo = TwoGateways::new("e2els", 120)?;
    let socket = scratch.path().join("shared.sock");
    let mut config = HitlessConfig::psk(
        topo.outer_a.to_string(),
        topo.outer_b.to_string(),
        "a",
        "b",
        "secret-0123456789",
    );
    config.control_socket = Some(socket.clone());
    let mut first = Hitlessd::start(&topo.a, &scratch.path().join("first"), &config)?;
    let mode = std::fs::metadata(&socket)?.permissions();
    ensure!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777 == 0o600,
        "control socket mode {:o}, expected 600",
        std::os::unix::fs::PermissionsExt::mode(&mode)
    );
    let mut second = Hitlessd::launch(&topo.b, &scratch.path().join("second"), &config)?;
    let code = second.wait_exit(Duration::from_secs(10))?;
    ensure!(code == Some(1), "second daemon exited with {code:?}");
    ensure!(
        second
            .log()
            .contains("another hitlessd is running on control socket"),
        "second daemon's log: {}",
        second.log()
    );
    // The first one still answers.
    first.ctl(&["status"])?;
    // A daemon killed without clean-up leaves a stale socket; the next one replaces it.
    first.kill();
    ensure!(
        socket.exists(),
        "the killed daemon's socket should still exist"
    );
    let third = Hitlessd::start(&topo.b, &scratch.path().join("third"), &config)?;
    third.ctl(&["status"])?;
    Ok(())
}

#[test]
fn garbage_on_the_control_socket_never_hurts_the_daemon() -> Result<()> {
    require_environment()?;
    let scratch = ScratchDir::new("lifecycle-garbage")?;
    let topo = TwoGateways::new("e2elg", 122)?;
    let config = HitlessConfig::psk(
        topo.outer_a.to_string(),
        topo.outer_b.to_string(),
        "a",
        "b",
        "secret-0123456789",
    );
    let daemon = Hitlessd::start(&topo.a, &scratch.path().join("a"), &config)?;
    let frame = |body: &[u8]| {
        let mut bytes = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
        bytes.extend_from_slice(body);
        bytes
    };
    // Malformed JSON, an unknown command, a request before the hello: each gets an error
    // response on a connection that stays usable.
    let mut stream = UnixStream::connect(daemon.socket())?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    for body in [
        &b"{not json"[..],
        br#"{"request":{"id":1,"body":{"command":"status"}}}"#,
        br#"{"hello":{"protocol":1,"software":"garbage-test"}}"#,
        br#"{"request":{"id":2,"body":{"command":"frobnicate"}}}"#,
        br#"{"request":{"id":3,"body":{"command":"status"}}}"#,
    ] {
        stream.write_all(&frame(body))?;
        let mut length = [0u8; 4];
        stream.read_exact(&mut length)?;
        let mut reply = vec![0u8; u32::from_be_bytes(length) as usize];
        stream.read_exact(&mut reply)?;
        let reply = String::from_utf8_lossy(&reply);
        if body.starts_with(br#"{"request":{"id":3"#) {
            ensure!(
                reply.contains("\"status\""),
                "status after garbage: {reply}"
            );
        } else if body.starts_with(br#"{"hello""#) {
            ensure!(reply.contains("hello"), "hello: {reply}");
        } else {
            ensure!(
                reply.contains("error"),
                "expected an error for {body:?}: {reply}"
            );
        }
    }
    // A length prefix beyond the maximum closes the connection, and only it.
    let mut stream = UnixStream::connect(daemon.socket())?;
    stream.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])?;
    let mut rest = Vec::new();
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let _ = stream.read_to_end(&mut rest);
    // Random bytes, then a hang-up mid-frame.
    let mut stream = UnixStream::connect(daemon.socket())?;
    stream.write_all(&[0, 0, 0, 40, 1, 2, 3])?;
    drop(stream);
    let status = daemon.ctl_json(&["status"])?;
    ensure!(
        status.to_string().contains("hitlessd"),
        "daemon still answers: {status}"
    );
    Ok(())
}

#[test]
fn sighup_reloads_and_keeps_established_sas() -> Result<()> {
    let setup = VsStrongswan::start("lifecycle-reload", "e2elr", 124, SUITES[0])?;
    let (before, swan) = setup.establish(Initiator::Hitless)?;
    same_sas(&before, &swan, Initiator::Hitless)?;
    let file = setup.hitless.dir().join("hitless.toml");
    let original =
        std::fs::read_to_string(&file)?.replace("log_level = \"debug\"", "log_level = \"warn\"");
    let added = format!(
        "{original}\n[connections.other]\nremote_addrs = [\"192.0.2.9\"]\nremote_id = \"x\"\n\
         psk_file = \"{}\"\n\n[connections.other.children.net]\nlocal_ts = [\"10.250.1.0/24\"]\n\
         remote_ts = [\"10.250.2.0/24\"]\n",
        setup.hitless.dir().join("psk").display()
    );
    std::fs::write(&file, added)?;
    setup.hitless.signal("HUP")?;
    wait_for(
        "the reloaded connection list",
        Duration::from_secs(10),
        || {
            let status = setup.hitless.ctl_json(&["status"])?;
            Ok(status.to_string().contains("\"other\"").then_some(()))
        },
    )?;
    let status = setup.hitless.ctl_json(&["status"])?;
    ensure!(
        status.get("log_level").and_then(|l| l.as_str()) == Some("warn"),
        "the reload applies the file's new log level: {status}"
    );
    let after = setup.hitless.wait_established(Duration::from_secs(5))?;
    ensure!(
        after.spi_i == before.spi_i && after.children == before.children,
        "the SA changed across the reload: {before:?} -> {after:?}"
    );
    // A broken file is refused, by SIGHUP and by `hitlessctl reload`; the daemon keeps going.
    std::fs::write(&file, "[connections.broken\n")?;
    setup.hitless.signal("HUP")?;
    let refused = setup.hitless.ctl(&["reload"]);
    let message = format!(
        "{:#}",
        refused.err().context("reload of a broken file succeeded")?
    );
    ensure!(
        message.contains("hitless.toml:1:"),
        "the refusal names the file and line: {message}"
    );
    let status = setup.hitless.ctl_json(&["status"])?;
    ensure!(status.to_string().contains("\"other\""), "{status}");
    setup.hitless.wait_established(Duration::from_secs(5))?;
    wait_for(
        "the SIGHUP refusal in the log",
        Duration::from_secs(5),
        || Ok(setup.hitless.log().contains("reload refused").then_some(())),
    )?;
    Ok(())
}

#[test]
fn sigterm_deletes_sas_politely_and_exits_0() -> Result<()> {
    let setup = VsStrongswan::start("lifecycle-term", "e2elt", 126, SUITES[0])?;
    setup.establish(Initiator::Peer)?;
    let VsStrongswan {
        hitless, charon, ..
    } = setup;
    let code = hitless.stop()?;
    ensure!(code == Some(0), "hitlessd exited with {code:?}");
    // The DELETE reached strongSwan: its IKE SA is gone at once, not after a DPD timeout.
    wait_for(
        "strongSwan to drop the IKE SA",
        Duration::from_secs(3),
        || Ok(charon.list_sas()?.is_empty().then_some(())),
    )?;
    ensure!(
        charon.log().contains("received DELETE for IKE_SA"),
        "strongSwan did not log a DELETE"
    );
    Ok(())
}
