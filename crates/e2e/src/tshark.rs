//! tshark as a test instrument: a capture on an interface inside a namespace, stopped cleanly
//! (so the file is complete), and decoding of a capture with a Wireshark configuration
//! directory (`WIRESHARK_CONFIG_DIR`), such as the key tables hitlessd writes.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use anyhow::Result;
use anyhow::bail;

use crate::netns::Netns;
use crate::process::Guarded;
use crate::process::run;
use crate::wait_for;
use crate::which;

/// How long libpcap may hold captured packets before handing them to tshark.
const BLOCK_TIMEOUT: Duration = Duration::from_millis(1500);

/// Fails unless tshark is installed.
///
/// # Errors
///
/// Naming the package to install.
pub fn require_tshark() -> Result<()> {
    which("tshark").context(
        "`tshark` not found: install it (./scripts/install-deps.sh installs the tshark package)",
    )?;
    Ok(())
}

/// A running capture, stopped (and its file completed) by [`Capture::stop`] or on drop.
#[derive(Debug)]
pub struct Capture {
    process: Guarded,
    file: PathBuf,
    log: PathBuf,
}

impl Capture {
    /// Starts capturing every packet on `interface` in `ns` into the pcap file `file`, and
    /// waits until tshark says it is capturing.
    ///
    /// # Errors
    ///
    /// When tshark is missing, exits, or does not start capturing within 10 s.
    pub fn start(ns: &Netns, interface: &str, file: &Path) -> Result<Self> {
        require_tshark()?;
        let log = file.with_extension("tshark.log");
        let mut command = ns.command("tshark");
        command
            .args(["-i", interface, "-F", "pcap", "-w"])
            .arg(file);
        let mut process = Guarded::spawn("tshark", command, &log)?;
        let started = wait_for(
            &format!("tshark capturing on {interface}"),
            Duration::from_secs(10),
            || {
                if !process.is_running() {
                    bail!("tshark exited");
                }
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                Ok(text.contains("Capturing on").then_some(()))
            },
        );
        if let Err(error) = started {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("{error:#}\ntshark log:\n{text}");
        }
        Ok(Self {
            process,
            file: file.to_owned(),
            log,
        })
    }

    /// Stops the capture (SIGINT, as Ctrl-C) and returns the file once tshark has closed it.
    ///
    /// # Errors
    ///
    /// When tshark does not exit within 10 s or fails.
    pub fn stop(mut self) -> Result<PathBuf> {
        // libpcap hands packets over in blocks, retired after up to a second (TPACKET_V3):
        // stopping at once would lose the last ones.
        std::thread::sleep(BLOCK_TIMEOUT);
        self.process.signal("INT")?;
        let code = self.process.wait_exit(Duration::from_secs(10))?;
        if code != Some(0) {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            bail!("tshark capture exited with {code:?}:\n{text}");
        }
        Ok(self.file.clone())
    }
}

/// Decodes `pcap` with `config_dir` as Wireshark's personal configuration directory and the
/// extra tshark arguments `args` (for example `-V`, or `-T fields -e …`); returns the output.
///
/// # Errors
///
/// When tshark fails or complains about a table in the directory.
pub fn decode(pcap: &Path, config_dir: &Path, args: &[&str]) -> Result<String> {
    require_tshark()?;
    let output = run(Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", config_dir)
        .arg("-r")
        .arg(pcap)
        .args(args))?;
    let errors = String::from_utf8_lossy(&output.stderr);
    if errors.contains("Error") {
        bail!(
            "tshark could not load the tables in {}: {errors}",
            config_dir.display()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
