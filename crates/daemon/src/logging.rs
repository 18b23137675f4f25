//! Structured logs on standard error (tracing-subscriber), with a level that the control socket
//! can change at run time (`hitlessctl log-level`).

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use anyhow::Context;
use anyhow::Result;
use tracing::Subscriber;
use tracing::field::Field;
use tracing::field::Visit;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

use crate::ike_task::EventBus;

/// Changes the log filter of the running daemon.
pub(crate) struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
    current: Mutex<String>,
    /// The level of the configuration file, or `None` when `--log-level` overrides it.
    configured: Mutex<Option<hitless_config::model::LogLevel>>,
}

/// The control protocol's name of a filter: its level when it is a plain level, else the most
/// verbose level it names (a filter such as `info,hitless_ike=debug` shows as `debug`).
pub(crate) fn control_level(filter: &str) -> hitless_control::LogLevel {
    use hitless_control::LogLevel;
    let mut loudest = None;
    for directive in filter.split(',') {
        let level = directive.rsplit('=').next().unwrap_or(directive).trim();
        let parsed = LogLevel::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(level));
        loudest = loudest.max(parsed);
    }
    loudest.unwrap_or(LogLevel::Info)
}

impl LogControl {
    /// Replaces the filter (`debug`, `info,hitless_ike=trace`, …).
    ///
    /// # Errors
    ///
    /// When the filter does not parse; the old one stays.
    pub(crate) fn set(&self, filter: &str) -> Result<()> {
        let parsed = parse_filter(filter)?;
        self.handle
            .reload(parsed)
            .context("the log subscriber is gone")?;
        if let Ok(mut current) = self.current.lock() {
            filter.clone_into(&mut current);
        }
        Ok(())
    }

    /// A reloaded configuration says `level`: applied when it changed and `--log-level` did
    /// not override the file.
    pub(crate) fn reconfigure(&self, level: hitless_config::model::LogLevel) {
        let Ok(mut configured) = self.configured.lock() else {
            return;
        };
        match *configured {
            Some(old) if old != level => {
                *configured = Some(level);
                drop(configured);
                if self.set(level_name(level)).is_ok() {
                    tracing::info!(level = level_name(level), "log level changed by the reload");
                }
            }
            _ => {}
        }
    }

    /// The filter in effect.
    pub(crate) fn current(&self) -> String {
        self.current
            .lock()
            .map(|current| current.clone())
            .unwrap_or_default()
    }
}

/// Installs the global subscriber with `filter`.
///
/// # Errors
///
/// When the filter does not parse or a subscriber is already installed.
/// `configured` is the configuration file's level, `None` when the command line overrides it.
pub(crate) fn init(
    filter: &str,
    configured: Option<hitless_config::model::LogLevel>,
    bus: EventBus,
) -> Result<LogControl> {
    let parsed = parse_filter(filter)?;
    let (layer, handle) = reload::Layer::new(parsed);
    tracing_subscriber::registry()
        .with(layer)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false),
        )
        .with(ControlLogLayer { bus })
        .try_init()
        .context("installing the log subscriber")?;
    Ok(LogControl {
        handle,
        current: Mutex::new(filter.to_owned()),
        configured: Mutex::new(configured),
    })
}

/// Streams log lines to control clients subscribed with `logs` (`hitlessctl events --logs`).
struct ControlLogLayer {
    bus: EventBus,
}

impl<S: Subscriber> Layer<S> for ControlLogLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        if self.bus.receiver_count() == 0 {
            return;
        }
        let metadata = event.metadata();
        let level = match *metadata.level() {
            tracing::Level::ERROR => hitless_control::LogLevel::Error,
            tracing::Level::WARN => hitless_control::LogLevel::Warn,
            tracing::Level::INFO => hitless_control::LogLevel::Info,
            tracing::Level::DEBUG => hitless_control::LogLevel::Debug,
            tracing::Level::TRACE => hitless_control::LogLevel::Trace,
        };
        let mut line = Line::default();
        event.record(&mut line);
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let _ = self.bus.send((
            time_ms,
            hitless_control::Event::Log {
                level,
                target: metadata.target().to_owned(),
                message: line.text(),
            },
        ));
    }
}

/// A log line: the message, then `key=value` for each field.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Line {
    fn text(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else {
            format!("{}{}", self.message, self.fields)
        }
    }
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// Parses a level or an `EnvFilter` directive list.
///
/// # Errors
///
/// With a message naming the accepted forms.
pub(crate) fn parse_filter(filter: &str) -> Result<EnvFilter> {
    let filter = filter.trim();
    if filter.is_empty() {
        anyhow::bail!("empty log level, expected error, warn, info, debug or trace");
    }
    EnvFilter::builder().parse(filter).with_context(|| {
        format!(
            "invalid log level `{filter}`, expected error, warn, info, debug or trace, or a \
             filter such as `info,hitless_ike=debug`"
        )
    })
}

/// The filter text for a configured level.
pub(crate) fn level_name(level: hitless_config::model::LogLevel) -> &'static str {
    use hitless_config::model::LogLevel;
    match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_explain() {
        assert!(parse_filter("debug").is_ok());
        assert!(parse_filter("info,hitless_ike=trace").is_ok());
        let error = parse_filter("").unwrap_err().to_string();
        assert!(error.contains("expected error, warn"), "{error}");
        let error = format!("{:#}", parse_filter("info,=[").unwrap_err());
        assert!(error.contains("invalid log level"), "{error}");
    }

    #[test]
    fn control_levels() {
        use hitless_control::LogLevel;
        assert_eq!(control_level("warn"), LogLevel::Warn);
        assert_eq!(control_level("info,hitless_ike=debug"), LogLevel::Debug);
        assert_eq!(control_level("hitless_ike"), LogLevel::Info);
    }
}
