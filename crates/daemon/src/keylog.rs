//! `[debug] wireshark_keylog`: Wireshark's IKEv2 decryption table (IKE SA keys, RFC 7296 §2.14)
//! and ESP SA table (RFC 7296 §2.17) for this daemon's SAs, in a directory that Wireshark and
//! tshark use as `WIRESHARK_CONFIG_DIR`. Off unless configured; every session key is on disk
//! while it is on, so it says so loudly in the log.
//!
//! The IKE task feeds it the SA commands the backend accepted (ESP keys come from `AddSa`'s
//! `SaSpec`) and, after every drain, the engine's IKE SAs (keys from `Endpoint::export` once an
//! IKE SA is established). The tables are rewritten whenever an SA comes or goes: each file is
//! written to a new 0600 file and renamed over the old one, so a reader never sees half a table
//! and the file is 0600 whatever was there before. An IKE SA keeps its line until the engine
//! forgets it (a rekeyed or deleting SA still exchanges messages); at shutdown the tables are
//! left as they were when the stop began, so a capture can still be decrypted afterwards.
//! Formatting is `hitless_sadb::keylog`'s, shared with the simulator.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs;
use std::fs::DirBuilder;
use std::fs::OpenOptions;
use std::io;
use std::io::Write as _;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use hitless_ike::Endpoint;
use hitless_ike::IkeSaState;
use hitless_sadb::Direction;
use hitless_sadb::IkeSpi;
use hitless_sadb::SaCommand;
use hitless_sadb::Spi;
use hitless_sadb::keylog;
use hitless_sadb::keylog::EspSaKeys;
use hitless_sadb::keylog::IkeSaKeys;
use tracing::warn;

/// The key tables of the running SAs, and where they are written.
pub(crate) struct KeyLog {
    dir: PathBuf,
    ike: BTreeMap<(IkeSpi, IkeSpi), IkeSaKeys>,
    esp: BTreeMap<(Spi, Direction), EspSaKeys>,
    /// The tables changed since they were last written.
    dirty: bool,
    /// Shutdown began: the files keep the SAs that were up.
    frozen: bool,
    /// When the log last said that the key log is on.
    warned_at: Instant,
    /// The last write failed (reported once until a write succeeds again).
    failing: bool,
}

impl KeyLog {
    /// Creates `dir` (mode 0700) if it is missing, writes empty tables and, unless the directory
    /// has one, a `preferences` file that turns ESP decryption on; warns that the key log is on.
    ///
    /// # Errors
    ///
    /// When the directory or a file cannot be written.
    pub(crate) fn open(dir: PathBuf, now: Instant) -> io::Result<Self> {
        DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        if !dir.join(keylog::PREFERENCES_FILE).exists() {
            write_private(
                &dir,
                keylog::PREFERENCES_FILE,
                keylog::PREFERENCES.as_bytes(),
            )?;
        }
        let mut log = Self {
            dir,
            ike: BTreeMap::new(),
            esp: BTreeMap::new(),
            dirty: true,
            frozen: false,
            warned_at: now,
            failing: false,
        };
        log.write()?;
        log.dirty = false;
        warn!(
            dir = %log.dir.display(),
            "the Wireshark key log is ON ([debug] wireshark_keylog): every IKE and ESP session \
             key is written to this directory; turn it off outside debugging"
        );
        Ok(log)
    }

    /// Follows an SA command the backend accepted: `AddSa` adds the SA's keys, `DeleteSa`
    /// removes them, `UpdateAddresses` moves them.
    pub(crate) fn sa_applied(&mut self, command: &SaCommand) {
        match command {
            SaCommand::AddSa(spec) => {
                self.esp
                    .insert((spec.spi, spec.direction), EspSaKeys::from_spec(spec));
                self.dirty = true;
            }
            SaCommand::DeleteSa { spi, direction } => {
                if self.esp.remove(&(*spi, *direction)).is_some() {
                    self.dirty = true;
                }
            }
            SaCommand::UpdateAddresses {
                spi,
                direction,
                local,
                remote,
                ..
            } => {
                if let Some(keys) = self.esp.get_mut(&(*spi, *direction)) {
                    keys.update_addresses(*direction, local.ip(), remote.ip());
                    self.dirty = true;
                }
            }
            SaCommand::AddPolicy(_)
            | SaCommand::DeletePolicy { .. }
            | SaCommand::RouteOutbound { .. }
            | SaCommand::AdvanceSequence { .. }
            | SaCommand::SkipSequence { .. } => {}
        }
    }

