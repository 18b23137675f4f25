//! `[debug] wireshark_keylog` (issue 7 item 5): two hitlessd with the option on establish a
//! tunnel (plain ESP, IKE on port 500) while tshark captures the underlay. Both key
//! directories hold one IKE SA line and one line per ESP SA with the SPIs `hitlessctl list-sas`
//! reports, in 0600 files; tshark with either directory as `WIRESHARK_CONFIG_DIR` decrypts
//! IKE_AUTH and every ESP packet of the pings (and without it, none); no key reaches the log;
//! the tables follow a Child SA rekey, an IKE SA rekey and the deletion of everything.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use anyhow::Result;
use anyhow::ensure;
use hitless_e2e::hitless::HitlessIkeSa;
use hitless_e2e::hitless::Hitlessd;
use hitless_e2e::scenario::SUITES;
use hitless_e2e::scenario::VsHitless;
use hitless_e2e::tshark::Capture;
use hitless_e2e::tshark::decode;
use hitless_e2e::tshark::require_tshark;
use hitless_e2e::wait_for;

const PINGS: u32 = 5;
/// Each daemon writes its tables into `keys` next to its configuration file.
const KEY_DIR: &str = "keys";
const IKE_TABLE: &str = "ikev2_decryption_table";
const ESP_TABLE: &str = "esp_sa";

#[test]
fn tshark_decrypts_ike_and_esp_with_the_tables_hitlessd_writes() -> Result<()> {
    require_tshark()?;
    // SUITES[0] (AES-GCM-128 for IKE and ESP) is one Wireshark 4.0 decrypts.
    let setup = VsHitless::start_with("wireshark-keylog", "e2ew", 150, SUITES[0], "auto", |c| {
        c.extra_sections = format!("[debug]\nwireshark_keylog = \"{KEY_DIR}\"\n");
    })?;
    let result = check(&setup);
    result.map_err(|error| {
        anyhow::anyhow!(
            "{error:#}\n===== hitlessd A =====\n{}\n===== hitlessd B =====\n{}",
            setup.a.log(),
            setup.b.log()
        )
    })
}

