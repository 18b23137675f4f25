//! `setup-rate`: hitless as the initiator of an IKE setup-rate benchmark (issue 7 item 9).
//!
//! It loads a hitlessd configuration file, takes one of its connections, and initiates COUNT IKE
//! SAs of it (IKE_SA_INIT + IKE_AUTH carrying the connection's first Child SA, RFC 7296 §1.2)
//! with `hitless_ike::Endpoint` and the production crypto provider, over real UDP sockets on the
//! IKE and NAT-T ports, keeping at most WINDOW handshakes in flight. A handshake counts when its
//! Child SA is installed, i.e. when the IKE_AUTH response was verified. It then prints one line
//! of `key=value` figures for `bench/setup-rate.sh`.
//!
//! Each `initiate` of the connection creates a new IKE SA. INITIAL_CONTACT is turned off (it
//! would make the responder delete the earlier SAs from us, RFC 7296 §2.4), and so are liveness
//! checks. The SA commands the engine emits are dropped: the measurement needs no data plane on
//! the initiator.
//!
//! With `--respond` it is the responder instead, a diagnostic for the benchmark: the engine and
//! its crypto answering with no data plane behind them (SA commands dropped), so that hitlessd's
//! figure can be split into what the engine costs and what installing the SAs costs. It reports
//! once COUNT IKE SAs are set up (timed from the first datagram) and keeps answering until ended.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

mod driver;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use anyhow::Result;
use anyhow::bail;
use clap::Parser;
use hitless_ike::Endpoint;

use crate::driver::Load;
use crate::driver::Sockets;

/// Initiates many IKE SAs with one Child SA each and reports how fast they were set up.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// hitlessd configuration file (only `[ike]` and `[connections]` are used).
    #[arg(long)]
    config: PathBuf,
    /// The connection to initiate; it needs a `local_addrs` address to bind to.
    #[arg(long)]
    connection: String,
    /// IKE SAs to set up.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Handshakes in flight at most.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Be the responder instead: answer, report once COUNT IKE SAs are set up, and go on
    /// answering until ended (a diagnostic: the engine without a data plane).
    #[arg(long)]
    respond: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("setup-rate: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the load; `Ok(false)` when not every IKE SA was set up.
fn run(cli: &Cli) -> Result<bool> {
    if cli.window == 0 || cli.count == 0 {
        bail!("--count and --window must be at least 1");
    }
    let model = hitless_config::load(&cli.config).map_err(|e| anyhow::anyhow!(e.render()))?;
    let mut ike = model
        .to_ike_config(&|_| Vec::new())
        .map_err(|e| anyhow::anyhow!(e.render()))?;
    for connection in &mut ike.connections {
        connection.initial_contact = false;
        connection.dpd_delay = None;
    }
    let connection = ike
        .connections
        .iter()
        .find(|c| c.name == cli.connection)
        .with_context(|| format!("no connection {:?} in the configuration", cli.connection))?;
    let local: IpAddr = *connection.local_addrs.first().with_context(|| {
        format!(
            "connection {:?} needs a local_addrs address to bind to",
            cli.connection
        )
    })?;
    let ports = (connection.local_port, model.ike.nat_t_port);
    let endpoint = Endpoint::new(Arc::new(ike), Arc::new(hitless_crypto_awslc::provider()));
    let load = Load {
        connection: cli.connection.clone(),
        count: cli.count,
        window: cli.window,
        timeout: Duration::from_secs(cli.timeout),
        respond: cli.respond,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mut complete = false;
    runtime.block_on(async {
        let sockets = Sockets::bind(local, ports.0, ports.1).await?;
        driver::run(endpoint, &sockets, &load, |outcome| {
            println!("{}", outcome.summary(&load));
            complete = outcome.established == load.count;
        })
        .await
    })?;
    Ok(complete)
}