    /// Learns the keys of the engine's newly established IKE SAs and forgets those of IKE SAs
    /// the engine no longer has.
    pub(crate) fn sync_ike(&mut self, now: Instant, endpoint: &Endpoint) {
        let mut live = BTreeSet::new();
        for sa in endpoint.ike_sas() {
            let spis = (sa.spis.initiator, sa.spis.responder);
            live.insert(spis);
            let established = matches!(sa.state, IkeSaState::Established | IkeSaState::Passive);
            if !established || self.ike.contains_key(&spis) {
                continue;
            }
            if let Some(snapshot) = endpoint.export(now, sa.id) {
                let encryption = snapshot.algorithms.encryption;
                self.learn_ike(IkeSaKeys::new(
                    spis.0,
                    spis.1,
                    encryption.id,
                    encryption.key_bits,
                    snapshot.algorithms.integrity,
                    &snapshot.keys,
                ));
            }
        }
        self.retain_ike(&live);
    }

    /// Rewrites the tables if they changed; says at most once a minute that it did.
    pub(crate) fn flush(&mut self, now: Instant) {
        if !self.dirty || self.frozen {
            return;
        }
        if let Err(error) = self.write() {
            if !self.failing {
                warn!(dir = %self.dir.display(), %error, "cannot write the Wireshark key log");
                self.failing = true;
            }
            return;
        }
        self.dirty = false;
        self.failing = false;
        if now.saturating_duration_since(self.warned_at) >= WARN_EVERY {
            self.warned_at = now;
            warn!(
                dir = %self.dir.display(),
                ike_sas = self.ike.len(),
                esp_sas = self.esp.len(),
                "the Wireshark key log is ON: session keys rewritten to this directory"
            );
        }
    }

    /// Stops rewriting the tables (shutdown): they keep the SAs that were up.
    pub(crate) fn freeze(&mut self) {
        self.frozen = true;
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn learn_ike(&mut self, keys: IkeSaKeys) {
        self.ike.insert((keys.spi_i, keys.spi_r), keys);
        self.dirty = true;
    }

    fn retain_ike(&mut self, live: &BTreeSet<(IkeSpi, IkeSpi)>) {
        let before = self.ike.len();
        self.ike.retain(|spis, _| live.contains(spis));
        if self.ike.len() != before {
            self.dirty = true;
        }
    }

    fn write(&self) -> io::Result<()> {
        let ike: Vec<IkeSaKeys> = self.ike.values().cloned().collect();
        let esp: Vec<EspSaKeys> = self.esp.values().cloned().collect();
        write_private(
            &self.dir,
            keylog::IKEV2_TABLE_FILE,
            keylog::ikev2_decryption_table(&ike).expose(),
        )?;
        write_private(
            &self.dir,
            keylog::ESP_TABLE_FILE,
            keylog::esp_sa_table(&esp).expose(),
        )
    }
}

/// Writes `contents` to `dir/name` through a new file of mode 0600 renamed over it: readers
/// see the old or the new table, never a mix, and a link planted in its place is replaced,
/// not followed.
fn write_private(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let temporary = dir.join(format!(".{name}.tmp"));
    match fs::remove_file(&temporary) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut file| file.write_all(contents))
        .and_then(|()| fs::rename(&temporary, dir.join(name)));
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// How often, at most, a rewrite repeats the warning that the key log is on.
const WARN_EVERY: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use hitless_crypto::SecretBytes;
    use hitless_crypto::derive::IkeKeys;
    use hitless_sadb::EspAlgorithms;
    use hitless_sadb::Lifetime;
    use hitless_sadb::Mode;
    use hitless_sadb::ReqId;
    use hitless_sadb::SaSpec;
    use hitless_wire::registry::EncrId;
    use hitless_wire::registry::IntegId;

    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("hitlessd-keylog-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            Self(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn spec(spi: u32, direction: Direction) -> SaSpec {
        SaSpec {
            spi: Spi(spi),
            direction,
            reqid: ReqId(1),
            resource: None,
            local: "192.0.2.1:4500".parse().unwrap(),
            remote: "192.0.2.2:4500".parse().unwrap(),
            udp_encap: false,
            mode: Mode::Tunnel,
            algorithms: EspAlgorithms {
                encr: EncrId::AES_GCM_16,
                encr_key_bits: Some(128),
                integ: IntegId::NONE,
                esn: false,
            },
            encr_key: SecretBytes::from_slice(&[0x42; 20]),
            integ_key: SecretBytes::default(),
            replay_window: 64,
            lifetime: Lifetime::default(),
            initial_sequence: 0,
            report_first_use: false,
            local_ts: Vec::new(),
            remote_ts: Vec::new(),
        }
    }

