//! hitlessd: the hitless IKEv2/IPsec daemon.
//!
//! `main` parses the command line and the configuration (exit status 2 for an unusable one),
//! installs the log subscriber and runs [`daemon::run`] on a current-thread tokio runtime: one
//! IKE task owns the engine, the data-plane workers are OS threads (ARCHITECTURE.md §2.8).

#![allow(clippy::print_stderr, clippy::print_stdout, missing_docs)]

mod cli;
mod control;
mod control_server;
mod daemon;
mod dataplane;
mod events;
mod ike_task;
mod keylog;
mod logging;
mod metrics;
mod notify;
mod requests;
mod settings;
mod signals;
mod sockets;
mod supervise;
mod views;

use std::process::ExitCode;

use clap::Parser;

/// Exit status for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let loaded = match settings::load(&cli.config) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{}", error.render());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for warning in &loaded.model.warnings {
        eprintln!("warning: {}: {warning}", cli.config.display());
    }
    if cli.check {
        println!("{}: configuration OK", cli.config.display());
        return ExitCode::SUCCESS;
    }
    let filter = cli
        .log_level
        .clone()
        .unwrap_or_else(|| logging::level_name(loaded.model.daemon.log_level).to_owned());
    let (bus, _) = tokio::sync::broadcast::channel(daemon::EVENT_QUEUE);
    let configured = cli
        .log_level
        .is_none()
        .then_some(loaded.model.daemon.log_level);
    let logs = match logging::init(&filter, configured, bus.clone()) {
        Ok(logs) => logs,
        Err(error) => {
            eprintln!("hitlessd: {error:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hitlessd: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(daemon::run(cli.config, loaded, logs, bus)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("hitlessd: {error:#}");
            ExitCode::FAILURE
        }
    }
}
