//! hitlessctl: control CLI for hitlessd. See `hitlessctl --help` and docs/cli.md.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

mod check;
mod cli;
mod format;
mod initiate;
mod render;
mod table;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use hitless_control::Client;
use hitless_control::ClientError;
use hitless_control::ErrorKind;
use hitless_control::Request;
use hitless_control::Response;

use crate::cli::Cli;
use crate::cli::Command;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("error: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

/// A failed command: what to print and the exit status.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) code: u8,
}

/// Exit status for a refused or failed request.
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit status for an invalid configuration.
pub(crate) const EXIT_CONFIG: u8 = 2;
/// Exit status when hitlessd is not running.
pub(crate) const EXIT_NOT_RUNNING: u8 = 3;

/// The name and version sent in the handshake.
pub(crate) const SOFTWARE: &str = concat!("hitlessctl ", env!("CARGO_PKG_VERSION"));

fn run(cli: &Cli) -> Result<(), Failure> {
    let request = match &cli.command {
        Command::CheckConfig { file } => return check::check_config(file, cli.json),
        Command::Initiate {
            connection,
            child,
            no_wait,
            timeout,
        } => {
            return initiate::initiate(
                &cli.socket,
                connection,
                child.as_deref(),
                !no_wait,
                *timeout,
                cli.json,
            );
        }
        Command::Events { logs } => return events(&cli.socket, logs.map(Into::into), cli.json),
        Command::LogLevel { level: None } => return show_log_level(&cli.socket, cli.json),
        Command::Status => Request::Status,
        Command::ListSas { connection } => Request::ListSas {
            connection: connection.clone(),
        },
        Command::Terminate(target) => Request::Terminate {
            target: target.to_sa_target(),
        },
        Command::Rekey(target) => Request::Rekey {
            target: target.to_sa_target(),
        },
        Command::Reload => Request::Reload,
        Command::Stats => Request::Stats,
        Command::LogLevel { level: Some(level) } => Request::LogLevel {
            level: (*level).into(),
        },
        Command::Ha { action } => Request::Ha {
            action: (*action).into(),
        },
    };
    let mut client = connect(&cli.socket)?;
    let response = client.call(request).map_err(Failure::from)?;
    if cli.json {
        print_json(&response);
        return Ok(());
    }
    let text = match &response {
        Response::Status(status) => render::status(status),
        Response::Sas(list) => render::sa_list(list),
        Response::Terminated(affected) => render::affected("deleting", affected),
        Response::Rekeying(affected) => render::affected("rekeying", affected),
        Response::Reloaded(summary) => render::reload(summary),
        Response::Stats(stats) => render::stats(stats),
        Response::LogLevel { previous, current } => {
            format!("log level {current} (was {previous})\n")
        }
        Response::Ha(status) => render::ha(status),
        Response::Initiated { ike_sa, .. } => format!("initiating IKE SA {ike_sa}\n"),
        Response::Subscribed => String::new(),
    };
    print(&text);
    Ok(())
}

/// Connects, turning "not running" into exit status 3.
pub(crate) fn connect(socket: &Path) -> Result<Client, Failure> {
    Client::connect(socket, SOFTWARE).map_err(Failure::from)
}

fn show_log_level(socket: &Path, json: bool) -> Result<(), Failure> {
    let mut client = connect(socket)?;
    let Response::Status(status) = client.call(Request::Status).map_err(Failure::from)? else {
        return Err(Failure::failed(
            "hitlessd answered status with something else",
        ));
    };
    if json {
        print_json(&serde_json::json!({ "log_level": status.log_level }));
    } else {
        print(&format!("log level {}\n", status.log_level));
    }
    Ok(())
}

fn events(
    socket: &Path,
    logs: Option<hitless_control::LogLevel>,
    json: bool,
) -> Result<(), Failure> {
    let mut client = connect(socket)?;
    client
        .call(Request::Subscribe { logs })
        .map_err(Failure::from)?;
    client.set_timeout(None).map_err(Failure::from)?;
    while let Some(frame) = client.next_event().map_err(Failure::from)? {
        let line = if json {
            format!("{}\n", serde_json::to_string(&frame).unwrap_or_default())
        } else {
            render::event(&frame)
        };
        if !print(&line) {
            return Ok(());
        }
    }
    eprintln!("hitlessd closed the event stream (it is stopping)");
    Ok(())
}

/// Writes to stdout; `false` when stdout is gone (`| head`), which is not an error.
pub(crate) fn print(text: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_ok()
}

pub(crate) fn print_json<T: serde::Serialize>(value: &T) {
    // Serializing plain data structures cannot fail.
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    print(&format!("{text}\n"));
}

impl Failure {
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_FAILED,
        }
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        let code = match &error {
            ClientError::NotRunning { .. } | ClientError::Stale { .. } => EXIT_NOT_RUNNING,
            ClientError::Daemon(daemon) if daemon.kind == ErrorKind::ConfigInvalid => EXIT_CONFIG,
            _ => EXIT_FAILED,
        };
        let message = match &error {
            ClientError::Daemon(daemon) => format!("{}: {}", daemon.kind, daemon.message),
            other => other.to_string(),
        };
        Self { message, code }
    }
}
