//! IKE establishment with PSK between hitlessd and strongSwan 5.9 (kernel-libipsec) in network
//! namespaces, hitless as initiator and as responder, for each suite of the interop matrix
//! (issue 4): both sides must report the IKE SA ESTABLISHED and the Child SA INSTALLED with the
//! same SPIs, and strongSwan must have negotiated exactly the configured algorithms.

use anyhow::Result;
use anyhow::ensure;
use hitless_e2e::scenario::Initiator;
use hitless_e2e::scenario::SUITES;
use hitless_e2e::scenario::Suite;
use hitless_e2e::scenario::VsStrongswan;
use hitless_e2e::scenario::same_sas;

fn establish(name: &str, net: u8, suite: Suite, initiator: Initiator) -> Result<()> {
    let prefix = format!("e2ei{net}");
    let setup = VsStrongswan::start(name, &prefix, net, suite)?;
    let (hitless, swan) = setup.establish(initiator)?;
    same_sas(&hitless, &swan, initiator)?;
    ensure!(
        swan.algorithms == suite.swan_ike,
        "strongSwan negotiated {} for the IKE SA, expected {}",
        swan.algorithms,
        suite.swan_ike
    );
    let child = &swan.children[0];
    ensure!(
        child.algorithms == suite.swan_esp,
        "strongSwan negotiated {} for the Child SA, expected {}",
        child.algorithms,
        suite.swan_esp
    );
    ensure!(
        child.mode == "TUNNEL-in-UDP",
        "strongSwan's Child SA is {}, expected TUNNEL-in-UDP (kernel-libipsec)",
        child.mode
    );
    Ok(())
}

#[test]
fn hitless_initiates_aes128gcm16_prfsha256_x25519() -> Result<()> {
    establish("ike-psk-i-0", 100, SUITES[0], Initiator::Hitless)
}

#[test]
fn hitless_initiates_aes256gcm16_prfsha384_ecp384() -> Result<()> {
    establish("ike-psk-i-1", 102, SUITES[1], Initiator::Hitless)
}

#[test]
fn hitless_initiates_chacha20poly1305_prfsha256_x25519() -> Result<()> {
    establish("ike-psk-i-2", 104, SUITES[2], Initiator::Hitless)
}

#[test]
fn hitless_initiates_aes256_sha256_modp2048() -> Result<()> {
    establish("ike-psk-i-3", 106, SUITES[3], Initiator::Hitless)
}

#[test]
fn hitless_responds_aes128gcm16_prfsha256_x25519() -> Result<()> {
    establish("ike-psk-r-0", 108, SUITES[0], Initiator::Peer)
}

#[test]
fn hitless_responds_aes256gcm16_prfsha384_ecp384() -> Result<()> {
    establish("ike-psk-r-1", 110, SUITES[1], Initiator::Peer)
}

#[test]
fn hitless_responds_chacha20poly1305_prfsha256_x25519() -> Result<()> {
    establish("ike-psk-r-2", 112, SUITES[2], Initiator::Peer)
}

#[test]
fn hitless_responds_aes256_sha256_modp2048() -> Result<()> {
    establish("ike-psk-r-3", 114, SUITES[3], Initiator::Peer)
}
