//! Raw schema → validated model: defaults, rules across keys, and the files keys refer to.
//!
//! Lifetimes follow swanctl: `life_time` defaults to `rekey_time` + 10 %, `rand_time` to
//! `life_time − rekey_time`, and a `rand_time` is subtracted at random from `rekey_time` so both
//! peers do not rekey at once (RFC 7296 §2.8.1 makes collisions rare, not impossible).

use std::num::NonZeroU32;
use std::num::NonZeroU64;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ErrorKind;
use crate::error::Issue;
use crate::error::KeyPath;
use crate::files::FileError;
use crate::files::Files;
use crate::files::decode_pem;
use crate::files::decode_psk;
use crate::identity::Identity;
use crate::model::Auth;
use crate::model::Backend;
use crate::model::CertificateAuth;
use crate::model::Child;
use crate::model::Connection;
use crate::model::Daemon;
use crate::model::DataPlane;
use crate::model::Debugging;
use crate::model::DpdAction;
use crate::model::Ha;
use crate::model::IkeLifetime;
use crate::model::IkeSettings;
use crate::model::KeyFormat;
use crate::model::Limits;
use crate::model::LogLevel;
use crate::model::Mode;
use crate::model::Parallelism;
use crate::model::PeerAddress;
use crate::model::Pool;
use crate::model::PrivateKey;
use crate::model::Psk;
use crate::model::Retransmit;
use crate::model::StartAction;
use crate::model::UdpEncap;
use crate::proposal::Entry;
use crate::proposal::EspProposal;
use crate::proposal::IkeProposal;
use crate::raw::RawChild;
use crate::raw::RawConfig;
use crate::raw::RawConnection;
use crate::raw::RawHa;
use crate::raw::RawMode;
use crate::ts::TsAddresses;
use crate::ts::TsSpec;
use crate::units::ConfigDuration;
use crate::units::CpuCount;
use crate::units::format_duration;

/// The parts of a [`crate::Config`] built from the raw schema, warnings not yet located.
pub(crate) struct Converted {
    pub(crate) daemon: Daemon,
    pub(crate) data_plane: DataPlane,
    pub(crate) ike: IkeSettings,
    pub(crate) debug: Debugging,
    pub(crate) ha: Option<Ha>,
    pub(crate) pools: Vec<Pool>,
    pub(crate) connections: Vec<Connection>,
    pub(crate) warnings: Vec<(KeyPath, String)>,
}

/// What conversion needs besides the raw schema.
pub(crate) struct Context<'a> {
    /// The configuration file (for its own permissions when it holds an inline PSK).
    pub(crate) config_file: &'a Path,
    /// Relative paths in the file are relative to this directory.
    pub(crate) base_dir: &'a Path,
    /// Where referenced files are read from.
    pub(crate) files: &'a dyn Files,
}

/// Default control socket path.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/hitless/hitlessd.sock";

pub(crate) fn convert(raw: RawConfig, cx: &Context<'_>) -> Result<Converted, Issue> {
    let mut warnings = Vec::new();
    let root = KeyPath::root();
    let daemon = daemon(&raw, &root.key("daemon"))?;
    let data_plane = data_plane(&raw, &root.key("data_plane"))?;
    let ike = ike_settings(&raw, &root.key("ike"))?;
    let debug = Debugging {
        wireshark_keylog: match raw.debug.wireshark_keylog {
            Some(path) => {
                let key = root.key("debug").key("wireshark_keylog");
                let path = cx.resolve(&key, path)?;
                warnings.push((
                    key,
                    format!(
                        "the Wireshark key log is ON: every IKE and ESP key is written to {}; \
                         turn it off outside debugging",
                        path.display()
                    ),
                ));
                Some(path)
            }
            None => None,
        },
    };
    let ha = match raw.ha {
        Some(ha) => Some(ha_settings(ha, &root.key("ha"), cx)?),
        None => None,
    };
    let mut pools = Vec::new();
    for (name, pool) in raw.pools.0 {
        let key = root.key("pools").key(&name);
        check_name(&key, &name, "pool")?;
        pools.push(Pool {
            name,
            range: pool.addrs,
            dns: pool.dns,
        });
    }
    let mut connections = Vec::new();
    for (name, connection) in raw.connections.0 {
        let key = root.key("connections").key(&name);
        let connection = convert_connection(name, connection, &key, cx, &pools, &mut warnings)?;
        connections.push(connection);
    }
    Ok(Converted {
        daemon,
        data_plane,
        ike,
        debug,
        ha,
        pools,
        connections,
        warnings,
    })
}

