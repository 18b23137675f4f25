//! hitlessd as a test subject: built once per test process, started in a namespace with a
//! generated TOML configuration, queried with `hitlessctl --json` on its control socket, and
//! stopped with SIGTERM when the guard drops.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use anyhow::Result;
use anyhow::bail;
use serde_json::Value;

use crate::netns::Netns;
use crate::process::Guarded;
use crate::process::run;
use crate::wait_for;

/// The hitless binaries under test.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// hitlessd.
    pub hitlessd: PathBuf,
    /// hitlessctl.
    pub hitlessctl: PathBuf,
}

/// Builds hitlessd and hitlessctl (debug profile) once per test process, or takes them from
/// `HITLESS_BIN_DIR` (for example a release build: `HITLESS_BIN_DIR=target/release`).
///
/// # Errors
///
/// When the build fails or the binaries are missing.
pub fn binaries() -> Result<Binaries> {
    static BUILT: OnceLock<Result<Binaries, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn build() -> Result<Binaries> {
    let dir = match std::env::var_os("HITLESS_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            run(Command::new(cargo).current_dir(&workspace).args([
                "build",
                "--quiet",
                "-p",
                "hitlessd",
                "-p",
                "hitlessctl",
            ]))
            .context("building hitlessd and hitlessctl for the end-to-end tests")?;
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| workspace.join("target"), PathBuf::from);
            target.join("debug")
        }
    };
    let binaries = Binaries {
        hitlessd: dir.join("hitlessd"),
        hitlessctl: dir.join("hitlessctl"),
    };
    for binary in [&binaries.hitlessd, &binaries.hitlessctl] {
        if !binary.is_file() {
            bail!("{} is missing", binary.display());
        }
    }
    Ok(binaries)
}

/// One hitlessd configuration with one connection `peer` and one Child SA `net`.
#[derive(Clone, Debug)]
pub struct HitlessConfig {
    /// Our underlay address.
    pub local_addr: String,
    /// The peer's underlay address (`%any` for a responder that accepts anyone).
    pub remote_addr: String,
    /// Our IKE identity.
    pub local_id: String,
    /// The peer's IKE identity.
    pub remote_id: String,
    /// The pre-shared key (written to a 0600 file).
    pub psk: String,
    /// IKE proposals in strongSwan syntax.
    pub proposals: Vec<String>,
    /// ESP proposals in strongSwan syntax.
    pub esp_proposals: Vec<String>,
    /// Our protected subnet.
    pub local_ts: String,
    /// The peer's protected subnet.
    pub remote_ts: String,
    /// `none` or `start`.
    pub start_action: String,
    /// `auto` or `force`.
    pub udp_encap: String,
    /// Data-plane workers.
    pub workers: u32,
    /// Log filter.
    pub log_level: String,
    /// Extra lines for the connection section.
    pub conn_extra: String,
    /// Extra lines for the child section.
    pub child_extra: String,
    /// The control socket; `None` puts it in the daemon's directory.
    pub control_socket: Option<PathBuf>,
    /// Extra lines for the `[daemon]` section.
    pub daemon_extra: String,
    /// More sections at the end of the file (`[ike]` settings, more connections).
    pub extra_sections: String,
}

