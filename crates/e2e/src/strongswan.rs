//! strongSwan's charon (Debian's 5.9 packages) as the interop peer, with kernel-libipsec for a
//! userspace ESP over TUN, configured through swanctl — run the way
//! ../shared/reference/strongswan-harness does it: one charon per namespace, each with a private
//! mount namespace and a tmpfs on /run (charon 5.9.8 hard-codes its pid file there), and the vici
//! socket at a filesystem path so swanctl reaches it from anywhere.

use std::fmt::Write as _;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use anyhow::Result;
use anyhow::bail;

use crate::netns::Netns;
use crate::process::Guarded;
use crate::process::run_stdout;
use crate::wait_for;

const CHARON: &str = "/usr/lib/ipsec/charon";
const PLUGINS: &str = "random nonce openssl aes sha1 sha2 hmac gcm curve25519 kdf pem pkcs1 \
                       pkcs8 pubkey x509 constraints revocation kernel-libipsec kernel-netlink \
                       socket-default vici updown counters";

/// Fails unless strongSwan's charon and swanctl are installed.
pub fn require_strongswan() -> Result<()> {
    if !Path::new(CHARON).is_file() {
        bail!(
            "strongSwan's charon is missing ({CHARON}): install strongswan-charon, strongswan-swanctl and libcharon-extra-plugins (./scripts/install-deps.sh)"
        );
    }
    crate::which("swanctl")
        .context("swanctl is missing: install strongswan-swanctl (./scripts/install-deps.sh)")?;
    Ok(())
}

/// Authentication of one side of a strongSwan connection.
#[derive(Clone, Debug)]
pub enum SwanAuth {
    /// Pre-shared key, shared by both IDs.
    Psk(String),
    /// Public key: our certificate and key file names (in `x509/` and `private/`), and the CA
    /// certificate file name (in `x509ca/`) that must have signed the peer's.
    PublicKey {
        /// Our certificate file (copied into swanctl/x509).
        cert: PathBuf,
        /// Our private key file (copied into swanctl/private).
        key: PathBuf,
        /// The CA certificate (copied into swanctl/x509ca).
        ca: PathBuf,
    },
}

/// One connection `conn` with one Child SA `child`.
#[derive(Clone, Debug)]
pub struct SwanConnection {
    /// Our underlay address.
    pub local_addr: String,
    /// The peer's underlay address (`%any` for a responder that accepts anyone).
    pub remote_addr: String,
    /// Our IKE identity.
    pub local_id: String,
    /// The peer's IKE identity.
    pub remote_id: String,
    /// Authentication.
    pub auth: SwanAuth,
    /// IKE proposals, e.g. `aes128gcm16-prfsha256-x25519`.
    pub ike_proposals: String,
    /// ESP proposals, e.g. `aes128gcm16`.
    pub esp_proposals: String,
    /// Our protected subnet(s).
    pub local_ts: String,
    /// The peer's protected subnet(s).
    pub remote_ts: String,
    /// Extra lines in the connection section.
    pub conn_extra: String,
    /// Extra lines in the child section.
    pub child_extra: String,
}

impl SwanConnection {
    /// A PSK connection with the given proposals and everything else like the reference
    /// harness.
    pub fn psk(
        local_addr: impl Into<String>,
        remote_addr: impl Into<String>,
        local_id: &str,
        remote_id: &str,
        psk: &str,
    ) -> Self {
        Self {
            local_addr: local_addr.into(),
            remote_addr: remote_addr.into(),
            local_id: local_id.to_owned(),
            remote_id: remote_id.to_owned(),
            auth: SwanAuth::Psk(psk.to_owned()),
            ike_proposals: "aes128gcm16-prfsha256-x25519".to_owned(),
            esp_proposals: "aes128gcm16".to_owned(),
            local_ts: "0.0.0.0/0".to_owned(),
            remote_ts: "0.0.0.0/0".to_owned(),
            conn_extra: String::new(),
            child_extra: String::new(),
        }
    }
}