impl Context<'_> {
    /// A path from the file, made absolute against the file's directory.
    fn resolve(&self, key: &KeyPath, path: PathBuf) -> Result<PathBuf, Issue> {
        if path.as_os_str().is_empty() {
            return Err(Issue::invalid(
                key.clone(),
                "empty path, expected a file name",
            ));
        }
        Ok(if path.is_absolute() {
            path
        } else {
            self.base_dir.join(path)
        })
    }

    fn file_issue(&self, key: &KeyPath, path: &Path, what: &str, error: FileError) -> Issue {
        let message = format!("{what} {} {error}", path.display());
        let mut issue = Issue::new(ErrorKind::ReferencedFile, key.clone(), message);
        issue.expected = None;
        if let FileError::Io(io) = error {
            issue.source = Some(io);
        }
        issue
    }
}

fn daemon(raw: &RawConfig, key: &KeyPath) -> Result<Daemon, Issue> {
    let control_socket = match &raw.daemon.control_socket {
        Some(path) if !path.is_absolute() => {
            return Err(Issue::invalid(
                key.key("control_socket"),
                format!(
                    "`{}` is not an absolute path, expected e.g. {DEFAULT_CONTROL_SOCKET}",
                    path.display()
                ),
            ));
        }
        Some(path) => path.clone(),
        None => PathBuf::from(DEFAULT_CONTROL_SOCKET),
    };
    Ok(Daemon {
        control_socket,
        log_level: raw.daemon.log_level.unwrap_or(LogLevel::Info),
        metrics_listen: raw.daemon.metrics_listen,
    })
}

fn data_plane(raw: &RawConfig, key: &KeyPath) -> Result<DataPlane, Issue> {
    let section = &raw.data_plane;
    let workers = match section.workers {
        None | Some(CpuCount::Cpus) => Parallelism::PerCpu,
        Some(CpuCount::Fixed(n)) => Parallelism::Fixed(NonZeroU32::new(n).ok_or_else(|| {
            Issue::invalid(
                key.key("workers"),
                "0 workers, expected at least 1 or \"cpus\"",
            )
        })?),
    };
    let tun_name = section
        .tun_name
        .clone()
        .unwrap_or_else(|| "hitless0".to_owned());
    let valid_tun = !tun_name.is_empty()
        && tun_name.len() <= 15
        && tun_name != "."
        && tun_name != ".."
        && tun_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_tun {
        return Err(Issue::invalid(
            key.key("tun_name"),
            format!(
                "`{tun_name}` is not a valid interface name, expected 1 to 15 letters, digits, \
                 `-`, `_` or `.`"
            ),
        ));
    }
    let mtu = section.mtu.unwrap_or(1400);
    if !(576..=9216).contains(&mtu) {
        return Err(Issue::invalid(
            key.key("mtu"),
            format!("MTU {mtu} is out of range, expected 576 to 9216"),
        ));
    }
    Ok(DataPlane {
        backend: section.backend.unwrap_or(Backend::Userspace),
        workers,
        tun_name,
        mtu,
    })
}

