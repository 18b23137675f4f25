//! `hitlessctl check-config`: load a configuration file exactly as hitlessd would, offline.

use std::path::Path;

use hitless_config::ConfigError;
use hitless_config::ErrorKind;
use serde_json::json;

use crate::EXIT_CONFIG;
use crate::Failure;
use crate::print;
use crate::print_json;

pub(crate) fn check_config(file: &Path, json: bool) -> Result<(), Failure> {
    let result = hitless_config::load(file).and_then(|config| {
        config.check_engine_support()?;
        Ok(config)
    });
    let config = match result {
        Ok(config) => config,
        Err(error) => {
            if json {
                print_json(&error_json(&error));
            } else {
                eprintln!("{}", error.render());
            }
            return Err(Failure {
                message: String::new(),
                code: EXIT_CONFIG,
            });
        }
    };
    let names: Vec<&str> = config.connections.iter().map(|c| c.name.as_str()).collect();
    if json {
        print_json(&json!({
            "ok": true,
            "file": file.display().to_string(),
            "connections": names,
            "warnings": config.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    for warning in &config.warnings {
        eprintln!("warning: {}: {warning}", file.display());
    }
    let connections = match names.len() {
        0 => "no connections".to_owned(),
        1 => format!("1 connection ({})", names[0]),
        n => format!("{n} connections ({})", names.join(", ")),
    };
    print(&format!("OK: {}: {connections}\n", file.display()));
    Ok(())
}

fn error_json(error: &ConfigError) -> serde_json::Value {
    json!({
        "ok": false,
        "file": error.file().display().to_string(),
        "line": error.location().map(|l| l.line),
        "column": error.location().map(|l| l.column),
        "key": error.key_path().to_string(),
        "kind": kind_name(error.kind()),
        "message": error.message(),
        "expected": error.expected(),
    })
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Read => "read",
        ErrorKind::Syntax => "syntax",
        ErrorKind::UnknownKey => "unknown-key",
        ErrorKind::MissingKey => "missing-key",
        ErrorKind::InvalidValue => "invalid-value",
        ErrorKind::Inconsistent => "inconsistent",
        ErrorKind::ReferencedFile => "referenced-file",
        ErrorKind::Unsupported => "unsupported",
    }
}
