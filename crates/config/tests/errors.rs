//! Bad configuration input: every error names the file, line, column, key path and what was
//! expected. These tests pin the messages an operator sees.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on failure

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::MemoryFiles;
use common::PSK;
use hitless_config::ConfigError;
use hitless_config::ErrorKind;

const PATH: &str = "/etc/hitless/hitless.toml";

/// A valid base: one PSK connection with one child.
const BASE: &str = r#"
[connections.site-b]
remote_addrs = ["198.51.100.1"]
psk_file = "/etc/hitless/site-b.psk"
remote_id = "gw-b.example.org"

[connections.site-b.children.net]
local_ts = ["10.1.0.0/16"]
remote_ts = ["10.2.0.0/16"]
"#;

fn files() -> MemoryFiles {
    MemoryFiles::new().private("/etc/hitless/site-b.psk", PSK)
}

fn parse(source: &str) -> Result<hitless_config::Config, ConfigError> {
    hitless_config::parse(source, Path::new(PATH), &files())
}

fn fail(source: &str) -> ConfigError {
    match parse(source) {
        Ok(_) => panic!("expected an error for:\n{source}"),
        Err(error) => error,
    }
}

/// `file:line:column`, key path and message of an error, for compact assertions.
fn summary(error: &ConfigError) -> (usize, usize, String, String) {
    let Some(location) = error.location() else {
        panic!("no location in {error}");
    };
    (
        location.line,
        location.column,
        error.key_path().to_string(),
        error.message().to_owned(),
    )
}

#[test]
fn base_is_valid() {
    let config = parse(BASE).unwrap();
    assert_eq!(config.connections.len(), 1);
}

#[test]
fn unknown_top_level_section_is_named() {
    let error = fail(&format!("[deamon]\nlog_level = \"info\"\n{BASE}"));
    assert_eq!(error.kind(), ErrorKind::UnknownKey);
    assert_eq!(
        summary(&error),
        (1, 2, "deamon".into(), "unknown key `deamon`".into())
    );
    assert!(error.expected().unwrap().contains("`daemon`"), "{error}");
}

#[test]
fn unknown_nested_key_is_named_with_its_path() {
    let error = fail(&format!("{BASE}rekey_tme = \"1h\"\n"));
    assert_eq!(error.kind(), ErrorKind::UnknownKey);
    assert_eq!(
        summary(&error),
        (
            10,
            1,
            "connections.site-b.children.net.rekey_tme".into(),
            "unknown key `rekey_tme`".into()
        )
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{PATH}:10:1: connections.site-b.children.net.rekey_tme: unknown key `rekey_tme` \
             (expected {})",
            error.expected().unwrap()
        )
    );
    assert!(error.expected().unwrap().contains("`rekey_time`"));
}

#[test]
fn wrong_type_names_key_and_expectation() {
    let error = fail(&format!("[daemon]\nlog_level = 3\n{BASE}"));
    assert_eq!(error.kind(), ErrorKind::InvalidValue);
    assert_eq!(
        summary(&error),
        (
            2,
            13,
            "daemon.log_level".into(),
            "invalid type: integer `3`".into()
        )
    );
    assert_eq!(
        error.expected(),
        Some("one of `error` `warn` `info` `debug` `trace`")
    );
}

#[test]
fn unknown_enum_value() {
    let error = fail(&format!("{BASE}mode = \"tunel\"\n"));
    assert_eq!(
        summary(&error),
        (
            10,
            8,
            "connections.site-b.children.net.mode".into(),
            "unknown value `tunel`".into()
        )
    );
    assert_eq!(error.expected(), Some("one of `tunnel` `transport`"));
}

#[test]
fn bad_esp_proposal_points_at_the_list_element() {
    let error = fail(&format!(
        "{BASE}esp_proposals = [\"aes128gcm16\", \"aes256gcm17\"]\n"
    ));
    assert_eq!(
        summary(&error),
        (
            10,
            33,
            "connections.site-b.children.net.esp_proposals[1]".into(),
            "unknown algorithm `aes256gcm17` in proposal `aes256gcm17` (did you mean \
             `aes256gcm16`?)"
                .into()
        )
    );
    assert!(
        error
            .expected()
            .unwrap()
            .starts_with("encryption (aes128gcm16")
    );
    let rendered = error.render();
    let expected_start = "error: connections.site-b.children.net.esp_proposals[1]: unknown \
                          algorithm `aes256gcm17`";
    assert!(rendered.starts_with(expected_start), "{rendered}");
    assert!(
        rendered.contains(&format!(
            " --> {PATH}:10:33\n   |\n10 | esp_proposals = [\"aes128gcm16\", \"aes256gcm17\"]\n   \
             |                                 ^^^^^^^^^^^^^\n   = expected encryption"
        )),
        "{rendered}"
    );
}

#[test]
fn deprecated_ike_algorithm_says_why() {
    let source = BASE.replace(
        "psk_file",
        "proposals = [\"aes256-sha1-modp2048\"]\npsk_file",
    );
    let error = fail(&source);
    let (line, _, key, message) = summary(&error);
    assert_eq!((line, key.as_str()), (4, "connections.site-b.proposals[0]"));
    assert!(
        message.contains("`sha1`") && message.contains("RFC 8247"),
        "{message}"
    );
}