fn ike_settings(raw: &RawConfig, key: &KeyPath) -> Result<IkeSettings, Issue> {
    let section = &raw.ike;
    let port = nonzero_port(key.key("port"), section.port, 500)?;
    let nat_t_port = nonzero_port(key.key("nat_t_port"), section.nat_t_port, 4500)?;
    if port == nat_t_port {
        return Err(Issue::inconsistent(
            key.key("nat_t_port"),
            format!("nat_t_port equals port ({port}), expected two different ports"),
        ));
    }
    let tries = NonZeroU32::new(section.retransmit_tries.unwrap_or(5)).ok_or_else(|| {
        Issue::invalid(key.key("retransmit_tries"), "0 tries, expected at least 1")
    })?;
    let timeout = section
        .retransmit_timeout
        .map_or(Duration::from_secs(4), |d| d.0);
    if timeout.is_zero() {
        return Err(Issue::invalid(
            key.key("retransmit_timeout"),
            "a zero timeout, expected a duration such as \"4s\"",
        ));
    }
    let base = section.retransmit_base.unwrap_or(1.8);
    if !(1.0..=10.0).contains(&base) {
        return Err(Issue::invalid(
            key.key("retransmit_base"),
            format!("{base} is out of range, expected a factor from 1.0 to 10.0"),
        ));
    }
    let jitter_percent = section.retransmit_jitter.unwrap_or(10);
    if jitter_percent > 100 {
        return Err(Issue::invalid(
            key.key("retransmit_jitter"),
            format!("{jitter_percent} % is out of range, expected 0 to 100"),
        ));
    }
    let limit = section
        .retransmit_limit
        .map(|d| d.0)
        .filter(|d| !d.is_zero());
    let cookie_threshold = section.cookie_threshold.unwrap_or(30);
    let block_threshold = section.block_threshold.unwrap_or(5);
    if block_threshold == 0 {
        return Err(Issue::invalid(
            key.key("block_threshold"),
            "0 half-open IKE SAs per address, expected at least 1",
        ));
    }
    let init_limit_half_open = section.init_limit_half_open.unwrap_or(10_000);
    if init_limit_half_open < cookie_threshold {
        return Err(Issue::inconsistent(
            key.key("init_limit_half_open"),
            format!(
                "{init_limit_half_open} is below cookie_threshold ({cookie_threshold}), expected \
                 at least cookie_threshold, or requests are dropped before cookies are demanded"
            ),
        ));
    }
    Ok(IkeSettings {
        port,
        nat_t_port,
        retransmit: Retransmit {
            tries,
            timeout,
            base,
            jitter_percent,
            limit,
        },
        cookie_threshold,
        block_threshold,
        init_limit_half_open,
    })
}

fn ha_settings(raw: RawHa, key: &KeyPath, cx: &Context<'_>) -> Result<Ha, Issue> {
    check_name(&key.key("node"), &raw.node, "node")?;
    let secret_key = key.key("secret_file");
    let secret_file = cx.resolve(&secret_key, raw.secret_file)?;
    let secret = cx
        .files
        .read_secret(&secret_file)
        .map_err(|e| cx.file_issue(&secret_key, &secret_file, "HA secret file", e))?;
    if secret.len() < 16 {
        return Err(Issue::invalid(
            secret_key,
            format!(
                "HA secret file {} holds {} bytes, expected at least 16 random bytes",
                secret_file.display(),
                secret.len()
            ),
        ));
    }
    let checkpoint_packets =
        NonZeroU64::new(raw.checkpoint_packets.unwrap_or(1024)).ok_or_else(|| {
            Issue::invalid(
                key.key("checkpoint_packets"),
                "0 packets, expected at least 1",
            )
        })?;
    let checkpoint_interval = raw
        .checkpoint_interval
        .map_or(Duration::from_millis(100), |d| d.0);
    if checkpoint_interval.is_zero() {
        return Err(Issue::invalid(
            key.key("checkpoint_interval"),
            "a zero interval, expected a duration such as \"100ms\"",
        ));
    }
    Ok(Ha {
        node: raw.node,
        peer: raw.peer,
        local: raw.local,
        sync_port: nonzero_port(key.key("sync_port"), raw.sync_port, 4510)?,
        secret_file,
        secret,
        checkpoint_packets,
        checkpoint_interval,
    })
}

