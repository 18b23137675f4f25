//! A configuration file: TOML, schema, validation, error location and rendering.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hitless_config::fuzzing::config_toml(data));