impl HitlessConfig {
    /// A PSK site-to-site configuration like [`crate::strongswan::SwanConnection::psk`].
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
            psk: psk.to_owned(),
            proposals: vec!["aes128gcm16-prfsha256-x25519".to_owned()],
            esp_proposals: vec!["aes128gcm16".to_owned()],
            local_ts: "0.0.0.0/0".to_owned(),
            remote_ts: "0.0.0.0/0".to_owned(),
            start_action: "none".to_owned(),
            udp_encap: "auto".to_owned(),
            workers: 1,
            log_level: "debug".to_owned(),
            conn_extra: String::new(),
            child_extra: String::new(),
            control_socket: None,
            daemon_extra: String::new(),
            extra_sections: String::new(),
        }
    }

    /// The control socket for a daemon whose directory is `dir`.
    pub fn socket(&self, dir: &Path) -> PathBuf {
        self.control_socket
            .clone()
            .unwrap_or_else(|| dir.join("hitlessd.sock"))
    }

    /// The TOML text, with the control socket and PSK file under `dir`.
    pub fn to_toml(&self, dir: &Path) -> String {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|i| format!("{i:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = String::new();
        let _ = write!(
            out,
            r#"[daemon]
control_socket = "{socket}"
log_level = "{log_level}"
{daemon_extra}

[data_plane]
workers = {workers}
tun_name = "hitless0"

[connections.peer]
local_addrs = ["{local_addr}"]
remote_addrs = ["{remote_addr}"]
local_id = "{local_id}"
remote_id = "{remote_id}"
psk_file = "{psk_file}"
proposals = [{proposals}]
udp_encap = "{udp_encap}"
{conn_extra}

[connections.peer.children.net]
local_ts = ["{local_ts}"]
remote_ts = ["{remote_ts}"]
esp_proposals = [{esp_proposals}]
start_action = "{start_action}"
{child_extra}

{extra_sections}
"#,
            socket = self.socket(dir).display(),
            log_level = self.log_level,
            daemon_extra = self.daemon_extra,
            workers = self.workers,
            local_addr = self.local_addr,
            remote_addr = self.remote_addr,
            local_id = self.local_id,
            remote_id = self.remote_id,
            psk_file = dir.join("psk").display(),
            proposals = list(&self.proposals),
            udp_encap = self.udp_encap,
            conn_extra = self.conn_extra,
            local_ts = self.local_ts,
            remote_ts = self.remote_ts,
            esp_proposals = list(&self.esp_proposals),
            start_action = self.start_action,
            child_extra = self.child_extra,
            extra_sections = self.extra_sections,
        );
        out
    }
}

/// A running hitlessd, stopped (SIGTERM) on drop.
#[derive(Debug)]
pub struct Hitlessd {
    dir: PathBuf,
    socket: PathBuf,
    binaries: Binaries,
    process: Guarded,
}

impl Hitlessd {
    /// Writes the configuration under `dir`, starts hitlessd in `ns` and waits for its control
    /// socket to answer.
    ///
    /// # Errors
    ///
    /// When it cannot be built or started, or does not answer within 10 s (its log is in the
    /// error).
    pub fn start(ns: &Netns, dir: &Path, config: &HitlessConfig) -> Result<Self> {
        let mut daemon = Self::launch(ns, dir, config)?;
        daemon.wait_ready()?;
        Ok(daemon)
    }

    /// Writes the configuration under `dir` (`hitless.toml`, `psk`) and starts hitlessd in
    /// `ns`, without waiting for it.
    ///
    /// # Errors
    ///
    /// When it cannot be built or spawned.
    pub fn launch(ns: &Netns, dir: &Path, config: &HitlessConfig) -> Result<Self> {
        let binaries = binaries()?;
        std::fs::create_dir_all(dir)?;
        let psk = dir.join("psk");
        std::fs::write(&psk, &config.psk)?;
        std::fs::set_permissions(&psk, std::fs::Permissions::from_mode(0o600))?;
        let config_file = dir.join("hitless.toml");
        std::fs::write(&config_file, config.to_toml(dir))?;
        let mut command = ns.command(&binaries.hitlessd.display().to_string());
        command
            .arg("--config")
            .arg(&config_file)
            .arg("--foreground");
        let process = Guarded::spawn("hitlessd", command, &dir.join("hitlessd.log"))?;
        Ok(Self {
            dir: dir.to_owned(),
            socket: config.socket(dir),
            binaries,
            process,
        })
    }

    /// Waits up to 10 s for the control socket to answer.
    ///
    /// # Errors
    ///
    /// When the daemon exits or does not answer (its log is in the error).
    pub fn wait_ready(&mut self) -> Result<()> {
        let ready = wait_for("hitlessd's control socket", Duration::from_secs(10), || {
            if !self.process.is_running() {
                bail!("hitlessd exited");
            }
            Ok(self.ctl(&["status"]).is_ok().then_some(()))
        });
        ready.map_err(|error| anyhow::anyhow!("{error:#}\nhitlessd log:\n{}", self.log()))
    }