fn convert_connection(
    name: String,
    raw: RawConnection,
    key: &KeyPath,
    cx: &Context<'_>,
    pools: &[Pool],
    warnings: &mut Vec<(KeyPath, String)>,
) -> Result<Connection, Issue> {
    check_name(key, &name, "connection")?;
    match raw.version {
        None | Some(2) => {}
        Some(1) => {
            return Err(Issue::invalid(
                key.key("version"),
                "IKEv1 is not supported, expected version = 2 (hitless speaks IKEv2 only)",
            ));
        }
        Some(other) => {
            return Err(Issue::invalid(
                key.key("version"),
                format!("unknown IKE version {other}, expected 2"),
            ));
        }
    }
    let lifetime = ike_lifetime(&raw, key)?;
    let local_addrs = local_addresses(raw.local_addrs.map(|a| a.0), &key.key("local_addrs"))?;
    let remote_addrs = raw.remote_addrs.0;
    if remote_addrs.is_empty() {
        return Err(Issue::invalid(
            key.key("remote_addrs"),
            "an empty list, expected at least one address, name or %any",
        ));
    }
    let local_id = match raw.local_id {
        Some(id) if id.has_wildcard() => {
            return Err(Issue::invalid(
                key.key("local_id"),
                format!(
                    "our own identity `{id}` contains a wildcard, expected a concrete identity \
                     (wildcards belong in remote_id)"
                ),
            ));
        }
        other => other,
    };
    let remote_id = raw.remote_id.unwrap_or(Identity::Any);
    let auth = auth(
        &raw.psk,
        raw.psk_file,
        raw.cert,
        raw.private_key,
        raw.cacerts,
        key,
        cx,
    )?;
    if let Auth::Psk(psk) = &auth {
        if psk.file.is_none() {
            warnings.push((
                key.key("psk"),
                "the PSK is written inline in the configuration; prefer psk_file pointing to a \
                 file with mode 0600"
                    .to_owned(),
            ));
        }
        if remote_id == Identity::Any {
            warnings.push((
                key.key("remote_id"),
                "PSK authentication with remote_id %any: anyone who knows the PSK may claim \
                 any identity; set remote_id or use certificates"
                    .to_owned(),
            ));
        }
    }
    let proposals = expand(raw.proposals.map(|p| p.0), IkeProposal::defaults);
    let mut connection_pools = Vec::new();
    for (i, pool) in raw
        .pools
        .map(|p| p.0)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if !pools.iter().any(|p| p.name == pool) {
            return Err(Issue::inconsistent(
                key.key("pools").index(i),
                format!("pool `{pool}` is not defined, expected a [pools.{pool}] section"),
            ));
        }
        connection_pools.push(pool);
    }
    let mut children: Vec<Child> = Vec::new();
    for (child_name, child) in raw.children.0 {
        let child_key = key.key("children").key(&child_name);
        let child = convert_child(child_name, child, &child_key, warnings)?;
        if child.start_action != StartAction::None
            && !remote_addrs
                .iter()
                .any(|a| matches!(a, PeerAddress::Ip(_) | PeerAddress::Hostname(_)))
        {
            return Err(Issue::inconsistent(
                child_key.key("start_action"),
                format!(
                    "start_action = \"{}\" needs an address to initiate to, but remote_addrs \
                     has only %any or ranges, expected start_action = \"none\" for a responder",
                    child.start_action
                ),
            ));
        }
        children.push(child);
    }
    Ok(Connection {
        name,
        local_addrs,
        remote_addrs,
        local_port: nonzero_port(key.key("local_port"), raw.local_port, 500)?,
        remote_port: nonzero_port(key.key("remote_port"), raw.remote_port, 500)?,
        local_id,
        remote_id,
        auth,
        proposals,
        dpd_delay: raw.dpd_delay.map_or(Some(Duration::from_secs(30)), |d| {
            Some(d.0).filter(|d| !d.is_zero())
        }),
        lifetime,
        keyingtries: NonZeroU32::new(raw.keyingtries.unwrap_or(0)),
        udp_encap: raw.udp_encap.unwrap_or(UdpEncap::Auto),
        fragmentation: raw.fragmentation.unwrap_or(true),
        rfc6311: raw.rfc6311.unwrap_or(true),
        pools: connection_pools,
        children,
    })
}