    fn ike_keys(spi_i: u64, spi_r: u64) -> IkeSaKeys {
        let key = |byte| SecretBytes::from_slice(&[byte; 20]);
        let keys = IkeKeys {
            sk_d: key(1),
            sk_ai: SecretBytes::default(),
            sk_ar: SecretBytes::default(),
            sk_ei: key(0xe1),
            sk_er: key(0xe2),
            sk_pi: key(4),
            sk_pr: key(5),
        };
        IkeSaKeys::new(
            IkeSpi(spi_i),
            IkeSpi(spi_r),
            EncrId::AES_GCM_16,
            Some(128),
            IntegId::NONE,
            &keys,
        )
    }

    fn read(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).unwrap()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn open_writes_empty_private_tables_and_the_preferences() {
        let scratch = Scratch::new("open");
        let dir = scratch.0.join("keys");
        let log = KeyLog::open(dir.clone(), Instant::now()).unwrap();
        assert_eq!(log.dir(), dir);
        assert_eq!(mode(&dir), 0o700);
        for name in [keylog::IKEV2_TABLE_FILE, keylog::ESP_TABLE_FILE] {
            assert_eq!(read(&dir, name), "", "{name}");
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        assert_eq!(read(&dir, keylog::PREFERENCES_FILE), keylog::PREFERENCES);
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "no temporary file is left: {names:?}");
    }

    #[test]
    fn tables_follow_sas_as_they_come_and_go() {
        let scratch = Scratch::new("follow");
        let mut log = KeyLog::open(scratch.0.clone(), Instant::now()).unwrap();
        let now = Instant::now();
        log.sa_applied(&SaCommand::AddSa(Box::new(spec(
            0x1111_1111,
            Direction::Inbound,
        ))));
        log.sa_applied(&SaCommand::AddSa(Box::new(spec(
            0x2222_2222,
            Direction::Outbound,
        ))));
        log.learn_ike(ike_keys(0xaa, 0xbb));
        log.flush(now);
        let esp = read(&scratch.0, keylog::ESP_TABLE_FILE);
        assert_eq!(esp.lines().count(), 2, "{esp}");
        assert!(esp.contains("\"0x11111111\"") && esp.contains("\"0x22222222\""));
        assert!(esp.contains(&format!("\"0x{}\"", "42".repeat(20))), "{esp}");
        let ike = read(&scratch.0, keylog::IKEV2_TABLE_FILE);
        assert!(
            ike.starts_with("00000000000000aa,00000000000000bb,"),
            "{ike}"
        );

        // A rekey: the new IKE SA and Child SA arrive, the old ones go.
        log.sa_applied(&SaCommand::AddSa(Box::new(spec(
            0x3333_3333,
            Direction::Inbound,
        ))));
        log.sa_applied(&SaCommand::DeleteSa {
            spi: Spi(0x1111_1111),
            direction: Direction::Inbound,
        });
        log.learn_ike(ike_keys(0xcc, 0xdd));
        log.retain_ike(&BTreeSet::from([(IkeSpi(0xcc), IkeSpi(0xdd))]));
        log.flush(now);
        let esp = read(&scratch.0, keylog::ESP_TABLE_FILE);
        assert_eq!(esp.lines().count(), 2, "{esp}");
        assert!(!esp.contains("0x11111111") && esp.contains("0x33333333"));
        let ike = read(&scratch.0, keylog::IKEV2_TABLE_FILE);
        assert_eq!(ike.lines().count(), 1, "{ike}");
        assert!(ike.starts_with("00000000000000cc,"), "{ike}");

        // Everything deleted: the tables are empty again.
        for (spi, direction) in [
            (0x2222_2222, Direction::Outbound),
            (0x3333_3333, Direction::Inbound),
        ] {
            log.sa_applied(&SaCommand::DeleteSa {
                spi: Spi(spi),
                direction,
            });
        }
        log.retain_ike(&BTreeSet::new());
        log.flush(now);
        assert_eq!(read(&scratch.0, keylog::ESP_TABLE_FILE), "");
        assert_eq!(read(&scratch.0, keylog::IKEV2_TABLE_FILE), "");
    }

