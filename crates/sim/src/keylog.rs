//! Wireshark decryption tables for a simulation's capture: `ikev2_decryption_table` (IKE SA
//! keys, RFC 7296 §2.14) and `esp_sa` (ESP SA keys, RFC 7296 §2.17), in the UAT file formats of
//! Wireshark 4.0. Written into a directory that Wireshark or tshark use as their personal
//! configuration directory:
//!
//! ```text
//! WIRESHARK_CONFIG_DIR=target/sim/keys tshark -r target/sim/run.pcap -V
//! ```
//!
//! Key export exists for tests and debugging only (STYLE.md §3.9); nothing here runs in the
//! daemon. Algorithms Wireshark 4.0 cannot decrypt (ChaCha20-Poly1305, for instance) are written
//! as comment lines so that the table still loads.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use hitless_crypto::SecretBytes;
use hitless_sadb::Direction;
use hitless_sadb::EspAlgorithms;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IntegId;

/// The keys of one IKE SA, as Wireshark needs them.
#[derive(Clone, Debug)]
pub struct IkeSaKeys {
    /// The initiator's SPI.
    pub spi_i: u64,
    /// The responder's SPI.
    pub spi_r: u64,
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

/// The keys of one ESP SA, as Wireshark needs them.
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

impl EspSaKeys {
    /// The keys of an SA as installed in a backend.
    pub fn from_spec(spec: &SaSpec) -> Self {
        let (src, dst) = match spec.direction {
            Direction::Outbound => (spec.local.ip(), spec.remote.ip()),
            Direction::Inbound => (spec.remote.ip(), spec.local.ip()),
        };
        Self {
            src,
            dst,
            spi: spec.spi,
            algorithms: spec.algorithms,
            encr_key: spec.encr_key.clone(),
            integ_key: spec.integ_key.clone(),
        }
    }
}

/// The `ikev2_decryption_table` file: one line per IKE SA. SPIs and keys are unquoted hex,
/// algorithm names quoted.
pub fn ikev2_decryption_table(sas: &[IkeSaKeys]) -> String {
    let mut table = String::new();
    for sa in sas {
        let (Some(encr), Some(integ)) = (
            ike_encr_name(sa.encr, sa.encr_key_bits),
            ike_integ_name(sa.integ),
        ) else {
            let _ = writeln!(
                table,
                "# {:016x} {:016x}: Wireshark cannot decrypt {} / {}",
                sa.spi_i, sa.spi_r, sa.encr, sa.integ
            );
            continue;
        };
        let _ = writeln!(
            table,
            "{:016x},{:016x},{},{},\"{encr}\",{},{},\"{integ}\"",
            sa.spi_i,
            sa.spi_r,
            hex(sa.sk_ei.expose()),
            hex(sa.sk_er.expose()),
            hex(sa.sk_ai.expose()),
            hex(sa.sk_ar.expose()),
        );
    }
    table
}

/// The `esp_sa` file: one line per ESP SA, every field quoted, addresses as wildcards (the SPI
/// identifies the SA; NATs change the outer addresses).
pub fn esp_sa_table(sas: &[EspSaKeys]) -> String {
    let mut table = String::new();
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
        let integ_key = if sa.integ_key.is_empty() {
            String::new()
        } else {
            format!("0x{}", hex(sa.integ_key.expose()))
        };
        let _ = writeln!(
            table,
            "\"{family}\",\"*\",\"*\",\"{:#010x}\",\"{encr}\",\"0x{}\",\"{integ}\",\"{integ_key}\"",
            sa.spi.0,
            hex(sa.encr_key.expose()),
        );
    }
    table
}

/// Writes `ikev2_decryption_table`, `esp_sa` and a `preferences` file that turns ESP decryption
/// on into `dir` (created if missing).
///
/// # Errors
///
/// When the directory or a file cannot be written.
pub fn write_wireshark_config(dir: &Path, ike: &[IkeSaKeys], esp: &[EspSaKeys]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(
        dir.join("ikev2_decryption_table"),
        ikev2_decryption_table(ike),
    )?;
    fs::write(dir.join("esp_sa"), esp_sa_table(esp))?;
    fs::write(
        dir.join("preferences"),
        "esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n",
    )?;
    Ok(())
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

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ike_keys(encr: EncrId, integ: IntegId) -> IkeSaKeys {
        IkeSaKeys {
            spi_i: 0x0102_0304_0506_0708,
            spi_r: 0x1112_1314_1516_1718,
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

    #[test]
    fn ikev2_line_has_unquoted_hex_and_quoted_names() {
        let table = ikev2_decryption_table(&[ike_keys(EncrId::AES_GCM_16, IntegId::NONE)]);
        let sk_ei = "aa".repeat(20);
        let sk_er = "bb".repeat(20);
        assert_eq!(
            table,
            format!(
                "0102030405060708,1112131415161718,{sk_ei},{sk_er},\
                 \"AES-GCM-128 with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\"\n"
            )
        );
    }

    #[test]
    fn unsupported_algorithms_become_comments() {
        let table = ikev2_decryption_table(&[ike_keys(EncrId::CHACHA20_POLY1305, IntegId::NONE)]);
        assert!(
            table.starts_with("# 0102030405060708 1112131415161718"),
            "{table}"
        );
        let esp = esp_sa_table(&[esp_keys(EncrId::CHACHA20_POLY1305, IntegId::NONE, &[])]);
        assert!(esp.starts_with("# 0x11223344"), "{esp}");
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
            table,
            format!(
                "\"IPv4\",\"*\",\"*\",\"0x11223344\",\"AES-CBC [RFC3602]\",\"0x{key}\",\
                 \"HMAC-SHA-256-128 [RFC4868]\",\"0x{integ}\"\n"
            )
        );
    }
}