fn local_addresses(
    raw: Option<Vec<PeerAddress>>,
    key: &KeyPath,
) -> Result<Vec<std::net::IpAddr>, Issue> {
    let mut out = Vec::new();
    for (i, address) in raw.unwrap_or_default().into_iter().enumerate() {
        match address {
            PeerAddress::Any => {}
            PeerAddress::Ip(ip) => out.push(ip),
            other => {
                return Err(Issue::invalid(
                    key.index(i),
                    format!("`{other}` cannot be a local address, expected an IP address or %any"),
                ));
            }
        }
    }
    Ok(out)
}

fn auth(
    psk: &Option<String>,
    psk_file: Option<PathBuf>,
    cert: Option<PathBuf>,
    private_key: Option<PathBuf>,
    cacerts: Option<crate::raw::OneOrMany<PathBuf>>,
    key: &KeyPath,
    cx: &Context<'_>,
) -> Result<Auth, Issue> {
    let certificate_keys = cert.is_some() || private_key.is_some() || cacerts.is_some();
    match (psk, psk_file) {
        (Some(_), Some(_)) => Err(Issue::inconsistent(
            key.key("psk"),
            "both psk and psk_file are set, expected only one (preferably psk_file)",
        )),
        (Some(_), None) | (None, Some(_)) if certificate_keys => {
            let which = if cert.is_some() {
                "cert"
            } else if private_key.is_some() {
                "private_key"
            } else {
                "cacerts"
            };
            Err(Issue::inconsistent(
                key.key(which),
                "both a PSK and certificate settings are set, expected one authentication \
                 method: psk_file, or cert + private_key + cacerts",
            ))
        }
        (Some(inline), None) => {
            let psk_key = key.key("psk");
            // An inline PSK makes the configuration file itself a secret.
            if let Err(FileError::Insecure { mode, .. }) = cx.files.check_private(cx.config_file) {
                return Err(Issue::new(
                    ErrorKind::ReferencedFile,
                    psk_key,
                    format!(
                        "the configuration holds an inline PSK but is accessible by group or \
                         others (mode {mode:04o}); move the PSK to a psk_file with mode 0600, \
                         or chmod 600 {}",
                        cx.config_file.display()
                    ),
                ));
            }
            let key_bytes =
                decode_psk(inline.as_bytes()).map_err(|e| Issue::invalid(psk_key, e))?;
            Ok(Auth::Psk(Psk {
                file: None,
                key: key_bytes,
            }))
        }
        (None, Some(path)) => {
            let psk_key = key.key("psk_file");
            let path = cx.resolve(&psk_key, path)?;
            let contents = cx
                .files
                .read_secret(&path)
                .map_err(|e| cx.file_issue(&psk_key, &path, "PSK file", e))?;
            let key_bytes = decode_psk(contents.expose()).map_err(|e| {
                Issue::invalid(psk_key, format!("PSK file {}: {e}", path.display()))
            })?;
            Ok(Auth::Psk(Psk {
                file: Some(path),
                key: key_bytes,
            }))
        }
        (None, None) => certificate_auth(cert, private_key, cacerts, key, cx),
    }
}

