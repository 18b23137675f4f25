//! hitless's configuration file: schema, loading, validation and precise errors.
//!
//! The file is TOML (see `docs/config.md` for every key). Loading happens in two steps, "parse,
//! don't validate":
//!
//! 1. the text becomes raw serde structs (`deny_unknown_fields` everywhere, so a typo is an
//!    error that names the key); leaf values such as durations, proposals, identities and
//!    traffic selectors are parsed right there, so their errors point at the value;
//! 2. the raw structs become the validated [`Config`]: defaults applied, rules across keys
//!    checked (life time above rekey time, one complete authentication method, pools that
//!    exist), and referenced files read, with secrets refused when others may read them.
//!
//! Every error is a [`ConfigError`] with the file, line, column, key path and what was
//! expected:
//!
//! ```text
//! /etc/hitless/hitless.toml:14:34: connections.site-b.children.net.esp_proposals[1]: unknown
//! algorithm `aes256gcm17` in proposal `aes256gcm17` (did you mean `aes256gcm16`?) (expected …)
//! ```
//!
//! ```no_run
//! let config = hitless_config::load(std::path::Path::new("/etc/hitless/hitless.toml"))
//!     .map_err(|e| e.render())?;
//! for warning in &config.warnings {
//!     eprintln!("warning: {warning}");
//! }
//! # Ok::<(), String>(())
//! ```

pub mod error;
pub mod files;
pub mod identity;
pub mod model;
pub mod proposal;
pub mod reload;
pub mod ts;
pub mod units;

mod convert;
mod engine;
mod locate;
mod raw;
mod text;

#[cfg(any(fuzzing, test))]
pub mod fuzzing;

use std::path::Path;

pub use convert::DEFAULT_CONTROL_SOCKET;
pub use convert::MAX_REPLAY_WINDOW;
pub use error::ConfigError;
pub use error::ErrorKind;
pub use error::KeyPath;
pub use error::Location;
pub use files::FileError;
pub use files::Files;
pub use files::Filesystem;
pub use identity::Identity;
pub use model::Config;
pub use model::Warning;
pub use proposal::EspProposal;
pub use proposal::IkeProposal;
pub use reload::ReloadPlan;

/// Where hitlessd and `hitlessctl check-config` look for the configuration by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/hitless/hitless.toml";

/// Loads and validates the configuration file at `path`, reading the files it refers to from
/// the file system.
///
/// # Errors
///
/// The first problem found, located in the file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, &Filesystem)
}

/// Like [`load`], with referenced files read through `files`.
///
/// # Errors
///
/// The first problem found, located in the file.
pub fn load_with(path: &Path, files: &dyn Files) -> Result<Config, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|e| ConfigError::read(path, e))?;
    parse(&source, path, files)
}

/// Parses and validates configuration text; `path` names it in errors, and relative paths in
/// it are resolved against `path`'s directory.
///
/// # Errors
///
/// The first problem found, located in the text.
pub fn parse(source: &str, path: &Path, files: &dyn Files) -> Result<Config, ConfigError> {
    let map = locate::SourceMap::new(path, source)?;
    let raw: raw::RawConfig = toml::from_str(source).map_err(|e| map.toml_error(&e, false))?;
    let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
    let context = convert::Context {
        config_file: path,
        base_dir,
        files,
    };
    let converted = convert::convert(raw, &context).map_err(|issue| map.locate(issue))?;
    let warnings = converted
        .warnings
        .into_iter()
        .map(|(key, message)| Warning {
            location: map.location_of(&key),
            key,
            message,
        })
        .collect();
    Ok(Config {
        source: path.to_path_buf(),
        daemon: converted.daemon,
        data_plane: converted.data_plane,
        ike: converted.ike,
        debug: converted.debug,
        ha: converted.ha,
        pools: converted.pools,
        connections: converted.connections,
        warnings,
        positions: map.positions(),
    })
}
