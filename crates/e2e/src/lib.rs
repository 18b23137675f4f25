//! Harness for the end-to-end tests: network namespaces, veth links, processes that are always
//! cleaned up, runners for strongSwan's charon and for hitlessd, and tshark captures.
//!
//! These tests need root and real tools. When something is missing they FAIL with a message
//! saying what to install; they never pass by skipping (DEVELOPERS.md).

pub mod hitless;
pub mod netns;
pub mod process;
pub mod scenario;
pub mod stream;
pub mod strongswan;
pub mod traffic;
pub mod tshark;

use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use anyhow::Result;
use anyhow::bail;

/// Fails unless we run as root with the tools the namespace tests need.
pub fn require_environment() -> Result<()> {
    let uid = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|line| line.strip_prefix("Uid:").map(str::to_owned))
        .and_then(|rest| rest.split_whitespace().next().map(str::to_owned))
        .context("no Uid line in /proc/self/status")?;
    if uid != "0" {
        bail!(
            "end-to-end tests need root (network namespaces, TUN); run ./scripts/test.sh as root"
        );
    }
    for tool in ["ip", "ping"] {
        which(tool).with_context(|| {
            format!("`{tool}` not found: install iproute2/iputils-ping (./scripts/install-deps.sh)")
        })?;
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        bail!("/dev/net/tun is missing: the kernel has no TUN support");
    }
    Ok(())
}

/// Finds an executable on `PATH`.
pub fn which(tool: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("{tool} not found in PATH"))
}

/// Polls `check` every 50 ms until it returns `Ok(Some(_))` or `timeout` passes.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error),
        }
        if Instant::now() >= deadline {
            match last_error {
                Some(error) => bail!("timed out after {timeout:?} waiting for {what}: {error:#}"),
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scratch directory for one test, removed on drop unless `HITLESS_E2E_KEEP` is set.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `/tmp/hitless-e2e/<name>` afresh.
    pub fn new(name: &str) -> Result<Self> {
        let path = PathBuf::from("/tmp/hitless-e2e").join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::env::var_os("HITLESS_E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
