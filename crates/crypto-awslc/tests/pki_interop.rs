//! Interoperability of certificate authentication with the tools operators use: keys and
//! certificates made by strongSwan's `pki` and by `openssl` load and verify, signatures our
//! signer makes verify with `openssl pkeyutl -verify`, and signatures `openssl` makes verify
//! with ours.
//!
//! Needs `pki` (Debian package strongswan-pki) and `openssl` (`scripts/install-deps.sh`
//! installs both); the tests fail, not skip, without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Stdio;
use std::time::SystemTime;

use hitless_crypto::identity::IkeIdentity;
use hitless_crypto::pki::CertificateVerifier;
use hitless_crypto::pki::PkiError;
use hitless_crypto::pki::Signer;
use hitless_crypto::pki::UnixTime;
use hitless_crypto::pki::sign_auth;
use hitless_crypto::pki::verify_auth;
use hitless_crypto::signature::KeyType;
use hitless_crypto::signature::SignatureScheme;
use hitless_crypto::signature::VERIFIABLE_HASHES;
use hitless_crypto_awslc::pki::load_certified_key;
use hitless_crypto_awslc::pki::load_trust_anchors;
use hitless_crypto_awslc::pki::private_key_from_pem;
use hitless_crypto_awslc::pki::verify_signature;
use hitless_wire::ike::IdPayload;
use hitless_wire::registry::IdType;

/// A key type as the two tools name it.
struct KeyKind {
    name: &'static str,
    /// `pki --gen` arguments.
    pki_gen: &'static [&'static str],
    /// `pki --type` of the private key file.
    pki_type: &'static str,
    /// The first line of the key file `pki` writes (the format our loader must read).
    pem_label: &'static str,
    key_type: KeyType,
}

const KINDS: [KeyKind; 4] = [
    KeyKind {
        name: "rsa",
        pki_gen: &["--type", "rsa", "--size", "2048"],
        pki_type: "rsa",
        pem_label: "-----BEGIN RSA PRIVATE KEY-----",
        key_type: KeyType::Rsa { bits: 2048 },
    },
    KeyKind {
        name: "p256",
        pki_gen: &["--type", "ecdsa", "--size", "256"],
        pki_type: "ecdsa",
        pem_label: "-----BEGIN EC PRIVATE KEY-----",
        key_type: KeyType::EcdsaP256,
    },
    KeyKind {
        name: "p384",
        pki_gen: &["--type", "ecdsa", "--size", "384"],
        pki_type: "ecdsa",
        pem_label: "-----BEGIN EC PRIVATE KEY-----",
        key_type: KeyType::EcdsaP384,
    },
    KeyKind {
        name: "ed25519",
        pki_gen: &["--type", "ed25519"],
        pki_type: "ed25519",
        pem_label: "-----BEGIN PRIVATE KEY-----",
        key_type: KeyType::Ed25519,
    },
];