fn certificate_auth(
    cert: Option<PathBuf>,
    private_key: Option<PathBuf>,
    cacerts: Option<crate::raw::OneOrMany<PathBuf>>,
    key: &KeyPath,
    cx: &Context<'_>,
) -> Result<Auth, Issue> {
    let (cert, private_key) = match (cert, private_key) {
        (None, None) => {
            return Err(Issue::missing(
                key.key("psk_file"),
                "no authentication configured, expected psk_file (pre-shared key) or cert + \
                 private_key + cacerts (certificates)",
            ));
        }
        (Some(_), None) => {
            return Err(Issue::missing(
                key.key("private_key"),
                "cert is set but private_key is missing, expected the path of the \
                 certificate's private key",
            ));
        }
        (None, Some(_)) => {
            return Err(Issue::missing(
                key.key("cert"),
                "private_key is set but cert is missing, expected the path of our certificate",
            ));
        }
        (Some(cert), Some(private_key)) => (cert, private_key),
    };
    let cacerts = cacerts.map(|c| c.0).unwrap_or_default();
    if cacerts.is_empty() {
        return Err(Issue::missing(
            key.key("cacerts"),
            "certificate authentication needs the CA certificates that sign the peer's \
             certificate, expected cacerts = [\"/etc/hitless/ca.pem\"]",
        ));
    }

    let cert_key = key.key("cert");
    let cert_file = cx.resolve(&cert_key, cert)?;
    let certs = read_certificates(&cert_key, &cert_file, "certificate file", cx)?;

    let private_key_key = key.key("private_key");
    let private_key_file = cx.resolve(&private_key_key, private_key)?;
    let contents = cx
        .files
        .read_secret(&private_key_file)
        .map_err(|e| cx.file_issue(&private_key_key, &private_key_file, "private key file", e))?;
    let private_key = private_key_from(contents.expose()).map_err(|e| {
        Issue::invalid(
            private_key_key,
            format!("private key file {}: {e}", private_key_file.display()),
        )
    })?;

    let mut ca_list = Vec::new();
    for (i, path) in cacerts.into_iter().enumerate() {
        let ca_key = key.key("cacerts").index(i);
        let path = cx.resolve(&ca_key, path)?;
        for der in read_certificates(&ca_key, &path, "CA certificate file", cx)? {
            ca_list.push((path.clone(), der));
        }
    }
    Ok(Auth::Certificate(Box::new(CertificateAuth {
        cert_file,
        certs,
        private_key_file,
        private_key,
        cacerts: ca_list,
    })))
}

