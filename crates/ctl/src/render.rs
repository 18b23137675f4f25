//! Human output for each answer. Pure functions of the daemon's data, so they are tested
//! without a daemon.

use hitless_control::Event;
use hitless_control::message::EventFrame;
use hitless_control::response::Affected;
use hitless_control::response::ChildAlgorithms;
use hitless_control::response::HaStatus;
use hitless_control::response::IkeAlgorithms;
use hitless_control::response::ReloadSummary;
use hitless_control::response::SaList;
use hitless_control::response::Stats;
use hitless_control::response::Status;

use crate::format;
use crate::table::Table;

/// `hitlessctl status`.
pub(crate) fn status(status: &Status) -> String {
    let mut out = format!(
        "{} (pid {}), up {}\n",
        status.software,
        status.pid,
        format::duration(status.uptime_secs)
    );
    let mut table = Table::new(&["", ""]);
    let mut line = |label: &str, value: String| table.row(vec![label.to_owned(), value]);
    line("config", status.config_file.clone());
    line("log level", status.log_level.to_string());
    line(
        "data plane",
        if status.backend == "userspace" {
            format!("userspace, {} workers", status.workers)
        } else {
            status.backend.clone()
        },
    );
    line(
        "IKE SAs",
        format!(
            "{} established, {} connecting",
            status.ike_sas, status.half_open_ike_sas
        ),
    );
    line("Child SAs", format!("{} installed", status.child_sas));
    line(
        "connections",
        if status.connections.is_empty() {
            "none".to_owned()
        } else {
            status.connections.join(", ")
        },
    );
    line(
        "metrics",
        status
            .metrics_listen
            .clone()
            .unwrap_or_else(|| "off".to_owned()),
    );
    line(
        "HA",
        status
            .ha
            .as_ref()
            .map_or_else(|| "not configured".to_owned(), ha_line),
    );
    // The header row is empty; skip it.
    out.extend(table.render().lines().skip(1).map(|l| format!("{l}\n")));
    if let Some(keylog) = &status.wireshark_keylog {
        out.push_str(&format!(
            "WARNING: the Wireshark key log is on: every session key is written to {keylog}\n"
        ));
    }
    out
}

/// `hitlessctl list-sas`.
pub(crate) fn sa_list(list: &SaList) -> String {
    if list.ike_sas.is_empty() {
        return "no IKE SAs\n".to_owned();
    }
    let mut ike = Table::new(&[
        "ID",
        "CONNECTION",
        "STATE",
        "ROLE",
        "LOCAL",
        "REMOTE",
        "REMOTE ID",
        "SPI-I",
        "SPI-R",
        "ALGORITHMS",
        "AGE",
        "REKEY IN",
    ]);
    let mut children = Table::new(&[
        "ID",
        "IKE",
        "NAME",
        "STATE",
        "SPI-IN",
        "SPI-OUT",
        "ALGORITHMS",
        "IN",
        "OUT",
        "AGE",
        "REKEY IN",
        "RES",
        "TRAFFIC",
    ]);
    let mut child_count = 0;
    for sa in &list.ike_sas {
        let remote = if sa.nat.remote {
            format!("{} (NAT)", sa.remote)
        } else {
            sa.remote.to_string()
        };
        ike.row(vec![
            sa.id.0.to_string(),
            sa.connection.clone(),
            sa.state.to_string(),
            sa.role.to_string(),
            sa.local.to_string(),
            remote,
            sa.remote_id.clone(),
            sa.spi_i.to_string(),
            sa.spi_r.to_string(),
            sa.algorithms
                .as_ref()
                .map_or_else(|| "-".to_owned(), ike_algorithms),
            format::duration(sa.age_secs),
            format::maybe_duration(sa.rekey_in_secs),
        ]);
        for child in &sa.children {
            child_count += 1;
            let traffic = format!(
                "{} === {}",
                child.local_ts.join(","),
                child.remote_ts.join(",")
            );
            children.row(vec![
                child.id.0.to_string(),
                sa.id.0.to_string(),
                child.name.clone(),
                child.state.to_string(),
                child.spi_in.to_string(),
                child.spi_out.to_string(),
                child_algorithms(&child.algorithms, child.udp_encap),
                format!(
                    "{} ({} pkts)",
                    format::bytes(child.bytes_in),
                    child.packets_in
                ),
                format!(
                    "{} ({} pkts)",
                    format::bytes(child.bytes_out),
                    child.packets_out
                ),
                format::duration(child.age_secs),
                format::maybe_duration(child.rekey_in_secs),
                child
                    .resource
                    .map_or_else(|| "-".to_owned(), |r| r.0.to_string()),
                traffic,
            ]);
        }
    }
    let mut out = format!("IKE SAs ({})\n{}", list.ike_sas.len(), ike.render());
    out.push_str(&format!("\nChild SAs ({child_count})\n"));
    if child_count == 0 {
        out.push_str("none\n");
    } else {
        out.push_str(&children.render());
    }
    out
}

