//! Wireshark decryption tables: `ikev2_decryption_table` (IKE SA keys, [RFC 7296 §2.14]) and
//! `esp_sa` (ESP SA keys, [RFC 7296 §2.17]), in the UAT file formats of Wireshark 4.0. Written
//! into a directory that Wireshark or tshark use as their personal configuration directory:
//!
//! ```text
//! WIRESHARK_CONFIG_DIR=/var/tmp/hitless-keys tshark -r capture.pcap -V
//! ```
//!
//! Key export exists for tests and explicit debugging only (STYLE.md §3.9): hitlessd writes
//! these tables only with `[debug] wireshark_keylog`, and the simulator for its captures. This
//! module only formats; the callers own the files. Algorithms Wireshark 4.0 cannot decrypt
//! (ChaCha20-Poly1305, for instance) are written as comment lines so that the table still
//! loads.
//!
//! [RFC 7296 §2.14]: https://www.rfc-editor.org/rfc/rfc7296#section-2.14
//! [RFC 7296 §2.17]: https://www.rfc-editor.org/rfc/rfc7296#section-2.17

use std::fmt::Write as _;
use std::net::IpAddr;

use hitless_crypto::SecretBytes;
use hitless_crypto::derive::IkeKeys;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IntegId;

use crate::Direction;
use crate::EspAlgorithms;
use crate::IkeSpi;
use crate::SaSpec;
use crate::Spi;

/// The file name of the IKEv2 decryption table in a Wireshark configuration directory.
pub const IKEV2_TABLE_FILE: &str = "ikev2_decryption_table";
/// The file name of the ESP SA table.
pub const ESP_TABLE_FILE: &str = "esp_sa";
/// The file name of Wireshark's preferences.
pub const PREFERENCES_FILE: &str = "preferences";
/// Preferences that turn on ESP decryption and ICV checks with the `esp_sa` table (they are off
/// by default in Wireshark).
pub const PREFERENCES: &str =
    "esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n";

/// The keys of one IKE SA, as Wireshark needs them. `Debug` shows no key.
#[derive(Clone, Debug)]
pub struct IkeSaKeys {
    /// The initiator's SPI.
    pub spi_i: IkeSpi,
    /// The responder's SPI.
    pub spi_r: IkeSpi,
    /// The encryption algorithm.
    pub encr: EncrId,
    /// Its key length in bits (AES), if it has one.
    pub encr_key_bits: Option<u16>,
    /// SK_ei, with the AEAD salt appended for AEADs.
    pub sk_ei: SecretBytes,
    /// SK_er, with the AEAD salt appended for AEADs.
    pub sk_er: SecretBytes,
    /// The integrity algorithm ([`IntegId::NONE`] with an AEAD).
    pub integ: IntegId,
    /// SK_ai (empty with an AEAD).
    pub sk_ai: SecretBytes,
    /// SK_ar (empty with an AEAD).
    pub sk_ar: SecretBytes,
}

/// The keys of one ESP SA, as Wireshark needs them. `Debug` shows no key.
#[derive(Clone, Debug)]
pub struct EspSaKeys {
    /// The outer source address of its packets.
    pub src: IpAddr,
    /// The outer destination address of its packets.
    pub dst: IpAddr,
    /// Its SPI.
    pub spi: Spi,
    /// Its algorithms.
    pub algorithms: EspAlgorithms,
    /// The encryption key, with the AEAD salt appended.
    pub encr_key: SecretBytes,
    /// The integrity key (empty with an AEAD).
    pub integ_key: SecretBytes,
}

impl IkeSaKeys {
    /// The keys of an IKE SA with SPIs `spi_i`/`spi_r`, encrypted with `encr` (`encr_key_bits`
    /// long) and protected with `integ`, from its derived keys (RFC 7296 §2.14).
    pub fn new(
        spi_i: IkeSpi,
        spi_r: IkeSpi,
        encr: EncrId,
        encr_key_bits: Option<u16>,
        integ: IntegId,
        keys: &IkeKeys,
    ) -> Self {
        Self {
            spi_i,
            spi_r,
            encr,
            encr_key_bits,
            sk_ei: keys.sk_ei.clone(),
            sk_er: keys.sk_er.clone(),
            integ,
            sk_ai: keys.sk_ai.clone(),
            sk_ar: keys.sk_ar.clone(),
        }
    }
}

impl EspSaKeys {
    /// The keys of an SA as installed in a backend.
    pub fn from_spec(spec: &SaSpec) -> Self {
        let (src, dst) = outer_addresses(spec.direction, spec.local.ip(), spec.remote.ip());
        Self {
            src,
            dst,
            spi: spec.spi,
            algorithms: spec.algorithms,
            encr_key: spec.encr_key.clone(),
            integ_key: spec.integ_key.clone(),
        }
    }