fn read_certificates(
    key: &KeyPath,
    path: &Path,
    what: &str,
    cx: &Context<'_>,
) -> Result<Vec<Vec<u8>>, Issue> {
    let contents = cx
        .files
        .read_public(path)
        .map_err(|e| cx.file_issue(key, path, what, e))?;
    let blocks = decode_pem(&contents)
        .map_err(|e| Issue::invalid(key.clone(), format!("{what} {}: {e}", path.display())))?;
    let certs: Vec<Vec<u8>> = blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE" || b.label.is_empty())
        .map(|b| b.der.expose().to_vec())
        .collect();
    if certs.is_empty() {
        return Err(Issue::invalid(
            key.clone(),
            format!(
                "{what} {} holds no certificate, expected a PEM file with a \
                 \"-----BEGIN CERTIFICATE-----\" block, or DER",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

fn private_key_from(contents: &[u8]) -> Result<PrivateKey, String> {
    let blocks = decode_pem(contents)?;
    let mut keys = blocks.into_iter().filter(|b| b.label != "EC PARAMETERS");
    let Some(block) = keys.next() else {
        return Err("holds no private key, expected a PEM \"PRIVATE KEY\" block or DER".to_owned());
    };
    let format = match block.label.as_str() {
        "PRIVATE KEY" | "" => KeyFormat::Pkcs8,
        "RSA PRIVATE KEY" => KeyFormat::Pkcs1Rsa,
        "EC PRIVATE KEY" => KeyFormat::Sec1Ec,
        "ENCRYPTED PRIVATE KEY" => {
            return Err(
                "the key is encrypted, expected an unencrypted key (the daemon starts \
                        unattended): openssl pkey -in KEY -out KEY.plain"
                    .to_owned(),
            );
        }
        other => {
            return Err(format!(
                "holds a `{other}` block, expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY"
            ));
        }
    };
    if keys.next().is_some() {
        return Err("holds more than one key, expected exactly one".to_owned());
    }
    Ok(PrivateKey {
        format,
        der: block.der,
    })
}

fn ike_lifetime(raw: &RawConnection, key: &KeyPath) -> Result<IkeLifetime, Issue> {
    let rekey = raw
        .rekey_time
        .map_or(Some(Duration::from_secs(4 * 3600)), nonzero);
    let reauth = raw.reauth_time.and_then(nonzero);
    let longest = rekey.max(reauth);
    let life = match raw.life_time {
        Some(d) => nonzero(d),
        None => longest.map(|l| l + l / 10),
    };
    if let (Some(life), Some(longest)) = (life, longest)
        && life <= longest
    {
        let which = if reauth == Some(longest) && rekey != Some(longest) {
            "reauth_time"
        } else {
            "rekey_time"
        };
        return Err(Issue::inconsistent(
            key.key("life_time"),
            format!(
                "life_time ({}) must be greater than {which} ({}): the IKE SA would expire \
                 before it is renewed, expected e.g. life_time = \"{}\"",
                format_duration(life),
                format_duration(longest),
                format_duration(longest + longest / 10)
            ),
        ));
    }
    let jitter = match raw.rand_time {
        Some(d) => d.0,
        None => match (life, longest) {
            (Some(life), Some(longest)) => life - longest,
            _ => Duration::ZERO,
        },
    };
    let shortest = [rekey, reauth].into_iter().flatten().min();
    if let Some(shortest) = shortest
        && jitter >= shortest
    {
        return Err(Issue::inconsistent(
            key.key("rand_time"),
            format!(
                "rand_time ({}) must be less than rekey_time/reauth_time ({}), expected a \
                 fraction of it such as \"{}\"",
                format_duration(jitter),
                format_duration(shortest),
                format_duration(shortest / 10)
            ),
        ));
    }
    Ok(IkeLifetime {
        rekey,
        reauth,
        life,
        jitter,
    })
}

fn convert_child(
    name: String,
    raw: RawChild,
    key: &KeyPath,
    warnings: &mut Vec<(KeyPath, String)>,
) -> Result<Child, Issue> {
    check_name(key, &name, "child")?;
    let dynamic = TsSpec {
        addresses: TsAddresses::Dynamic,
        protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
    };
    let local_ts = selectors(raw.local_ts.map(|t| t.0), &key.key("local_ts"), dynamic)?;
    let remote_ts = selectors(raw.remote_ts.map(|t| t.0), &key.key("remote_ts"), dynamic)?;
    let time = limits(
        key,
        "time",
        raw.rekey_time.map(|d| d.0),
        raw.life_time.map(|d| d.0),
        raw.rand_time.map(|d| d.0),
        Some(Duration::from_secs(3600)),
        |d| d + d / 10,
        |d| format_duration(*d),
        warnings,
    )?;
    let bytes = limits(
        key,
        "bytes",
        raw.rekey_bytes.map(|b| b.0),
        raw.life_bytes.map(|b| b.0),
        raw.rand_bytes.map(|b| b.0),
        None,
        |b| b.saturating_add(b / 10),
        u64::to_string,
        warnings,
    )?;
    let packets = limits(
        key,
        "packets",
        raw.rekey_packets,
        raw.life_packets,
        raw.rand_packets,
        None,
        |p| p.saturating_add(p / 10),
        u64::to_string,
        warnings,
    )?;
    let replay_window = raw.replay_window.unwrap_or(1024);
    if replay_window > MAX_REPLAY_WINDOW {
        return Err(Issue::invalid(
            key.key("replay_window"),
            format!("{replay_window} packets is too large, expected 0 to {MAX_REPLAY_WINDOW}"),
        ));
    }
    if replay_window == 0 {
        warnings.push((
            key.key("replay_window"),
            "replay_window = 0 turns off anti-replay protection (RFC 4303 §3.4.3)".to_owned(),
        ));
    }
    let per_resource_sas = match raw.per_resource_sas {
        None | Some(CpuCount::Fixed(0)) => None,
        Some(CpuCount::Cpus) => Some(Parallelism::PerCpu),
        Some(CpuCount::Fixed(n)) => NonZeroU32::new(n).map(Parallelism::Fixed),
    };
    Ok(Child {
        name,
        local_ts,
        remote_ts,
        mode: match raw.mode {
            None | Some(RawMode::Tunnel) => Mode::Tunnel,
            Some(RawMode::Transport) => Mode::Transport,
        },
        start_action: raw.start_action.unwrap_or(StartAction::None),
        dpd_action: raw.dpd_action.unwrap_or(DpdAction::Clear),
        esp_proposals: expand(raw.esp_proposals.map(|p| p.0), EspProposal::defaults),
        time,
        bytes,
        packets,
        replay_window,
        per_resource_sas,
    })
}

fn selectors(
    raw: Option<Vec<TsSpec>>,
    key: &KeyPath,
    dynamic: TsSpec,
) -> Result<Vec<TsSpec>, Issue> {
    match raw {
        None => Ok(vec![dynamic]),
        Some(list) if list.is_empty() => Err(Issue::invalid(
            key.clone(),
            "an empty list, expected at least one traffic selector (or omit the key for \
             `dynamic`)",
        )),
        Some(list) => Ok(list),
    }
}

/// Rekey / life / rand limits of one kind, with swanctl's defaults and checks.
fn limits<T: Copy + Ord + Default + std::ops::Sub<Output = T>>(
    key: &KeyPath,
    kind: &str,
    rekey: Option<T>,
    life: Option<T>,
    rand: Option<T>,
    default_rekey: Option<T>,
    plus_ten_percent: fn(T) -> T,
    show: fn(&T) -> String,
    warnings: &mut Vec<(KeyPath, String)>,
) -> Result<Limits<T>, Issue> {
    let zero = T::default();
    let nonzero = |v: Option<T>| v.filter(|v| *v != zero);
    let rekey = match rekey {
        Some(value) => nonzero(Some(value)),
        None => default_rekey,
    };
    let life = match life {
        Some(value) => nonzero(Some(value)),
        None => rekey.map(plus_ten_percent),
    };
    let (rekey_key, life_key, rand_key) = (
        format!("rekey_{kind}"),
        format!("life_{kind}"),
        format!("rand_{kind}"),
    );
    if let (Some(rekey), Some(life)) = (rekey, life)
        && life <= rekey
    {
        return Err(Issue::inconsistent(
            key.key(&life_key),
            format!(
                "{life_key} ({}) must be greater than {rekey_key} ({}): the Child SA would \
                 expire before it is rekeyed, expected e.g. {life_key} = {}",
                show(&life),
                show(&rekey),
                show(&plus_ten_percent(rekey))
            ),
        ));
    }
    if rekey.is_none() && life.is_some() {
        warnings.push((
            key.key(&life_key),
            format!(
                "{life_key} is set without {rekey_key}: the Child SA expires without being \
                 rekeyed, interrupting traffic"
            ),
        ));
    }
    let jitter = match rand {
        Some(value) => value,
        None => match (rekey, life) {
            (Some(rekey), Some(life)) => life - rekey,
            _ => zero,
        },
    };
    if let Some(rekey) = rekey
        && jitter >= rekey
    {
        return Err(Issue::inconsistent(
            key.key(&rand_key),
            format!(
                "{rand_key} ({}) must be less than {rekey_key} ({}), expected a fraction of it",
                show(&jitter),
                show(&rekey)
            ),
        ));
    }
    Ok(Limits {
        rekey,
        life,
        jitter,
    })
}

/// Replaces `default` entries with the defaults (once) and applies the defaults when the key
/// is absent.
fn expand<P: PartialEq>(entries: Option<Vec<Entry<P>>>, defaults: fn() -> Vec<P>) -> Vec<P> {
    let Some(entries) = entries.filter(|e| !e.is_empty()) else {
        return defaults();
    };
    let mut out = Vec::new();
    for entry in entries {
        match entry {
            Entry::Proposal(p) => out.push(p),
            Entry::Default => {
                for p in defaults() {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
        }
    }
    out
}

fn nonzero(duration: ConfigDuration) -> Option<Duration> {
    Some(duration.0).filter(|d| !d.is_zero())
}

fn nonzero_port(key: KeyPath, value: Option<u16>, default: u16) -> Result<u16, Issue> {
    match value {
        None => Ok(default),
        Some(0) => Err(Issue::invalid(key, "port 0, expected 1 to 65535")),
        Some(port) => Ok(port),
    }
}

fn check_name(key: &KeyPath, name: &str, what: &str) -> Result<(), Issue> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Issue::invalid(
            key.clone(),
            format!(
                "{what} name `{name}` is not valid, expected 1 to 64 letters, digits, `-`, `_` \
                 or `.`"
            ),
        ))
    }
}

/// The largest anti-replay window accepted, in packets.
pub const MAX_REPLAY_WINDOW: u32 = 65_536;