/// A running charon, stopped on drop.
#[derive(Debug)]
pub struct Charon {
    dir: PathBuf,
    process: Guarded,
}

impl Charon {
    /// Writes the configuration for `conn` under `dir`, starts charon in `ns` and loads it.
    pub fn start(ns: &Netns, dir: &Path, conn: &SwanConnection, log_level: u8) -> Result<Self> {
        require_strongswan()?;
        std::fs::create_dir_all(dir)?;
        let swanctl = dir.join("swanctl");
        for sub in [
            "x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey", "private",
            "rsa", "ecdsa", "pkcs8", "pkcs12",
        ] {
            std::fs::create_dir_all(swanctl.join(sub))?;
        }
        std::fs::write(dir.join("strongswan.conf"), strongswan_conf(dir, log_level))?;
        std::fs::write(swanctl.join("swanctl.conf"), swanctl_conf(&swanctl, conn)?)?;
        let vici = dir.join("charon.vici");
        let _ = std::fs::remove_file(&vici);
        let mut command = ns.command("unshare");
        command
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs -o mode=755 hitless-e2e-run /run && mkdir -p /run/lock && \
             exec env STRONGSWAN_CONF='{}' {CHARON}",
                dir.join("strongswan.conf").display()
            ));
        let process = Guarded::spawn("charon", command, &dir.join("charon.stdout"))?;
        let charon = Self {
            dir: dir.to_owned(),
            process,
        };
        wait_for("charon's vici socket", Duration::from_secs(10), || {
            Ok(vici.exists().then_some(()))
        })?;
        wait_for("charon to answer", Duration::from_secs(10), || {
            Ok(charon.swanctl(&["--stats"]).is_ok().then_some(()))
        })?;
        charon.swanctl(&[
            "--load-all",
            "--noprompt",
            "--file",
            &swanctl.join("swanctl.conf").display().to_string(),
        ])?;
        Ok(charon)
    }

    /// Runs `swanctl COMMAND --uri … ARGS…` (swanctl wants the command first).
    pub fn swanctl(&self, args: &[&str]) -> Result<String> {
        let (command, rest) = args.split_first().context("swanctl needs a command")?;
        run_stdout(
            Command::new("timeout")
                .args(["30", "swanctl"])
                .arg(command)
                .arg("--uri")
                .arg(format!("unix://{}", self.dir.join("charon.vici").display()))
                .args(rest),
        )
    }

    /// Initiates the Child SA `net` (and its IKE SA).
    pub fn initiate(&self) -> Result<String> {
        self.swanctl(&["--initiate", "--child", "net", "--timeout", "20"])
    }

    /// The IKE and Child SAs charon reports.
    pub fn list_sas(&self) -> Result<Vec<SwanIkeSa>> {
        Ok(parse_list_sas(&self.swanctl(&["--list-sas"])?))
    }

    /// charon's log file.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("charon.log")).unwrap_or_default()
    }

    /// Stops charon.
    pub fn stop(mut self) {
        self.process.kill();
    }
}

/// An IKE SA as `swanctl --list-sas` prints it.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct SwanIkeSa {
    /// Connection name.
    pub name: String,
    /// State, e.g. `ESTABLISHED`.
    pub state: String,
    /// Initiator SPI (hex).
    pub spi_i: String,
    /// Responder SPI (hex).
    pub spi_r: String,
    /// Algorithms line, e.g. `AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519`.
    pub algorithms: String,
    /// Its Child SAs.
    pub children: Vec<SwanChildSa>,
}

/// A Child SA as `swanctl --list-sas` prints it.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct SwanChildSa {
    /// Child name.
    pub name: String,
    /// State, e.g. `INSTALLED`.
    pub state: String,
    /// Mode, e.g. `TUNNEL-in-UDP`.
    pub mode: String,
    /// Protocol and algorithms, e.g. `ESP:AES_GCM_16-128`.
    pub algorithms: String,
    /// Inbound SPI (hex, as printed).
    pub spi_in: String,
    /// Outbound SPI (hex, as printed).
    pub spi_out: String,
    /// Inbound bytes.
    pub bytes_in: u64,
    /// Inbound packets.
    pub packets_in: u64,
    /// Outbound bytes.
    pub bytes_out: u64,
    /// Outbound packets.
    pub packets_out: u64,
}