#[test]
fn strongswan_pki_chains_load_verify_and_sign() {
    for kind in &KINDS {
        let dir = TempDir::new(&format!("pki-{}", kind.name));
        let pki = |args: &[&str], out: &str| {
            let output = tool("pki", args, &dir.path);
            fs::write(dir.file(out), output).unwrap();
        };
        let mut padding: Vec<&str> = Vec::new();
        if kind.name == "rsa" {
            // RSASSA-PSS certificate signatures, as `rsa_pss = yes` configures strongSwan.
            padding = vec!["--rsa-padding", "pss"];
        }
        // Root CA.
        pki(
            &[&["--gen"], kind.pki_gen, &["--outform", "pem"]].concat(),
            "ca.key",
        );
        pki(
            &[
                &[
                    "--self",
                    "--ca",
                    "--lifetime",
                    "3650",
                    "--in",
                    "ca.key",
                    "--type",
                    kind.pki_type,
                    "--dn",
                    "C=CH, O=hitless, CN=pki Root CA",
                ][..],
                &padding,
                &["--outform", "pem"],
            ]
            .concat(),
            "ca.crt",
        );
        // Intermediate CA.
        pki(
            &[&["--gen"], kind.pki_gen, &["--outform", "pem"]].concat(),
            "sub.key",
        );
        pki(&["--pub", "--in", "sub.key", "--type", "priv"], "sub.pub");
        pki(
            &[
                &[
                    "--issue",
                    "--ca",
                    "--lifetime",
                    "1825",
                    "--cacert",
                    "ca.crt",
                    "--cakey",
                    "ca.key",
                    "--type",
                    "pub",
                    "--in",
                    "sub.pub",
                    "--dn",
                    "C=CH, O=hitless, CN=pki Intermediate CA",
                ][..],
                &padding,
                &["--outform", "pem"],
            ]
            .concat(),
            "sub.crt",
        );
        // Gateway.
        pki(
            &[&["--gen"], kind.pki_gen, &["--outform", "pem"]].concat(),
            "moon.key",
        );
        pki(&["--pub", "--in", "moon.key", "--type", "priv"], "moon.pub");
        pki(
            &[
                &[
                    "--issue",
                    "--lifetime",
                    "365",
                    "--cacert",
                    "sub.crt",
                    "--cakey",
                    "sub.key",
                    "--type",
                    "pub",
                    "--in",
                    "moon.pub",
                    "--dn",
                    "C=CH, O=hitless, CN=moon.example.org",
                    "--san",
                    "moon.example.org",
                    "--san",
                    "192.0.2.1",
                    "--san",
                    "moon@example.org",
                    "--flag",
                    "serverAuth",
                ][..],
                &padding,
                &["--outform", "pem"],
            ]
            .concat(),
            "moon.crt",
        );
        let key_pem = fs::read_to_string(dir.file("moon.key")).unwrap();
        assert!(
            key_pem.starts_with(kind.pem_label),
            "{}: {key_pem:.40}",
            kind.name
        );
        let chain = [
            fs::read(dir.file("moon.crt")).unwrap(),
            fs::read(dir.file("sub.crt")).unwrap(),
        ]
        .concat();
        fs::write(dir.file("chain.crt"), chain).unwrap();

        // Load as the daemon would.
        let anchors = load_trust_anchors(&[&dir.file("ca.crt")]).unwrap();
        let ours = load_certified_key(&dir.file("chain.crt"), &dir.file("moon.key"))
            .unwrap_or_else(|e| panic!("{}: {e}", kind.name));
        assert_eq!(ours.signer().public_key().key_type(), kind.key_type);
        assert_eq!(ours.chain().len(), 2);
        // The CERTREQ hash is what strongSwan computes for the CA (its keyid).
        let keyid = tool(
            "pki",
            &[
                "--keyid", "--in", "ca.crt", "--type", "x509", "--id", "spki", "--format", "hex",
            ],
            &dir.path,
        );
        let keyid = String::from_utf8(keyid).unwrap();
        assert_eq!(
            format!("{:?}", anchors.authorities()[0]),
            keyid.trim(),
            "{}",
            kind.name
        );

        // Verify the chain as a peer would, for each ID type the certificate backs.
        let leaf = &ours.chain()[0];
        let intermediate = &ours.chain()[1];
        let dn = ours.default_identity();
        assert_eq!(dn.to_string(), "C=CH, O=hitless, CN=moon.example.org");
        for id in [
            dn.to_payload(),
            payload(IdType::FQDN, b"moon.example.org"),
            payload(IdType::IPV4_ADDR, &[192, 0, 2, 1]),
            payload(IdType::RFC822_ADDR, b"moon@example.org"),
        ] {
            anchors
                .verify_peer(leaf, &[intermediate], &id, now())
                .unwrap_or_else(|e| panic!("{} {id:?}: {e}", kind.name));
        }
        assert_eq!(
            anchors
                .verify_peer(
                    leaf,
                    &[intermediate],
                    &payload(IdType::FQDN, b"sun.example.org"),
                    now()
                )
                .err(),
            Some(PkiError::IdentityMismatch)
        );
        if kind.name == "rsa" {
            // strongSwan writes RSASSA-PSS AlgorithmIdentifiers as we do (it builds the one in
            // its AUTH payloads the same way): our RFC 7427 table knows it.
            let algorithm = signature_algorithm_der(leaf);
            assert_eq!(
                SignatureScheme::from_algorithm_identifier(&algorithm),
                Some(SignatureScheme::RsaPssSha256)
            );
        }

        // Our signatures verify with openssl, for every scheme the key offers.
        let public_pem = tool(
            "openssl",
            &["x509", "-in", "moon.crt", "-pubkey", "-noout"],
            &dir.path,
        );
        fs::write(dir.file("moon.pub.pem"), public_pem).unwrap();
        let octets = b"RealMessage1 | NonceRData | prf(SK_pi, IDi')";
        fs::write(dir.file("octets"), octets).unwrap();
        for &scheme in ours.signer().schemes() {
            let signature = ours.signer().sign(scheme, octets).unwrap();
            fs::write(dir.file("sig"), &signature).unwrap();
            assert!(
                openssl_verifies(&dir, "moon.pub.pem", scheme, "octets"),
                "{} {scheme}: openssl rejects our signature",
                kind.name
            );
            // And it notices a change of the message (this check can fail).
            fs::write(
                dir.file("other"),
                b"RealMessage1 | NonceRData | prf(SK_pi, IDr')",
            )
            .unwrap();
            assert!(
                !openssl_verifies(&dir, "moon.pub.pem", scheme, "other"),
                "{} {scheme}: openssl accepts a signature over other data",
                kind.name
            );
        }
        // And the RFC 7427 round trip through the verifier that loaded strongSwan's CA.
        let peer = anchors
            .verify_peer(leaf, &[intermediate], &dn.to_payload(), now())
            .unwrap();
        let auth = sign_auth(ours.signer(), &VERIFIABLE_HASHES, octets).unwrap();
        verify_auth(&anchors, &peer, &VERIFIABLE_HASHES, &auth, octets).unwrap();
    }
}