    #[test]
    fn an_address_update_moves_the_sa_to_the_new_family() {
        let scratch = Scratch::new("update");
        let mut log = KeyLog::open(scratch.0.clone(), Instant::now()).unwrap();
        log.sa_applied(&SaCommand::AddSa(Box::new(spec(7, Direction::Inbound))));
        log.sa_applied(&SaCommand::UpdateAddresses {
            spi: Spi(7),
            direction: Direction::Inbound,
            local: "[2001:db8::1]:4500".parse().unwrap(),
            remote: "[2001:db8::2]:4500".parse().unwrap(),
            udp_encap: true,
        });
        log.flush(Instant::now());
        let esp = read(&scratch.0, keylog::ESP_TABLE_FILE);
        assert!(esp.starts_with("\"IPv6\""), "{esp}");
    }

    #[test]
    fn existing_files_are_replaced_with_private_ones_and_preferences_kept() {
        let scratch = Scratch::new("existing");
        fs::create_dir_all(&scratch.0).unwrap();
        let table = scratch.0.join(keylog::ESP_TABLE_FILE);
        fs::write(&table, "stale\n").unwrap();
        fs::set_permissions(&table, fs::Permissions::from_mode(0o644)).unwrap();
        let preferences = scratch.0.join(keylog::PREFERENCES_FILE);
        fs::write(&preferences, "gui.column.format: \"No.\", \"%m\"\n").unwrap();
        let stray = scratch.0.join(format!(".{}.tmp", keylog::ESP_TABLE_FILE));
        fs::write(&stray, "left by a crash").unwrap();
        let _log = KeyLog::open(scratch.0.clone(), Instant::now()).unwrap();
        assert_eq!(read(&scratch.0, keylog::ESP_TABLE_FILE), "");
        assert_eq!(mode(&table), 0o600);
        assert!(read(&scratch.0, keylog::PREFERENCES_FILE).starts_with("gui.column"));
        assert!(!stray.exists());
    }

    #[test]
    fn a_planted_link_is_replaced_not_followed() {
        let scratch = Scratch::new("link");
        fs::create_dir_all(&scratch.0).unwrap();
        let victim = scratch.0.join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, scratch.0.join(keylog::ESP_TABLE_FILE)).unwrap();
        std::os::unix::fs::symlink(
            &victim,
            scratch.0.join(format!(".{}.tmp", keylog::IKEV2_TABLE_FILE)),
        )
        .unwrap();
        let _log = KeyLog::open(scratch.0.clone(), Instant::now()).unwrap();
        assert_eq!(read(&scratch.0, "victim"), "precious");
        let table = scratch.0.join(keylog::ESP_TABLE_FILE);
        assert!(!fs::symlink_metadata(&table).unwrap().is_symlink());
    }

    #[test]
    fn a_failed_write_is_retried_and_a_frozen_log_is_left_alone() {
        let scratch = Scratch::new("retry");
        let mut log = KeyLog::open(scratch.0.clone(), Instant::now()).unwrap();
        fs::remove_dir_all(&scratch.0).unwrap();
        log.sa_applied(&SaCommand::AddSa(Box::new(spec(9, Direction::Outbound))));
        log.flush(Instant::now());
        assert!(log.failing && log.dirty);
        fs::create_dir_all(&scratch.0).unwrap();
        log.flush(Instant::now());
        assert!(!log.failing && !log.dirty);
        assert_eq!(read(&scratch.0, keylog::ESP_TABLE_FILE).lines().count(), 1);

        log.freeze();
        log.sa_applied(&SaCommand::DeleteSa {
            spi: Spi(9),
            direction: Direction::Outbound,
        });
        log.flush(Instant::now());
        assert_eq!(read(&scratch.0, keylog::ESP_TABLE_FILE).lines().count(), 1);
    }
}