/// `hitlessctl stats`.
pub(crate) fn stats(stats: &Stats) -> String {
    let ike = &stats.ike;
    let plane = &stats.data_plane;
    let mut table = Table::new(&["", ""]);
    let mut line = |label: &str, value: String| table.row(vec![label.to_owned(), value]);
    line("uptime", format::duration(stats.uptime_secs));
    line(
        "IKE handshakes",
        format!(
            "{} initiated, {} responded, {} established, {} failed",
            ike.handshakes_initiated, ike.handshakes_responded, ike.established, ike.failed
        ),
    );
    line("failures", by_reason(&ike.failures));
    line(
        "rekeys",
        format!("{} IKE SA, {} Child SA", ike.ike_rekeys, ike.child_rekeys),
    );
    line("retransmits", ike.retransmits.to_string());
    line("cookies sent", ike.cookies_sent.to_string());
    line("invalid messages", ike.invalid_messages.to_string());
    line(
        "ESP in",
        format!(
            "{}, {} packets",
            format::bytes(plane.bytes_in),
            plane.packets_in
        ),
    );
    line(
        "ESP out",
        format!(
            "{}, {} packets",
            format::bytes(plane.bytes_out),
            plane.packets_out
        ),
    );
    line("drops", by_reason(&plane.drops));
    table
        .render()
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `hitlessctl ha …`.
pub(crate) fn ha(status: &HaStatus) -> String {
    format!("{}\n", ha_line(status))
}

/// `hitlessctl reload`.
pub(crate) fn reload(summary: &ReloadSummary) -> String {
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    let mut out = format!(
        "configuration reloaded: added {}; removed {}; changed {}; unchanged {}\n",
        list(&summary.added),
        list(&summary.removed),
        list(&summary.changed),
        summary.unchanged.len()
    );
    for warning in &summary.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}

/// `hitlessctl terminate` / `rekey`.
pub(crate) fn affected(verb: &str, affected: &Affected) -> String {
    let ids = |ids: Vec<String>| ids.join(", ");
    match (affected.ike_sas.is_empty(), affected.child_sas.is_empty()) {
        (true, true) => "no matching SA\n".to_owned(),
        (false, true) => format!(
            "{verb} IKE SA {}\n",
            ids(affected.ike_sas.iter().map(ToString::to_string).collect())
        ),
        (true, false) => format!(
            "{verb} Child SA {}\n",
            ids(affected.child_sas.iter().map(ToString::to_string).collect())
        ),
        (false, false) => format!(
            "{verb} IKE SA {} and Child SA {}\n",
            ids(affected.ike_sas.iter().map(ToString::to_string).collect()),
            ids(affected.child_sas.iter().map(ToString::to_string).collect())
        ),
    }
}

/// One line per event for `hitlessctl events`.
pub(crate) fn event(frame: &EventFrame) -> String {
    let time = format::timestamp(frame.time_ms);
    let what = match &frame.event {
        Event::IkeSaEstablished {
            ike_sa,
            connection,
            remote,
            remote_id,
        } => format!("IKE SA {ike_sa} {connection} established with {remote_id} at {remote}"),
        Event::IkeSaRekeyed {
            old,
            new,
            connection,
        } => format!("IKE SA {old} {connection} rekeyed, now {new}"),
        Event::IkeSaDeleted {
            ike_sa,
            connection,
            reason,
        } => format!("IKE SA {ike_sa} {connection} deleted: {reason}"),
        Event::IkeSaFailed {
            ike_sa,
            connection,
            remote,
            error,
        } => {
            let id = ike_sa.map(|id| format!(" {id}")).unwrap_or_default();
            let name = connection
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            let peer = remote.map(|r| format!(" with {r}")).unwrap_or_default();
            format!("IKE SA{id}{name} failed{peer}: {error}")
        }
        Event::ChildSaInstalled {
            ike_sa,
            child_sa,
            name,
            spi_in,
            spi_out,
            resource,
        } => {
            let resource = resource
                .map(|r| format!(", resource {}", r.0))
                .unwrap_or_default();
            format!(
                "Child SA {child_sa} {name} installed in IKE SA {ike_sa}, SPIs {spi_in} in / \
                 {spi_out} out{resource}"
            )
        }
        Event::ChildSaFailed {
            ike_sa,
            name,
            error,
        } => format!("Child SA {name} failed in IKE SA {ike_sa}: {error}"),
        Event::ChildSaRekeyed {
            old,
            new,
            name,
            spi_in,
            spi_out,
            ..
        } => format!("Child SA {old} {name} rekeyed, now {new}, SPIs {spi_in} in / {spi_out} out"),
        Event::ChildSaDeleted {
            child_sa,
            name,
            reason,
            ..
        } => format!("Child SA {child_sa} {name} deleted: {reason}"),
        Event::HaRoleChanged { role } => format!("HA role is now {role}"),
        Event::ConfigReloaded {
            added,
            removed,
            changed,
        } => format!(
            "configuration reloaded: {} added, {} removed, {} changed",
            added.len(),
            removed.len(),
            changed.len()
        ),
        Event::Log {
            level,
            target,
            message,
        } => format!("{} {target}: {message}", level.as_str().to_uppercase()),
    };
    format!("{time} {what}\n")
}

/// `AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE25519`, as swanctl prints it.
fn ike_algorithms(algorithms: &IkeAlgorithms) -> String {
    let mut parts = vec![with_bits(&algorithms.encryption, algorithms.key_bits)];
    parts.extend(algorithms.integrity.clone());
    parts.push(algorithms.prf.clone());
    parts.push(algorithms.key_exchange.clone());
    parts.extend(algorithms.additional_key_exchanges.iter().cloned());
    parts.join("/")
}

/// `AES_GCM_16-256/ESN`, with the PFS group and `UDP` when encapsulated.
fn child_algorithms(algorithms: &ChildAlgorithms, udp_encap: bool) -> String {
    let mut parts = vec![with_bits(&algorithms.encryption, algorithms.key_bits)];
    parts.extend(algorithms.integrity.clone());
    parts.extend(algorithms.key_exchange.clone());
    if algorithms.esn {
        parts.push("ESN".to_owned());
    }
    if udp_encap {
        parts.push("UDP".to_owned());
    }
    parts.join("/")
}

fn with_bits(name: &str, bits: Option<u16>) -> String {
    match bits {
        Some(bits) => format!("{name}-{bits}"),
        None => name.to_owned(),
    }
}

fn ha_line(status: &HaStatus) -> String {
    let peer = if status.peer_alive {
        "alive"
    } else {
        "NOT RESPONDING"
    };
    let lag = status
        .sync_lag_ms
        .map(|ms| format!(", sync lag {ms} ms"))
        .unwrap_or_default();
    format!(
        "node {} is {}; peer {} {peer}{lag}; {} IKE SAs synced",
        status.node, status.role, status.peer, status.synced_ike_sas
    )
}

fn by_reason(counts: &std::collections::BTreeMap<String, u64>) -> String {
    if counts.values().all(|n| *n == 0) {
        return "none".to_owned();
    }
    counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use hitless_control::LogLevel;
    use hitless_control::response::ChildSa;
    use hitless_control::response::ChildSaId;
    use hitless_control::response::ChildSaState;
    use hitless_control::response::HaRole;
    use hitless_control::response::IkeSa;
    use hitless_control::response::IkeSaId;
    use hitless_control::response::IkeSaState;
    use hitless_control::response::Nat;
    use hitless_control::response::Role;
    use hitless_sadb::IkeSpi;
    use hitless_sadb::ResourceId;
    use hitless_sadb::Spi;

    use super::*;

    fn sample() -> SaList {
        SaList {
            ike_sas: vec![IkeSa {
                id: IkeSaId(1),
                connection: "site-b".into(),
                state: IkeSaState::Established,
                role: Role::Initiator,
                local: "192.0.2.1:500".parse().unwrap(),
                remote: "198.51.100.1:4500".parse().unwrap(),
                local_id: "gw-a".into(),
                remote_id: "gw-b".into(),
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
                nat: Nat {
                    local: false,
                    remote: true,
                },
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
                        key_exchange: Some("CURVE25519".into()),
                        esn: true,
                    },
                    udp_encap: true,
                    resource: Some(ResourceId(2)),
                    bytes_in: 1_234_567,
                    bytes_out: 2048,
                    packets_in: 1000,
                    packets_out: 2,
                    age_secs: 61,
                    rekey_in_secs: None,
                    expires_in_secs: None,
                    local_ts: vec!["10.1.0.0/16".into()],
                    remote_ts: vec!["10.2.0.0/16".into()],
                }],
            }],
        }
    }

    #[test]
    fn sa_tables() {
        let text = sa_list(&sample());
        let expected = "\
IKE SAs (1)
ID  CONNECTION  STATE        ROLE       LOCAL          REMOTE                   REMOTE ID  SPI-I             SPI-R             ALGORITHMS                                   AGE    REKEY IN
1   site-b      ESTABLISHED  initiator  192.0.2.1:500  198.51.100.1:4500 (NAT)  gw-b       0123456789abcdef  fedcba9876543210  AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE25519  2m13s  3h41m

Child SAs (1)
ID  IKE  NAME  STATE      SPI-IN      SPI-OUT     ALGORITHMS                         IN                   OUT               AGE   REKEY IN  RES  TRAFFIC
3   1    net   INSTALLED  0xc1a2b3c4  0x0badf00d  AES_GCM_16-256/CURVE25519/ESN/UDP  1.2 MiB (1000 pkts)  2.0 KiB (2 pkts)  1m1s  -         2    10.1.0.0/16 === 10.2.0.0/16
";
        assert_eq!(text, expected);
        assert_eq!(sa_list(&SaList::default()), "no IKE SAs\n");
    }

    #[test]
    fn stats_lines() {
        let mut stats = Stats::default();
        stats.ike.failures.insert("authentication-failed".into(), 2);
        stats.ike.failures.insert("timeout".into(), 0);
        stats.data_plane.bytes_in = 5 << 30;
        let text = super::stats(&stats);
        assert!(
            text.contains("failures          authentication-failed 2\n"),
            "{text}"
        );
        assert!(
            text.contains("ESP in            5.0 GiB, 0 packets\n"),
            "{text}"
        );
        assert!(text.contains("drops             none\n"), "{text}");
    }

    #[test]
    fn status_warns_about_the_key_log() {
        let status = Status {
            software: "hitlessd 0.1.0".into(),
            pid: 42,
            uptime_secs: 7980,
            config_file: "/etc/hitless/hitless.toml".into(),
            log_level: LogLevel::Info,
            backend: "userspace".into(),
            workers: 4,
            ike_sas: 1,
            half_open_ike_sas: 0,
            child_sas: 2,
            connections: vec!["site-b".into()],
            metrics_listen: None,
            wireshark_keylog: Some("/tmp/keys".into()),
            ha: Some(HaStatus {
                node: "gw-a".into(),
                role: HaRole::Active,
                peer: "10.0.0.2".into(),
                peer_alive: true,
                sync_lag_ms: Some(3),
                synced_ike_sas: 1,
            }),
        };
        let text = super::status(&status);
        assert!(
            text.starts_with("hitlessd 0.1.0 (pid 42), up 2h13m\n"),
            "{text}"
        );
        assert!(
            text.contains("data plane   userspace, 4 workers\n"),
            "{text}"
        );
        assert!(text.contains("HA           node gw-a is active; peer 10.0.0.2 alive, sync lag 3 ms; 1 IKE SAs synced\n"), "{text}");
        assert!(text.ends_with(
            "WARNING: the Wireshark key log is on: every session key is written to /tmp/keys\n"
        ));
    }

    #[test]
    fn events_and_summaries() {
        let frame = EventFrame {
            time_ms: 1_700_000_000_123,
            event: Event::IkeSaFailed {
                ike_sa: Some(IkeSaId(4)),
                connection: Some("site-b".into()),
                remote: Some("198.51.100.1:500".parse().unwrap()),
                error: "authentication failed".into(),
            },
        };
        assert_eq!(
            event(&frame),
            "2023-11-14T22:13:20.123Z IKE SA #4 site-b failed with 198.51.100.1:500: authentication failed\n"
        );
        let affected_both = Affected {
            ike_sas: vec![IkeSaId(1)],
            child_sas: vec![ChildSaId(3), ChildSaId(4)],
        };
        assert_eq!(
            affected("deleting", &affected_both),
            "deleting IKE SA #1 and Child SA #3, #4\n"
        );
        assert_eq!(
            affected("rekeying", &Affected::default()),
            "no matching SA\n"
        );
        let summary = ReloadSummary {
            added: vec!["rw".into()],
            unchanged: vec!["a".into(), "b".into()],
            warnings: vec!["inline PSK".into()],
            ..Default::default()
        };
        assert_eq!(
            reload(&summary),
            "configuration reloaded: added rw; removed none; changed none; unchanged 2\nwarning: inline PSK\n"
        );
    }
}