#[test]
fn openssl_keys_and_signatures() {
    let dir = TempDir::new("openssl");
    let cases: [(&str, &[&str], &[SignatureScheme]); 4] = [
        (
            "rsa",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            &[
                SignatureScheme::RsaPssSha256,
                SignatureScheme::RsaPssSha384,
                SignatureScheme::RsaPssSha512,
                SignatureScheme::RsaPkcs1Sha256,
                SignatureScheme::RsaPkcs1Sha384,
                SignatureScheme::RsaPkcs1Sha512,
            ],
        ),
        (
            "p256",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            &[
                SignatureScheme::EcdsaSha256,
                SignatureScheme::EcdsaSha384,
                SignatureScheme::EcdsaSha512,
            ],
        ),
        (
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            &[SignatureScheme::EcdsaSha256, SignatureScheme::EcdsaSha384],
        ),
        (
            "ed25519",
            &["-algorithm", "ED25519"],
            &[SignatureScheme::Ed25519],
        ),
    ];
    for (name, genpkey, schemes) in cases {
        let key = format!("{name}.key");
        tool(
            "openssl",
            &[&["genpkey", "-out", &key][..], genpkey].concat(),
            &dir.path,
        );
        // PKCS #8 from openssl; for EC also the SEC 1 form, for RSA the PKCS #1 form.
        let signer = private_key_from_pem(&fs::read(dir.file(&key)).unwrap()).unwrap();
        let legacy = match name {
            "rsa" => Some(tool(
                "openssl",
                &["rsa", "-in", &key, "-traditional"],
                &dir.path,
            )),
            "p256" | "p384" => Some(tool("openssl", &["ec", "-in", &key], &dir.path)),
            _ => None,
        };
        if let Some(legacy) = legacy {
            let text = String::from_utf8(legacy.clone()).unwrap();
            assert!(
                text.contains("BEGIN RSA PRIVATE KEY") || text.contains("BEGIN EC PRIVATE KEY"),
                "{name}: {text:.40}"
            );
            let again = private_key_from_pem(&legacy).unwrap();
            assert_eq!(again.public_key(), signer.public_key(), "{name}");
        }
        let public = format!("{name}.pub.pem");
        tool(
            "openssl",
            &["pkey", "-in", &key, "-pubout", "-out", &public],
            &dir.path,
        );
        fs::write(dir.file("data"), b"octets openssl signs").unwrap();
        for &scheme in schemes {
            // openssl signs, we verify.
            let signature = openssl_sign(&dir, &key, scheme, "data");
            verify_signature(
                signer.public_key(),
                scheme,
                b"octets openssl signs",
                &signature,
            )
            .unwrap_or_else(|e| panic!("{name} {scheme}: {e}"));
            assert_eq!(
                verify_signature(
                    signer.public_key(),
                    scheme,
                    b"octets openssl signed",
                    &signature
                ),
                Err(PkiError::BadSignature)
            );
            // We sign (where our key offers the scheme), openssl verifies.
            if signer.schemes().contains(&scheme) {
                let ours = signer.sign(scheme, b"octets openssl signs").unwrap();
                fs::write(dir.file("sig"), ours).unwrap();
                assert!(
                    openssl_verifies(&dir, &public, scheme, "data"),
                    "{name} {scheme}"
                );
            }
        }
    }
}