#[test]
fn life_time_must_exceed_rekey_time() {
    let error = fail(&format!("{BASE}rekey_time = \"1h\"\nlife_time = \"1h\"\n"));
    assert_eq!(error.kind(), ErrorKind::Inconsistent);
    assert_eq!(
        summary(&error),
        (
            11,
            13,
            "connections.site-b.children.net.life_time".into(),
            "life_time (1h) must be greater than rekey_time (1h): the Child SA would expire \
             before it is rekeyed"
                .into()
        )
    );
    assert_eq!(error.expected(), Some("e.g. life_time = 1h6m"));
}

#[test]
fn half_open_limits_are_checked() {
    let error = fail(&format!("[ike]\nblock_threshold = 0\n{BASE}"));
    let (line, _, key, message) = summary(&error);
    assert_eq!((line, key.as_str()), (2, "ike.block_threshold"));
    assert_eq!(message, "0 half-open IKE SAs per address");
    assert_eq!(error.expected(), Some("at least 1"));
    let source = format!("[ike]\ncookie_threshold = 500\ninit_limit_half_open = 400\n{BASE}");
    let (line, _, key, message) = summary(&fail(&source));
    assert_eq!((line, key.as_str()), (3, "ike.init_limit_half_open"));
    assert!(
        message.starts_with("400 is below cookie_threshold (500)"),
        "{message}"
    );
}

#[test]
fn ike_life_time_and_rand_time_are_checked() {
    let source = BASE.replace(
        "psk_file",
        "rekey_time = \"4h\"\nlife_time = \"2h\"\npsk_file",
    );
    let (_, _, key, message) = summary(&fail(&source));
    assert_eq!(key, "connections.site-b.life_time");
    assert!(message.starts_with("life_time (2h) must be greater than rekey_time (4h)"));
    let source = BASE.replace(
        "psk_file",
        "rekey_time = \"1h\"\nrand_time = \"2h\"\npsk_file",
    );
    let (_, _, key, message) = summary(&fail(&source));
    assert_eq!(key, "connections.site-b.rand_time");
    assert!(
        message.starts_with("rand_time (2h) must be less than"),
        "{message}"
    );
    let (_, _, key, _) = summary(&fail(&format!(
        "{BASE}rekey_bytes = \"1G\"\nlife_bytes = \"1M\"\n"
    )));
    assert_eq!(key, "connections.site-b.children.net.life_bytes");
}

#[test]
fn missing_required_key() {
    let error = fail("[connections.a]\npsk_file = \"/etc/hitless/site-b.psk\"\n");
    assert_eq!(error.kind(), ErrorKind::MissingKey);
    assert_eq!(
        summary(&error),
        (
            1,
            1,
            "connections.a.remote_addrs".into(),
            "missing key".into()
        )
    );
}

#[test]
fn no_authentication() {
    let error = fail("[connections.a]\nremote_addrs = \"192.0.2.1\"\n");
    assert_eq!(error.kind(), ErrorKind::MissingKey);
    let (line, _, key, message) = summary(&error);
    assert_eq!((line, key.as_str()), (1, "connections.a.psk_file"));
    assert_eq!(message, "no authentication configured");
    assert_eq!(
        error.expected(),
        Some("psk_file (pre-shared key) or cert + private_key + cacerts (certificates)")
    );
}

#[test]
fn two_authentication_methods() {
    let source = BASE.replace("psk_file", "cert = \"/etc/hitless/a.pem\"\npsk_file");
    let error = fail(&source);
    assert_eq!(error.kind(), ErrorKind::Inconsistent);
    let (line, _, key, _) = summary(&error);
    assert_eq!((line, key.as_str()), (4, "connections.site-b.cert"));
}

#[test]
fn psk_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("site-b.psk");
    std::fs::write(&psk, PSK).unwrap();
    std::fs::set_permissions(&psk, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.path().join("hitless.toml");
    std::fs::write(
        &config,
        BASE.replace("/etc/hitless/site-b.psk", "site-b.psk"),
    )
    .unwrap();
    let error = hitless_config::load(&config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ReferencedFile);
    assert_eq!(error.key_path().to_string(), "connections.site-b.psk_file");
    assert_eq!(error.line(), Some(4));
    assert_eq!(
        error.message(),
        format!(
            "PSK file {} holds a secret but is accessible by group or others (mode 0644); it \
             must be readable by its owner only: chmod 600 {}",
            psk.display(),
            psk.display()
        )
    );
    std::fs::set_permissions(&psk, std::fs::Permissions::from_mode(0o600)).unwrap();
    let loaded = hitless_config::load(&config).unwrap();
    assert_eq!(loaded.connections[0].name, "site-b");
}