/// Parses the text of `swanctl --list-sas`.
pub fn parse_list_sas(text: &str) -> Vec<SwanIkeSa> {
    let mut sas: Vec<SwanIkeSa> = Vec::new();
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if indent == 0 && trimmed.contains(": #") {
            // `tun: #1, ESTABLISHED, IKEv2, 7c6d0b5a2b2f2a8a_i* 1e0cbd1a5f1ba7d3_r`
            let (name, rest) = trimmed.split_once(": #").unwrap_or_default();
            let fields: Vec<&str> = rest.split(", ").collect();
            let spis: Vec<&str> = fields
                .get(3)
                .map(|f| f.split_whitespace().collect())
                .unwrap_or_default();
            let clean = |spi: &str| {
                spi.trim_end_matches('*')
                    .trim_end_matches("_i")
                    .trim_end_matches("_r")
                    .to_owned()
            };
            sas.push(SwanIkeSa {
                name: name.to_owned(),
                state: fields.get(1).copied().unwrap_or_default().to_owned(),
                spi_i: spis.first().map(|s| clean(s)).unwrap_or_default(),
                spi_r: spis.get(1).map(|s| clean(s)).unwrap_or_default(),
                ..SwanIkeSa::default()
            });
            continue;
        }
        let Some(ike) = sas.last_mut() else { continue };
        if indent == 2 && trimmed.contains(": #") && trimmed.contains("reqid") {
            // `net: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-128`
            let (name, rest) = trimmed.split_once(": #").unwrap_or_default();
            let fields: Vec<&str> = rest.split(", ").collect();
            ike.children.push(SwanChildSa {
                name: name.to_owned(),
                state: fields.get(2).copied().unwrap_or_default().to_owned(),
                mode: fields.get(3).copied().unwrap_or_default().to_owned(),
                algorithms: fields.get(4).copied().unwrap_or_default().to_owned(),
                ..SwanChildSa::default()
            });
        } else if indent == 2
            && ike.algorithms.is_empty()
            && trimmed.contains('/')
            && !trimmed.contains(' ')
        {
            ike.algorithms = trimmed.to_owned();
        } else if let Some(child) = ike.children.last_mut() {
            let counters = |rest: &str| -> (String, u64, u64) {
                let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
                let number = |part: Option<&&str>| {
                    part.and_then(|p| p.split_whitespace().next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0)
                };
                (
                    parts
                        .first()
                        .map(|s| s.trim_end().to_owned())
                        .unwrap_or_default(),
                    number(parts.get(1)),
                    number(parts.get(2)),
                )
            };
            if let Some(rest) = trimmed.strip_prefix("in ") {
                let (spi, bytes, packets) = counters(rest.trim());
                child.spi_in = spi;
                child.bytes_in = bytes;
                child.packets_in = packets;
            } else if let Some(rest) = trimmed.strip_prefix("out ") {
                let (spi, bytes, packets) = counters(rest.trim());
                child.spi_out = spi;
                child.bytes_out = bytes;
                child.packets_out = packets;
            }
        }
    }
    sas
}

fn strongswan_conf(dir: &Path, log_level: u8) -> String {
    format!(
        r#"charon {{
    load_modular = no
    load = {PLUGINS}
    install_virtual_ip = no
    # kernel-libipsec and kernel-netlink keep several threads busy; with 8 vici starves.
    threads = 16
    delete_rekeyed_delay = 5
    filelog {{
        main {{
            path = {log}
            time_format = %H:%M:%S
            time_add_ms = yes
            append = no
            default = {log_level}
            flush_line = yes
        }}
    }}
    syslog {{
        daemon {{
            default = -1
        }}
    }}
    plugins {{
        vici {{
            socket = unix://{vici}
        }}
        kernel-libipsec {{
            allow_peer_ts = no
        }}
    }}
}}
"#,
        log = dir.join("charon.log").display(),
        vici = dir.join("charon.vici").display(),
    )
}