fn check(setup: &VsHitless) -> Result<()> {
    let keys_a = setup.a.dir().join(KEY_DIR);
    let keys_b = setup.b.dir().join(KEY_DIR);
    for (daemon, keys) in [(&setup.a, &keys_a), (&setup.b, &keys_b)] {
        let status = daemon.ctl_json(&["status"])?;
        ensure!(
            status.get("wireshark_keylog").and_then(|v| v.as_str())
                == Some(keys.to_str().context("key path is UTF-8")?),
            "hitlessctl status does not report {}: {status}",
            keys.display()
        );
        // The tracing warning, not only the configuration check's line on stderr.
        ensure!(
            daemon.log().lines().any(|line| line.contains("WARN")
                && line.contains("the Wireshark key log is ON ([debug] wireshark_keylog)")),
            "no warning in the log"
        );
    }

    let topo = &setup.topo;
    let pcap = setup.scratch.path().join("underlay.pcap");
    let capture = Capture::start(&topo.a, "ula", &pcap)?;
    let (a, b) = setup.establish()?;
    ensure!(
        !a.children[0].udp_encap,
        "expected plain ESP, the Child SA is UDP-encapsulated"
    );
    let replies = topo.a.ping(topo.inner_a, topo.inner_b, PINGS)?;
    ensure!(replies == PINGS, "ping A -> B: {replies}/{PINGS}");
    let replies = topo.b.ping(topo.inner_b, topo.inner_a, PINGS)?;
    ensure!(replies == PINGS, "ping B -> A: {replies}/{PINGS}");
    let pcap = capture.stop()?;

    // The tables on both sides name exactly the SAs hitlessctl reports, in 0600 files.
    for (daemon, keys, sa) in [(&setup.a, &keys_a, &a), (&setup.b, &keys_b, &b)] {
        wait_for_tables(keys, sa)?;
        for table in [IKE_TABLE, ESP_TABLE] {
            let mode = std::fs::metadata(keys.join(table))?.permissions().mode() & 0o777;
            ensure!(mode == 0o600, "{table} has mode {mode:o}, expected 600");
        }
        // Not one key in the log, at debug level.
        let log = daemon.log();
        for key in table_keys(keys)? {
            ensure!(!log.contains(&key), "a session key is in the log");
        }
    }

    // Without the tables tshark sees neither IKE_AUTH's payloads nor the pings.
    let empty = setup.scratch.path().join("no-keys");
    std::fs::create_dir_all(&empty)?;
    let seen = decrypted(&pcap, &empty)?;
    ensure!(
        seen.identities == 0 && seen.auths == 0 && seen.esp.iter().all(|(_, icmp)| !icmp),
        "tshark decrypted without keys: {seen:?}"
    );
    let child = &a.children[0];
    let spis: BTreeSet<String> = [&child.spi_in, &child.spi_out]
        .into_iter()
        .cloned()
        .collect();
    for keys in [&keys_a, &keys_b] {
        let Decrypted {
            identities,
            auths,
            esp,
        } = decrypted(&pcap, keys)?;
        ensure!(
            identities == 1 && auths == 2,
            "with {}: IKE_AUTH shows {identities} IDi and {auths} AUTH payloads, expected 1 and 2",
            keys.display()
        );
        ensure!(
            esp.len() == 4 * PINGS as usize && esp.iter().all(|(_, icmp)| *icmp),
            "with {}: expected {} ESP packets, all decrypted to ICMP: {esp:?}",
            keys.display(),
            4 * PINGS
        );
        let seen: BTreeSet<String> = esp.into_iter().map(|(spi, _)| spi).collect();
        ensure!(
            seen == spis,
            "ESP SPIs on the wire {seen:?}, Child SA {spis:?}"
        );
    }

    // Rekeys replace the lines; deleting the IKE SA empties both tables.
    setup.a.ctl(&["rekey", "--child", "net"])?;
    let a = wait_for_rekey(&setup.a, |sa| sa.children[0].spi_in != child.spi_in)?;
    wait_for_tables(&keys_a, &a)?;
    setup.a.ctl(&["rekey", "--ike", "peer"])?;
    let a = wait_for_rekey(&setup.a, |sa| sa.spi_i != b.spi_i)?;
    wait_for_tables(&keys_a, &a)?;
    let b = wait_for_rekey(&setup.b, |sa| sa.spi_i == a.spi_i)?;
    wait_for_tables(&keys_b, &b)?;
    setup.a.ctl(&["terminate", "--ike", "peer"])?;
    for keys in [&keys_a, &keys_b] {
        wait_for("empty key tables", Duration::from_secs(15), || {
            Ok(
                (read(keys, IKE_TABLE)?.is_empty() && read(keys, ESP_TABLE)?.is_empty())
                    .then_some(()),
            )
        })
        .with_context(|| format!("{} after terminate", keys.display()))?;
    }
    Ok(())
}

/// Waits until `keys` holds exactly `sa`'s IKE SA and the SPIs of its installed Child SA
/// (a replaced inbound SA lingers a few seconds after a rekey).
fn wait_for_tables(keys: &Path, sa: &HitlessIkeSa) -> Result<()> {
    let ike = format!("{},{},", sa.spi_i, sa.spi_r);
    let child = sa
        .children
        .iter()
        .find(|c| c.state == "INSTALLED")
        .context("no installed Child SA")?;
    let expected: BTreeSet<String> = [&child.spi_in, &child.spi_out]
        .into_iter()
        .map(|spi| format!("\"0x{spi}\""))
        .collect();
    let mut last = (String::new(), String::new());
    let found = wait_for("key tables naming the SAs", Duration::from_secs(15), || {
        last = (read(keys, IKE_TABLE)?, read(keys, ESP_TABLE)?);
        let (ike_table, esp_table) = &last;
        let ike_ok = ike_table.lines().count() == 1 && ike_table.starts_with(&ike);
        let esp_spis: BTreeSet<String> = esp_table
            .lines()
            .filter_map(|line| line.split(',').nth(3).map(str::to_owned))
            .collect();
        Ok((ike_ok && esp_spis == expected && esp_table.lines().count() == 2).then_some(()))
    });
    found.with_context(|| {
        format!(
            "{}: expected IKE SA {ike}… and ESP SPIs {expected:?}; the tables have {} IKE and \
             {} ESP lines (contents withheld: they are keys), starting {:?} / {:?}",
            keys.display(),
            last.0.lines().count(),
            last.1.lines().count(),
            last.0
                .lines()
                .map(|l| l.get(..34).unwrap_or(l))
                .collect::<Vec<_>>(),
            last.1
                .lines()
                .filter_map(|l| l.split(',').nth(3))
                .collect::<Vec<_>>(),
        )
    })
}