#[test]
fn missing_psk_file() {
    let source = BASE.replace("site-b.psk", "nope.psk");
    let error = fail(&source);
    assert_eq!(error.kind(), ErrorKind::ReferencedFile);
    assert_eq!(
        error.message(),
        "PSK file /etc/hitless/nope.psk does not exist"
    );
}

#[test]
fn inline_psk_warns_and_needs_a_private_config_file() {
    let source = BASE.replace(
        "psk_file = \"/etc/hitless/site-b.psk\"",
        "psk = \"0x00112233445566778899aabbccddeeff\"",
    );
    let config = parse(&source).unwrap();
    assert_eq!(config.warnings.len(), 1);
    assert_eq!(config.warnings[0].key.to_string(), "connections.site-b.psk");
    assert!(config.warnings[0].message.contains("prefer psk_file"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hitless.toml");
    std::fs::write(&path, &source).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = hitless_config::load(&path).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ReferencedFile);
    assert!(
        error
            .message()
            .contains("inline PSK but is accessible by group or others (mode 0644)")
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(hitless_config::load(&path).is_ok());
}

#[test]
fn weak_psk_is_refused() {
    let source = BASE.replace("psk_file = \"/etc/hitless/site-b.psk\"", "psk = \"secret\"");
    let error = fail(&source);
    assert_eq!(error.key_path().to_string(), "connections.site-b.psk");
    assert!(error.message().contains("6 bytes long"), "{error}");
}

#[test]
fn initiating_needs_an_address() {
    let source = format!(
        "{}start_action = \"start\"\n",
        BASE.replace("198.51.100.1", "%any")
    );
    let error = fail(&source);
    assert_eq!(error.kind(), ErrorKind::Inconsistent);
    let (_, _, key, message) = summary(&error);
    assert_eq!(key, "connections.site-b.children.net.start_action");
    assert!(
        message.contains("needs an address to initiate to"),
        "{message}"
    );
}

#[test]
fn undefined_pool() {
    let source = BASE.replace("psk_file", "pools = [\"v4\"]\npsk_file");
    let error = fail(&source);
    assert_eq!(summary(&error).2, "connections.site-b.pools[0]");
    assert_eq!(error.message(), "pool `v4` is not defined");
    assert_eq!(error.expected(), Some("a [pools.v4] section"));
}

#[test]
fn traffic_selector_with_host_bits() {
    let error = fail(&BASE.replace("10.2.0.0/16", "10.2.0.1/16"));
    let (line, column, key, message) = summary(&error);
    assert_eq!((line, column), (9, 14));
    assert_eq!(key, "connections.site-b.children.net.remote_ts[0]");
    assert_eq!(
        message,
        "`10.2.0.1/16` has host bits set (did you mean `10.2.0.0/16`?)"
    );
}

#[test]
fn ikev1_is_refused() {
    let error = fail(&BASE.replace("psk_file", "version = 1\npsk_file"));
    assert_eq!(error.key_path().to_string(), "connections.site-b.version");
    assert_eq!(error.message(), "IKEv1 is not supported");
}

#[test]
fn syntax_error() {
    let error = fail("[connections.a\nremote_addrs = 1\n");
    assert_eq!(error.kind(), ErrorKind::Syntax);
    assert_eq!(error.line(), Some(1));
    assert!(error.key_path().is_empty());
    assert!(
        error.message().starts_with("invalid TOML"),
        "{}",
        error.message()
    );
}

#[test]
fn unreadable_config_file() {
    let error = hitless_config::load(Path::new("/nonexistent/hitless.toml")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Read);
    assert_eq!(
        error.to_string(),
        "/nonexistent/hitless.toml: cannot read the configuration file: No such file or \
         directory (os error 2)"
    );
}

#[test]
fn durations_and_sizes_explain_their_syntax() {
    let error = fail(&format!("{BASE}rekey_time = \"1 fortnight\"\n"));
    assert_eq!(
        error.message(),
        "unknown unit `fortnight` in duration `1 fortnight`"
    );
    assert!(error.expected().unwrap().contains("\"1h30m\""));
    let error = fail(&format!("{BASE}rekey_bytes = \"1X\"\n"));
    assert_eq!(error.message(), "unknown unit `X` in byte count `1X`");
    let error = fail(&format!("{BASE}rekey_time = -5\n"));
    assert_eq!(error.message(), "negative value -5");
}

#[test]
fn keylog_warns_loudly() {
    let config = parse(&format!(
        "[debug]\nwireshark_keylog = \"/tmp/keys\"\n{BASE}"
    ))
    .unwrap();
    assert_eq!(
        config.debug.wireshark_keylog.as_deref(),
        Some(Path::new("/tmp/keys"))
    );
    assert_eq!(config.warnings.len(), 1);
    assert_eq!(config.warnings[0].location.map(|l| l.line), Some(2));
    assert!(config.warnings[0].message.contains("key log is ON"));
}

#[test]
fn connection_order_is_file_order() {
    let source = format!(
        "{BASE}{}",
        BASE.replace("connections.site-b", "connections.alpha")
    );
    let config = parse(&source).unwrap();
    let names: Vec<_> = config.connections.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["site-b", "alpha"]);
}