    /// Follows a change of the SA's addresses (NAT mapping, RFC 7296 §2.23).
    pub fn update_addresses(&mut self, direction: Direction, local: IpAddr, remote: IpAddr) {
        (self.src, self.dst) = outer_addresses(direction, local, remote);
    }
}

/// The `ikev2_decryption_table` file: one line per IKE SA. SPIs and keys are unquoted hex,
/// algorithm names quoted. The text holds every key, so it comes back as [`SecretBytes`]
/// (wiped on drop, redacted in `Debug`).
pub fn ikev2_decryption_table(sas: &[IkeSaKeys]) -> SecretBytes {
    let mut table = String::with_capacity(sas.len() * LINE_CAPACITY);
    for sa in sas {
        let (Some(encr), Some(integ)) = (
            ike_encr_name(sa.encr, sa.encr_key_bits),
            ike_integ_name(sa.integ),
        ) else {
            let _ = writeln!(
                table,
                "# {} {}: Wireshark cannot decrypt {} / {}",
                sa.spi_i, sa.spi_r, sa.encr, sa.integ
            );
            continue;
        };
        let _ = write!(table, "{},{},", sa.spi_i, sa.spi_r);
        push_hex(&mut table, &sa.sk_ei);
        table.push(',');
        push_hex(&mut table, &sa.sk_er);
        let _ = write!(table, ",\"{encr}\",");
        push_hex(&mut table, &sa.sk_ai);
        table.push(',');
        push_hex(&mut table, &sa.sk_ar);
        let _ = writeln!(table, ",\"{integ}\"");
    }
    SecretBytes::new(table.into_bytes())
}

/// The `esp_sa` file: one line per ESP SA, every field quoted, addresses as wildcards (the SPI
/// identifies the SA; NATs change the outer addresses). Comes back as [`SecretBytes`], like
/// [`ikev2_decryption_table`].
pub fn esp_sa_table(sas: &[EspSaKeys]) -> SecretBytes {
    let mut table = String::with_capacity(sas.len() * LINE_CAPACITY);
    for sa in sas {
        let algorithms = sa.algorithms;
        let (Some(encr), Some(integ)) = (
            esp_encr_name(algorithms.encr),
            esp_integ_name(algorithms.encr, algorithms.integ),
        ) else {
            let _ = writeln!(
                table,
                "# {} {}→{}: Wireshark cannot decrypt {} / {}",
                sa.spi, sa.src, sa.dst, algorithms.encr, algorithms.integ
            );
            continue;
        };
        let family = if sa.dst.is_ipv4() { "IPv4" } else { "IPv6" };
        let _ = write!(
            table,
            "\"{family}\",\"*\",\"*\",\"{}\",\"{encr}\",\"0x",
            sa.spi
        );
        push_hex(&mut table, &sa.encr_key);
        let _ = write!(table, "\",\"{integ}\",\"");
        if !sa.integ_key.is_empty() {
            table.push_str("0x");
            push_hex(&mut table, &sa.integ_key);
        }
        table.push_str("\"\n");
    }
    SecretBytes::new(table.into_bytes())
}

/// The outer source and destination of an SA's packets.
fn outer_addresses(direction: Direction, local: IpAddr, remote: IpAddr) -> (IpAddr, IpAddr) {
    match direction {
        Direction::Outbound => (local, remote),
        Direction::Inbound => (remote, local),
    }
}

fn ike_encr_name(encr: EncrId, bits: Option<u16>) -> Option<String> {
    let bits = bits.unwrap_or(128);
    let aes_ok = matches!(bits, 128 | 192 | 256);
    let name = match encr {
        EncrId::NULL => "NULL [RFC2410]".to_owned(),
        EncrId::TRIPLE_DES => "3DES [RFC2451]".to_owned(),
        EncrId::AES_CBC if aes_ok => format!("AES-CBC-{bits} [RFC3602]"),
        EncrId::AES_CTR if aes_ok => format!("AES-CTR-{bits} [RFC5930]"),
        EncrId::AES_GCM_8 if aes_ok => format!("AES-GCM-{bits} with 8 octet ICV [RFC5282]"),
        EncrId::AES_GCM_12 if aes_ok => format!("AES-GCM-{bits} with 12 octet ICV [RFC5282]"),
        EncrId::AES_GCM_16 if aes_ok => format!("AES-GCM-{bits} with 16 octet ICV [RFC5282]"),
        EncrId::AES_CCM_8 if aes_ok => format!("AES-CCM-{bits} with 8 octet ICV [RFC5282]"),
        EncrId::AES_CCM_12 if aes_ok => format!("AES-CCM-{bits} with 12 octet ICV [RFC5282]"),
        EncrId::AES_CCM_16 if aes_ok => format!("AES-CCM-{bits} with 16 octet ICV [RFC5282]"),
        _ => return None,
    };
    Some(name)
}