#[test]
fn openssl_chain_with_email_and_ipv6_identities() {
    let dir = TempDir::new("openssl-chain");
    let run = |args: &[&str]| {
        tool("openssl", args, &dir.path);
    };
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-out",
        "ca.key",
    ]);
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-subj",
        "/C=CH/O=openssl/CN=openssl CA",
        "-days",
        "3650",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        "ca.crt",
    ]);
    run(&["genpkey", "-algorithm", "ED25519", "-out", "gw.key"]);
    run(&[
        "req",
        "-new",
        "-key",
        "gw.key",
        "-subj",
        "/C=CH/O=openssl/CN=gw",
        "-out",
        "gw.csr",
    ]);
    fs::write(
        dir.file("ext.cnf"),
        "subjectAltName=email:gw@example.org,IP:2001:db8::7,DNS:gw.example.org,\
         dirName:alt_dn\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=1.3.6.1.5.5.7.3.17\n[alt_dn]\nCN=gateway alias\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "gw.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "365",
        "-extfile",
        "ext.cnf",
        "-out",
        "gw.crt",
    ]);
    let anchors = load_trust_anchors(&[&dir.file("ca.crt")]).unwrap();
    let ours = load_certified_key(&dir.file("gw.crt"), &dir.file("gw.key")).unwrap();
    let leaf = &ours.chain()[0];
    let alias = tool(
        "openssl",
        &["x509", "-in", "gw.crt", "-noout", "-ext", "subjectAltName"],
        &dir.path,
    );
    assert!(
        String::from_utf8(alias)
            .unwrap()
            .contains("DirName:/CN=gateway alias")
    );
    for id in [
        payload(IdType::RFC822_ADDR, b"GW@example.org"),
        payload(
            IdType::IPV6_ADDR,
            &"2001:db8::7"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        ),
        payload(IdType::FQDN, b"gw.example.org"),
        ours.default_identity().to_payload(),
    ] {
        let peer = anchors
            .verify_peer(leaf, &[], &id, now())
            .unwrap_or_else(|e| panic!("{id:?}: {e}"));
        assert!(matches!(
            peer.identity(),
            IkeIdentity::Rfc822(_)
                | IkeIdentity::Ipv6(_)
                | IkeIdentity::Fqdn(_)
                | IkeIdentity::Dn(_)
        ));
    }
    assert!(ours.backs(&IkeIdentity::Dn(
        hitless_crypto_awslc::pki::certificate_subject(leaf).unwrap()
    )));
    // The directoryName SAN backs a DN ID too: build its DER with openssl.
    run(&[
        "req",
        "-new",
        "-key",
        "gw.key",
        "-subj",
        "/CN=gateway alias",
        "-out",
        "alias.csr",
    ]);
    let alias_der = tool(
        "openssl",
        &["req", "-in", "alias.csr", "-outform", "DER"],
        &dir.path,
    );
    let alias_subject = csr_subject_der(&alias_der);
    anchors
        .verify_peer(
            leaf,
            &[],
            &payload(IdType::DER_ASN1_DN, &alias_subject),
            now(),
        )
        .unwrap();
}