fn swanctl_conf(swanctl: &Path, conn: &SwanConnection) -> Result<String> {
    let mut out = String::new();
    let (auth, secrets) = match &conn.auth {
        SwanAuth::Psk(psk) => (
            ("auth = psk".to_owned(), "auth = psk".to_owned()),
            format!(
                "secrets {{\n  ike-1 {{\n    id-1 = {}\n    id-2 = {}\n    secret = \"{}\"\n  }}\n}}\n",
                conn.local_id, conn.remote_id, psk
            ),
        ),
        SwanAuth::PublicKey { cert, key, ca } => {
            let name = |path: &Path| {
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            std::fs::copy(cert, swanctl.join("x509").join(name(cert)))?;
            std::fs::copy(key, swanctl.join("private").join(name(key)))?;
            std::fs::copy(ca, swanctl.join("x509ca").join(name(ca)))?;
            (
                (
                    format!("auth = pubkey\n      certs = {}", name(cert)),
                    "auth = pubkey".to_owned(),
                ),
                String::new(),
            )
        }
    };
    writeln!(
        out,
        r#"connections {{
  conn {{
    version = 2
    local_addrs = {local_addr}
    remote_addrs = {remote_addr}
    proposals = {ike}
    encap = yes
    dpd_delay = 0
    rekey_time = 4h
    {conn_extra}
    local {{
      {local_auth}
      id = {local_id}
    }}
    remote {{
      {remote_auth}
      id = {remote_id}
    }}
    children {{
      net {{
        mode = tunnel
        local_ts = {local_ts}
        remote_ts = {remote_ts}
        esp_proposals = {esp}
        rekey_time = 1h
        {child_extra}
        start_action = none
        close_action = none
        dpd_action = none
      }}
    }}
  }}
}}
{secrets}"#,
        local_addr = conn.local_addr,
        remote_addr = conn.remote_addr,
        ike = conn.ike_proposals,
        conn_extra = conn.conn_extra,
        local_auth = auth.0,
        local_id = conn.local_id,
        remote_auth = auth.1,
        remote_id = conn.remote_id,
        local_ts = conn.local_ts,
        remote_ts = conn.remote_ts,
        esp = conn.esp_proposals,
        child_extra = conn.child_extra,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST_SAS: &str = "\
conn: #1, ESTABLISHED, IKEv2, 7c6d0b5a2b2f2a8a_i* 1e0cbd1a5f1ba7d3_r
  local  'a.sw.test' @ 10.201.0.1[4500]
  remote 'b.sw.test' @ 10.201.0.2[4500]
  AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519
  established 3s ago, rekeying in 14393s
  net: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-128
    installed 3s ago, rekeying in 3593s, expires in 3963s
    in  c7a1d1c5,    252 bytes,     3 packets,     0s ago
    out cd6f0c25,    252 bytes,     3 packets,     0s ago
    local  10.211.1.0/24
    remote 10.211.2.0/24
";

    #[test]
    fn parses_list_sas() {
        let sas = parse_list_sas(LIST_SAS);
        assert_eq!(sas.len(), 1);
        let ike = &sas[0];
        assert_eq!(ike.name, "conn");
        assert_eq!(ike.state, "ESTABLISHED");
        assert_eq!(ike.spi_i, "7c6d0b5a2b2f2a8a");
        assert_eq!(ike.spi_r, "1e0cbd1a5f1ba7d3");
        assert_eq!(
            ike.algorithms,
            "AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519"
        );
        let child = &ike.children[0];
        assert_eq!(child.name, "net");
        assert_eq!(child.state, "INSTALLED");
        assert_eq!(child.mode, "TUNNEL-in-UDP");
        assert_eq!(child.spi_in, "c7a1d1c5");
        assert_eq!(child.spi_out, "cd6f0c25");
        assert_eq!(child.packets_in, 3);
        assert_eq!(child.bytes_out, 252);
    }
}