    /// Waits up to `timeout` for the daemon to exit and returns its exit code.
    ///
    /// # Errors
    ///
    /// When it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<i32>> {
        self.process.wait_exit(timeout)
    }

    /// Kills it with SIGKILL (leaving its control socket behind).
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Runs `hitlessctl --socket SOCKET ARGS…` and returns its stdout.
    ///
    /// # Errors
    ///
    /// When it exits non-zero (its output is in the error).
    pub fn ctl(&self, args: &[&str]) -> Result<String> {
        let output = run(Command::new("timeout")
            .arg("30")
            .arg(&self.binaries.hitlessctl)
            .arg("--socket")
            .arg(self.socket())
            .args(args))?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs `hitlessctl --json ARGS…` and parses its output.
    ///
    /// # Errors
    ///
    /// When it fails or prints something that is not JSON.
    pub fn ctl_json(&self, args: &[&str]) -> Result<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ctl(&all)?;
        serde_json::from_str(&text).with_context(|| format!("hitlessctl printed non-JSON: {text}"))
    }

    /// The IKE and Child SAs, from `hitlessctl --json list-sas`.
    ///
    /// # Errors
    ///
    /// When hitlessctl fails or its output lacks a field.
    pub fn list_sas(&self) -> Result<Vec<HitlessIkeSa>> {
        let value = self.ctl_json(&["list-sas"])?;
        parse_list_sas(&value)
    }

    /// Initiates connection `peer` (waiting for hitlessctl's answer, not for the SA).
    ///
    /// # Errors
    ///
    /// When hitlessctl fails.
    pub fn initiate(&self) -> Result<String> {
        self.ctl(&["initiate", "peer"])
    }

    /// Waits until an IKE SA is established with its Child SA installed, and returns it.
    ///
    /// # Errors
    ///
    /// On timeout (with the daemon's log).
    pub fn wait_established(&self, timeout: Duration) -> Result<HitlessIkeSa> {
        let found = wait_for("hitless IKE SA with an installed Child SA", timeout, || {
            Ok(self.list_sas()?.into_iter().find(|sa| {
                sa.state == "ESTABLISHED" && sa.children.iter().any(|c| c.state == "INSTALLED")
            }))
        });
        found.map_err(|error| anyhow::anyhow!("{error:#}\nhitlessd log:\n{}", self.log()))
    }

    /// The control socket.
    pub fn socket(&self) -> PathBuf {
        self.socket.clone()
    }

    /// The directory with its configuration and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// hitlessd's log (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("hitlessd.log")).unwrap_or_default()
    }

    /// Sends a signal (`"HUP"`, `"TERM"`, …).
    ///
    /// # Errors
    ///
    /// When `kill` fails.
    pub fn signal(&self, signal: &str) -> Result<()> {
        self.process.signal(signal)
    }

    /// Stops it with SIGTERM and returns its exit code.
    ///
    /// # Errors
    ///
    /// When it does not exit within 10 s.
    pub fn stop(mut self) -> Result<Option<i32>> {
        self.process.signal("TERM")?;
        self.process.wait_exit(Duration::from_secs(10))
    }
}

/// An IKE SA as `hitlessctl --json list-sas` reports it.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct HitlessIkeSa {
    /// Connection name.
    pub connection: String,
    /// State, e.g. `ESTABLISHED`.
    pub state: String,
    /// Initiator SPI, 16 lowercase hex digits (as swanctl prints it).
    pub spi_i: String,
    /// Responder SPI, 16 lowercase hex digits.
    pub spi_r: String,
    /// Whether hitless initiated it.
    pub initiator: bool,
    /// Its Child SAs.
    pub children: Vec<HitlessChildSa>,
}