fn ike_integ_name(integ: IntegId) -> Option<&'static str> {
    Some(match integ {
        IntegId::NONE => "NONE [RFC4306]",
        IntegId::HMAC_MD5_96 => "HMAC_MD5_96 [RFC2403]",
        IntegId::HMAC_SHA1_96 => "HMAC_SHA1_96 [RFC2404]",
        IntegId::HMAC_SHA2_256_128 => "HMAC_SHA2_256_128 [RFC4868]",
        IntegId::HMAC_SHA2_384_192 => "HMAC_SHA2_384_192 [RFC4868]",
        IntegId::HMAC_SHA2_512_256 => "HMAC_SHA2_512_256 [RFC4868]",
        _ => return None,
    })
}

fn esp_encr_name(encr: EncrId) -> Option<&'static str> {
    Some(match encr {
        EncrId::NULL => "NULL",
        EncrId::TRIPLE_DES => "TripleDES-CBC [RFC2451]",
        EncrId::AES_CBC => "AES-CBC [RFC3602]",
        EncrId::AES_CTR => "AES-CTR [RFC3686]",
        EncrId::AES_GCM_8 => "AES-GCM with 8 octet ICV [RFC4106]",
        EncrId::AES_GCM_12 => "AES-GCM with 12 octet ICV [RFC4106]",
        EncrId::AES_GCM_16 => "AES-GCM with 16 octet ICV [RFC4106]",
        _ => return None,
    })
}

fn esp_integ_name(encr: EncrId, integ: IntegId) -> Option<&'static str> {
    Some(match integ {
        // With an AEAD the integrity transform is absent; Wireshark takes the ICV length from
        // the encryption algorithm.
        IntegId::NONE if esp_encr_name(encr).is_some() => "NULL",
        IntegId::HMAC_MD5_96 => "HMAC-MD5-96 [RFC2403]",
        IntegId::HMAC_SHA1_96 => "HMAC-SHA-1-96 [RFC2404]",
        IntegId::HMAC_SHA2_256_128 => "HMAC-SHA-256-128 [RFC4868]",
        IntegId::HMAC_SHA2_384_192 => "HMAC-SHA-384-192 [RFC4868]",
        IntegId::HMAC_SHA2_512_256 => "HMAC-SHA-512-256 [RFC4868]",
        _ => return None,
    })
}

/// Appends `key` as lowercase hex, without an intermediate string.
fn push_hex(out: &mut String, key: &SecretBytes) {
    for byte in key.expose() {
        let _ = write!(out, "{byte:02x}");
    }
}

