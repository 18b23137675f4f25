//! Entry points for the `config_toml` fuzz target (and its corpus replay test).

use std::path::Path;

use hitless_crypto::SecretBytes;

use crate::files::FileError;
use crate::files::Files;

/// Parses arbitrary bytes as a configuration file. Referenced files all exist, hold a valid
/// PSK / PEM text, and are private, so the fuzzer reaches the whole conversion. Must never
/// panic; errors must render.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::parse(text, Path::new("/fuzz/hitless.toml"), &FuzzFiles) {
        Ok(config) => {
            let _ = format!("{config:?}");
            for warning in &config.warnings {
                let _ = warning.to_string();
            }
        }
        Err(error) => {
            let _ = error.to_string();
            let _ = error.render();
        }
    }
}

/// Files that always exist: PEM with a certificate and a key for `.pem`/`.key` names, a PSK
/// otherwise; `missing` in the name makes a file absent.
pub(crate) struct FuzzFiles;

const PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
const KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n";
const PSK: &[u8] = b"0123456789abcdef0123456789abcdef\n";

impl Files for FuzzFiles {
    fn read_public(&self, path: &Path) -> Result<Vec<u8>, FileError> {
        if path.to_string_lossy().contains("missing") {
            return Err(FileError::NotFound);
        }
        Ok(PEM.to_vec())
    }

    fn read_secret(&self, path: &Path) -> Result<SecretBytes, FileError> {
        let name = path.to_string_lossy();
        if name.contains("missing") {
            return Err(FileError::NotFound);
        }
        if name.ends_with(".key") {
            return Ok(SecretBytes::from_slice(KEY));
        }
        Ok(SecretBytes::from_slice(PSK))
    }

    fn check_private(&self, _path: &Path) -> Result<(), FileError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Replays the committed corpus (`fuzz/corpus/config_toml/`) on every `cargo test`, and
    //! (ignored by default) writes its seeds:
    //!
    //! ```sh
    //! cargo test -p hitless-config --lib fuzzing::tests::write_seed_corpus -- --ignored
    //! ```

    use std::fs;
    use std::path::PathBuf;

    use super::*;

    fn repository() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn corpus_dir() -> PathBuf {
        repository().join("fuzz/corpus/config_toml")
    }

    #[test]
    fn replay_corpus() {
        let files: Vec<PathBuf> = fs::read_dir(corpus_dir())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert!(!files.is_empty(), "empty corpus");
        for file in files {
            let data = fs::read(&file).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| config_toml(&data)) {
                std::panic::resume_unwind(Box::new(format!("{}: {panic:?}", file.display())));
            }
        }
    }

    #[test]
    fn seeds_reach_the_conversion() {
        // At least one seed must load completely, or the fuzzer would only see parse errors.
        let loaded = SEEDS
            .iter()
            .filter(|seed| crate::parse(seed, Path::new("/fuzz/hitless.toml"), &FuzzFiles).is_ok())
            .count();
        assert!(loaded >= 3, "only {loaded} seeds load");
    }

    #[test]
    #[ignore = "writes fuzz/corpus/config_toml; run by hand when the schema grows"]
    fn write_seed_corpus() {
        let dir = corpus_dir();
        fs::create_dir_all(&dir).unwrap();
        for entry in fs::read_dir(repository().join("examples")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            fs::copy(&path, dir.join(format!("example-{name}"))).unwrap();
        }
        for (i, seed) in SEEDS.iter().enumerate() {
            fs::write(dir.join(format!("seed-{i:02}.toml")), seed).unwrap();
        }
    }

    /// Hand-written seeds covering every section and value syntax.
    const SEEDS: &[&str] = &[
        r#"[connections.a]
remote_addrs = "192.0.2.1"
psk_file = "a.psk"
remote_id = "gw"
[connections.a.children.net]
local_ts = ["10.1.0.0/16[tcp/443]", "dynamic[udp/53]"]
remote_ts = "10.2.0.0/16"
"#,
        r#"[daemon]
control_socket = "/run/x.sock"
log_level = "debug"
metrics_listen = "[::1]:9745"
[data_plane]
backend = "xfrm"
workers = 4
tun_name = "hl0"
mtu = 1380
[ike]
port = 500
nat_t_port = 4500
retransmit_tries = 3
retransmit_timeout = "2s"
retransmit_base = 1.5
retransmit_jitter = 20
retransmit_limit = "1m"
cookie_threshold = 0
[debug]
wireshark_keylog = "/tmp/keys"
[ha]
node = "gw-a"
peer = "10.0.0.2"
local = "10.0.0.1"
sync_port = 4510
secret_file = "ha.key"
checkpoint_packets = 512
checkpoint_interval = "50ms"
"#,
        r#"[pools.v4]
addrs = "10.99.0.10-10.99.0.200"
dns = ["10.0.0.53", "2001:db8::53"]
[connections.rw]
remote_addrs = ["%any"]
local_id = "C=CH, O=Example, CN=vpn"
remote_id = "*@example.org"
cert = "vpn.pem"
private_key = "vpn.key"
cacerts = ["ca.pem", "ca2.pem"]
proposals = ["aes256gcm16-prfsha384-x25519-ke1_mlkem768", "default"]
pools = ["v4"]
rekey_time = "2h"
reauth_time = "1d"
life_time = "1d2h"
rand_time = "10m"
udp_encap = "force"
fragmentation = false
rfc6311 = false
keyingtries = 3
[connections.rw.children.office]
local_ts = "0.0.0.0/0"
esp_proposals = ["aes256-sha256-esn-noesn", "chacha20poly1305-x25519"]
mode = "transport"
start_action = "none"
dpd_action = "trap"
rekey_bytes = "1G"
life_bytes = "2GiB"
rand_bytes = 1000
rekey_packets = 1000000
life_packets = 2000000
rand_packets = 10
replay_window = 0
per_resource_sas = "cpus"
"#,
        "[connections.a]\nremote_addrs = [\"vpn.example.org\"]\npsk = \"0x00112233445566778899aabbccddeeff\"\nlocal_id = \"@#0011\"\nremote_id = \"email:x@y\"\n",
        "[connections.a]\nremote_addrs = \"10.0.0.0/8\"\npsk_file = \"missing.psk\"\n",
        "[connections.a]\nversion = 1\n",
        "[connections.a.children.b]\nlife_time = \"1h\"\nrekey_time = \"2h\"\n",
        "a = [1,\n",
        "[deamon]\n",
        "[connections.\"weird name\"]\nremote_addrs = \"::1\"\npsk = \"short\"\n",
    ];
}