/// Waits until `daemon` reports an established IKE SA with an installed Child SA for which
/// `done` holds.
fn wait_for_rekey(daemon: &Hitlessd, done: impl Fn(&HitlessIkeSa) -> bool) -> Result<HitlessIkeSa> {
    wait_for("the rekeyed SA", Duration::from_secs(15), || {
        Ok(daemon.list_sas()?.into_iter().find(|sa| {
            sa.state == "ESTABLISHED"
                && sa.children.iter().any(|c| c.state == "INSTALLED")
                && done(sa)
        }))
    })
}

/// What tshark shows of the capture with a configuration directory.
#[derive(Debug)]
struct Decrypted {
    /// Identification - Initiator payloads (inside IKE_AUTH's SK payload).
    identities: usize,
    /// Authentication payloads.
    auths: usize,
    /// Each ESP packet's SPI (eight hex digits) and whether it decrypted to ICMP.
    esp: Vec<(String, bool)>,
}

/// tshark's view of the capture with `config_dir`.
fn decrypted(pcap: &Path, config_dir: &Path) -> Result<Decrypted> {
    let text = decode(pcap, config_dir, &["-V"])?;
    let identities = text.matches("Payload: Identification - Initiator").count();
    let auths = text.matches("Payload: Authentication (39)").count();
    let fields = decode(
        pcap,
        config_dir,
        &[
            "-Y",
            "esp",
            "-T",
            "fields",
            "-e",
            "esp.spi",
            "-e",
            "icmp.type",
        ],
    )?;
    let esp = fields
        .lines()
        .map(|line| {
            let mut columns = line.split('\t');
            let spi = columns.next().unwrap_or_default();
            let icmp = columns.next().is_some_and(|c| !c.trim().is_empty());
            Ok((spi_hex(spi)?, icmp))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Decrypted {
        identities,
        auths,
        esp,
    })
}

/// An SPI as tshark prints it (`0x0000abcd`, maybe followed by the decimal value) as eight
/// lowercase hex digits.
fn spi_hex(field: &str) -> Result<String> {
    let hex = field
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_start_matches("0x");
    let spi = u32::from_str_radix(hex, 16).with_context(|| format!("SPI {field:?}"))?;
    Ok(format!("{spi:08x}"))
}

/// The hex keys in a directory's tables (IKE: SK_e*, SK_a*; ESP: encryption and integrity).
fn table_keys(keys: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for line in read(keys, IKE_TABLE)?.lines() {
        let columns: Vec<&str> = line.split(',').collect();
        found.extend(
            [2, 3, 5, 6]
                .iter()
                .filter_map(|&i| columns.get(i))
                .filter(|key| !key.is_empty())
                .map(|key| (*key).to_owned()),
        );
    }
    for line in read(keys, ESP_TABLE)?.lines() {
        let columns: Vec<&str> = line.split(',').collect();
        found.extend(
            [5, 7]
                .iter()
                .filter_map(|&i| columns.get(i))
                .map(|key| key.trim_matches('"').trim_start_matches("0x").to_owned())
                .filter(|key| !key.is_empty()),
        );
    }
    ensure!(found.len() >= 4, "fewer keys than expected in the tables");
    Ok(found)
}

fn read(keys: &Path, table: &str) -> Result<String> {
    let path: PathBuf = keys.join(table);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}