/// Room reserved per table line, so that the text holding the keys is rarely reallocated
/// (a reallocation leaves a copy behind that is not wiped).
const LINE_CAPACITY: usize = 320;

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::Lifetime;
    use crate::Mode;
    use crate::ReqId;

    fn ike_keys(encr: EncrId, integ: IntegId) -> IkeSaKeys {
        IkeSaKeys {
            spi_i: IkeSpi(0x0102_0304_0506_0708),
            spi_r: IkeSpi(0x1112_1314_1516_1718),
            encr,
            encr_key_bits: Some(128),
            sk_ei: SecretBytes::from_slice(&[0xaa; 20]),
            sk_er: SecretBytes::from_slice(&[0xbb; 20]),
            integ,
            sk_ai: SecretBytes::new(Vec::new()),
            sk_ar: SecretBytes::new(Vec::new()),
        }
    }

    fn esp_keys(encr: EncrId, integ: IntegId, integ_key: &[u8]) -> EspSaKeys {
        EspSaKeys {
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            spi: Spi(0x1122_3344),
            algorithms: EspAlgorithms {
                encr,
                encr_key_bits: Some(128),
                integ,
                esn: false,
            },
            encr_key: SecretBytes::from_slice(&[0x0f; 20]),
            integ_key: SecretBytes::from_slice(integ_key),
        }
    }

    fn text(table: &SecretBytes) -> &str {
        std::str::from_utf8(table.expose()).unwrap()
    }

    #[test]
    fn ikev2_line_has_unquoted_hex_and_quoted_names() {
        let table = ikev2_decryption_table(&[ike_keys(EncrId::AES_GCM_16, IntegId::NONE)]);
        let sk_ei = "aa".repeat(20);
        let sk_er = "bb".repeat(20);
        assert_eq!(
            text(&table),
            format!(
                "0102030405060708,1112131415161718,{sk_ei},{sk_er},\
                 \"AES-GCM-128 with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\"\n"
            )
        );
    }

    #[test]
    fn ikev2_line_with_integrity_keys() {
        let mut keys = ike_keys(EncrId::AES_CBC, IntegId::HMAC_SHA2_256_128);
        keys.encr_key_bits = Some(256);
        keys.sk_ai = SecretBytes::from_slice(&[1; 32]);
        keys.sk_ar = SecretBytes::from_slice(&[2; 32]);
        let table = ikev2_decryption_table(&[keys]);
        let line = text(&table);
        assert!(
            line.ends_with(&format!(
                ",\"AES-CBC-256 [RFC3602]\",{},{},\"HMAC_SHA2_256_128 [RFC4868]\"\n",
                "01".repeat(32),
                "02".repeat(32)
            )),
            "{line}"
        );
    }

    #[test]
    fn unsupported_algorithms_become_comments() {
        let table = ikev2_decryption_table(&[ike_keys(EncrId::CHACHA20_POLY1305, IntegId::NONE)]);
        assert!(
            text(&table).starts_with("# 0102030405060708 1112131415161718"),
            "{}",
            text(&table)
        );
        assert!(
            !text(&table).contains("aaaa"),
            "a comment line holds no key"
        );
        let esp = esp_sa_table(&[esp_keys(EncrId::CHACHA20_POLY1305, IntegId::NONE, &[])]);
        assert!(text(&esp).starts_with("# 0x11223344"), "{}", text(&esp));
        assert!(!text(&esp).contains("0f0f"), "a comment line holds no key");
    }

    #[test]
    fn esp_line_quotes_every_field() {
        let table = esp_sa_table(&[esp_keys(
            EncrId::AES_CBC,
            IntegId::HMAC_SHA2_256_128,
            &[1; 32],
        )]);
        let key = "0f".repeat(20);
        let integ = "01".repeat(32);
        assert_eq!(
            text(&table),
            format!(
                "\"IPv4\",\"*\",\"*\",\"0x11223344\",\"AES-CBC [RFC3602]\",\"0x{key}\",\
                 \"HMAC-SHA-256-128 [RFC4868]\",\"0x{integ}\"\n"
            )
        );
    }

    #[test]
    fn esp_line_of_an_aead_has_an_empty_integrity_key() {
        let table = esp_sa_table(&[esp_keys(EncrId::AES_GCM_16, IntegId::NONE, &[])]);
        assert!(
            text(&table).ends_with(",\"NULL\",\"\"\n"),
            "{}",
            text(&table)
        );
    }

    #[test]
    fn keys_from_a_spec_follow_its_direction_and_address_updates() {
        let local: SocketAddr = "192.0.2.1:4500".parse().unwrap();
        let remote: SocketAddr = "[2001:db8::2]:4500".parse().unwrap();
        let mut spec = SaSpec {
            spi: Spi(7),
            direction: Direction::Inbound,
            reqid: ReqId(1),
            resource: None,
            local,
            remote,
            udp_encap: true,
            mode: Mode::Tunnel,
            algorithms: esp_keys(EncrId::AES_GCM_16, IntegId::NONE, &[]).algorithms,
            encr_key: SecretBytes::from_slice(&[3; 20]),
            integ_key: SecretBytes::default(),
            replay_window: 64,
            lifetime: Lifetime::default(),
            initial_sequence: 0,
            report_first_use: false,
            local_ts: Vec::new(),
            remote_ts: Vec::new(),
        };
        let mut keys = EspSaKeys::from_spec(&spec);
        assert_eq!((keys.src, keys.dst), (remote.ip(), local.ip()));
        spec.direction = Direction::Outbound;
        assert_eq!(
            (
                EspSaKeys::from_spec(&spec).src,
                EspSaKeys::from_spec(&spec).dst
            ),
            (local.ip(), remote.ip())
        );
        let moved: IpAddr = "2001:db8::9".parse().unwrap();
        keys.update_addresses(Direction::Inbound, local.ip(), moved);
        assert_eq!((keys.src, keys.dst), (moved, local.ip()));
    }

    #[test]
    fn debug_output_shows_no_key() {
        let ike = format!("{:?}", ike_keys(EncrId::AES_GCM_16, IntegId::NONE));
        let esp = format!(
            "{:?}",
            esp_keys(EncrId::AES_CBC, IntegId::NONE, &[0x5a; 16])
        );
        let table = format!(
            "{:?}",
            esp_sa_table(&[esp_keys(EncrId::AES_CBC, IntegId::NONE, &[0x5a; 16])])
        );
        for text in [ike, esp, table] {
            for key in [
                "aaaaaaaa",
                "0f0f0f0f",
                "5a5a5a5a",
                "170, 170, 170",
                "15, 15, 15",
                "90, 90, 90",
            ] {
                assert!(!text.contains(key), "{text}");
            }
        }
    }
}