fn payload(id_type: IdType, data: &[u8]) -> IdPayload {
    IdPayload {
        id_type,
        data: data.to_vec(),
    }
}

fn now() -> UnixTime {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    UnixTime::from_secs(since_epoch.as_secs())
}

/// The openssl digest and options for a scheme.
fn openssl_options(scheme: SignatureScheme) -> Vec<&'static str> {
    let digest = |name| vec!["-digest", name];
    let pss = |name, salt| {
        let mut options = digest(name);
        options.extend(["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", salt]);
        options
    };
    match scheme {
        SignatureScheme::RsaPssSha256 => pss("sha256", "rsa_pss_saltlen:32"),
        SignatureScheme::RsaPssSha384 => pss("sha384", "rsa_pss_saltlen:48"),
        SignatureScheme::RsaPssSha512 => pss("sha512", "rsa_pss_saltlen:64"),
        SignatureScheme::RsaPkcs1Sha256 | SignatureScheme::EcdsaSha256 => digest("sha256"),
        SignatureScheme::RsaPkcs1Sha384 | SignatureScheme::EcdsaSha384 => digest("sha384"),
        SignatureScheme::RsaPkcs1Sha512 | SignatureScheme::EcdsaSha512 => digest("sha512"),
        SignatureScheme::Ed25519 => Vec::new(),
    }
}

/// `openssl pkeyutl -verify` of `sig` over `data` with a public key file.
fn openssl_verifies(dir: &TempDir, public: &str, scheme: SignatureScheme, data: &str) -> bool {
    let mut args = vec![
        "pkeyutl", "-verify", "-pubin", "-inkey", public, "-rawin", "-in", data, "-sigfile", "sig",
    ];
    args.extend(openssl_options(scheme));
    let output = command("openssl", &args, &dir.path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    match (
        output.status.success(),
        stdout.contains("Signature Verified Successfully"),
    ) {
        (true, true) => true,
        (false, false) => false,
        _ => panic!(
            "openssl pkeyutl gave an unclear answer: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// `openssl pkeyutl -sign` over `data` with a private key file.
fn openssl_sign(dir: &TempDir, key: &str, scheme: SignatureScheme, data: &str) -> Vec<u8> {
    let mut args = vec!["pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", data];
    args.extend(openssl_options(scheme));
    tool("openssl", &args, &dir.path)
}

/// The DER signatureAlgorithm of a certificate: the element after its tbsCertificate.
fn signature_algorithm_der(certificate: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::FromDer;
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(certificate).unwrap();
    let tbs = parsed.tbs_certificate.as_ref();
    let offset = tbs.as_ptr() as usize - certificate.as_ptr() as usize + tbs.len();
    let after = &certificate[offset..];
    let (rest, _) = x509_parser::x509::AlgorithmIdentifier::from_der(after).unwrap();
    after[..after.len() - rest.len()].to_vec()
}

/// The subject DN (DER) of a PKCS #10 request.
fn csr_subject_der(csr: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::FromDer;
    let (_, request) =
        x509_parser::certification_request::X509CertificationRequest::from_der(csr).unwrap();
    request.certification_request_info.subject.as_raw().to_vec()
}

/// Runs a tool in `dir` and returns its stdout; fails the test if it is missing or fails.
fn tool(program: &str, args: &[&str], dir: &Path) -> Vec<u8> {
    let output = command(program, args, dir);
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn command(program: &str, args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}): install it (scripts/install-deps.sh installs \
                 strongswan-pki and openssl)"
            )
        })
}

/// A scratch directory removed at the end of the test.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("hitless-pki-interop-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self { path }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