/// A Child SA as `hitlessctl --json list-sas` reports it.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct HitlessChildSa {
    /// Child name.
    pub name: String,
    /// State, e.g. `INSTALLED`.
    pub state: String,
    /// Inbound SPI, 8 lowercase hex digits (as swanctl prints it).
    pub spi_in: String,
    /// Outbound SPI, 8 lowercase hex digits.
    pub spi_out: String,
    /// ESP in UDP.
    pub udp_encap: bool,
    /// Inbound bytes.
    pub bytes_in: u64,
    /// Inbound packets.
    pub packets_in: u64,
    /// Outbound bytes.
    pub bytes_out: u64,
    /// Outbound packets.
    pub packets_out: u64,
}

/// Parses `hitlessctl --json list-sas`.
///
/// # Errors
///
/// When a field is missing or has the wrong type.
pub fn parse_list_sas(value: &Value) -> Result<Vec<HitlessIkeSa>> {
    let sas = value
        .get("ike_sas")
        .and_then(Value::as_array)
        .context("no ike_sas array")?;
    sas.iter()
        .map(|sa| {
            let children = sa
                .get("children")
                .and_then(Value::as_array)
                .context("IKE SA without children array")?
                .iter()
                .map(|child| {
                    Ok(HitlessChildSa {
                        name: string(child, "name")?,
                        state: string(child, "state")?.to_uppercase(),
                        spi_in: hex(child, "spi_in", 8)?,
                        spi_out: hex(child, "spi_out", 8)?,
                        udp_encap: child
                            .get("udp_encap")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        bytes_in: number(child, "bytes_in")?,
                        packets_in: number(child, "packets_in")?,
                        bytes_out: number(child, "bytes_out")?,
                        packets_out: number(child, "packets_out")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(HitlessIkeSa {
                connection: string(sa, "connection")?,
                state: string(sa, "state")?.to_uppercase(),
                spi_i: hex(sa, "spi_i", 16)?,
                spi_r: hex(sa, "spi_r", 16)?,
                initiator: string(sa, "role")? == "initiator",
                children,
            })
        })
        .collect()
}

fn string(value: &Value, key: &str) -> Result<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no string field {key} in {value}"))
}

fn number(value: &Value, key: &str) -> Result<u64> {
    value
        .get(key)
        .and_then(Value::as_u64)
        .with_context(|| format!("no number field {key} in {value}"))
}

/// An SPI field as lowercase hex without prefix, zero-padded to `digits`: accepts a number or
/// a string such as `0x0000abcd` or `0000abcd`.
fn hex(value: &Value, key: &str, digits: usize) -> Result<String> {
    let field = value
        .get(key)
        .with_context(|| format!("no field {key} in {value}"))?;
    let number = match field {
        Value::Number(n) => n.as_u64().context("SPI is not an unsigned number")?,
        Value::String(s) => {
            let digits = s.trim_start_matches("0x");
            u64::from_str_radix(digits, 16).with_context(|| format!("SPI {s:?} is not hex"))?
        }
        _ => bail!("SPI field {key} is neither a number nor a string"),
    };
    Ok(format!("{number:0digits$x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_list_sas_json() {
        let value: Value = serde_json::from_str(
            r#"{"ike_sas":[{"connection":"peer","state":"established","role":"initiator",
            "spi_i":"7c6d0b5a2b2f2a8a","spi_r":1234,"children":[{"name":"net",
            "state":"installed","spi_in":"0x00c0ffee","spi_out":3405691582,"udp_encap":true,
            "bytes_in":1,"packets_in":2,"bytes_out":3,"packets_out":4}]}]}"#,
        )
        .unwrap();
        let sas = parse_list_sas(&value).unwrap();
        assert_eq!(sas[0].state, "ESTABLISHED");
        assert!(sas[0].initiator);
        assert_eq!(sas[0].children[0].state, "INSTALLED");
        assert_eq!(sas[0].spi_i, "7c6d0b5a2b2f2a8a");
        assert_eq!(sas[0].spi_r, "00000000000004d2");
        assert_eq!(sas[0].children[0].spi_in, "00c0ffee");
        assert_eq!(sas[0].children[0].spi_out, "cafebabe");
        assert_eq!(sas[0].children[0].packets_out, 4);
    }
}
