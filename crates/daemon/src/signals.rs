//! The signals hitlessd acts on: SIGHUP reloads, SIGTERM and SIGINT stop.

use anyhow::Context;
use anyhow::Result;
use tokio::signal::unix::Signal;
use tokio::signal::unix::SignalKind;
use tokio::signal::unix::signal;

/// What a signal asks for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Action {
    /// SIGHUP: reload the configuration.
    Reload,
    /// SIGTERM or SIGINT: delete the SAs and exit.
    Stop,
}

/// The signal streams.
pub(crate) struct Signals {
    hangup: Signal,
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    /// Installs the handlers (from now on these signals no longer kill the process).
    ///
    /// # Errors
    ///
    /// When a handler cannot be installed.
    pub(crate) fn install() -> Result<Self> {
        Ok(Self {
            hangup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
            terminate: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    /// The next signal.
    pub(crate) async fn recv(&mut self) -> Action {
        tokio::select! {
            _ = self.hangup.recv() => Action::Reload,
            _ = self.terminate.recv() => Action::Stop,
            _ = self.interrupt.recv() => Action::Stop,
        }
    }
}
