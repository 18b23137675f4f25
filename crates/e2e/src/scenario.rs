//! Set-ups shared by the scenario tests: hitlessd on gateway A against strongSwan or a second
//! hitlessd on gateway B, in the [`TwoGateways`] topology, and the checks that both sides agree
//! on the SAs.

use std::time::Duration;

use anyhow::Result;
use anyhow::bail;
use anyhow::ensure;

use crate::ScratchDir;
use crate::hitless::HitlessConfig;
use crate::hitless::HitlessIkeSa;
use crate::hitless::Hitlessd;
use crate::netns::TwoGateways;
use crate::require_environment;
use crate::strongswan::Charon;
use crate::strongswan::SwanConnection;
use crate::strongswan::SwanIkeSa;
use crate::strongswan::require_strongswan;
use crate::wait_for;

/// The PSK every scenario uses.
pub const PSK: &str = "hitless-interop-secret-0123456789";

/// How long an establishment may take.
pub const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(20);

/// One IKE proposal with the ESP proposal that goes with it and what strongSwan prints for it.
#[derive(Clone, Copy, Debug)]
pub struct Suite {
    /// The IKE proposal (strongSwan syntax, as both sides are configured).
    pub ike: &'static str,
    /// The ESP proposal.
    pub esp: &'static str,
    /// `swanctl --list-sas`'s IKE algorithm line.
    pub swan_ike: &'static str,
    /// `swanctl --list-sas`'s Child SA algorithms.
    pub swan_esp: &'static str,
}

/// The four suites of the interop matrix (issue 4).
pub const SUITES: [Suite; 4] = [
    Suite {
        ike: "aes128gcm16-prfsha256-x25519",
        esp: "aes128gcm16",
        swan_ike: "AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519",
        swan_esp: "ESP:AES_GCM_16-128",
    },
    Suite {
        ike: "aes256gcm16-prfsha384-ecp384",
        esp: "aes256gcm16",
        swan_ike: "AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384",
        swan_esp: "ESP:AES_GCM_16-256",
    },
    Suite {
        ike: "chacha20poly1305-prfsha256-x25519",
        esp: "chacha20poly1305",
        swan_ike: "CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519",
        swan_esp: "ESP:CHACHA20_POLY1305",
    },
    Suite {
        ike: "aes256-sha256-modp2048",
        esp: "aes256-sha256",
        swan_ike: "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
        swan_esp: "ESP:AES_CBC-256/HMAC_SHA2_256_128",
    },
];

/// Who starts the IKE SA.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Initiator {
    /// hitlessd on gateway A.
    Hitless,
    /// The peer on gateway B.
    Peer,
}

/// hitlessd on A, strongSwan on B, both configured for `suite`.
#[derive(Debug)]
pub struct VsStrongswan {
    /// hitlessd (dropped before the namespaces).
    pub hitless: Hitlessd,
    /// charon.
    pub charon: Charon,
    /// The topology.
    pub topo: TwoGateways,
    /// Logs and configs.
    pub scratch: ScratchDir,
}

impl VsStrongswan {
    /// Sets up the topology (`{prefix}a`, `{prefix}b`, networks `10.{net}` and `10.{net+1}`)
    /// and starts both daemons.
    ///
    /// # Errors
    ///
    /// When the environment lacks root or tools, or a daemon does not start.
    pub fn start(name: &str, prefix: &str, net: u8, suite: Suite) -> Result<Self> {
        require_environment()?;
        require_strongswan()?;
        let scratch = ScratchDir::new(name)?;
        let topo = TwoGateways::new(prefix, net)?;
        let mut swan = SwanConnection::psk(
            topo.outer_b.to_string(),
            topo.outer_a.to_string(),
            "b.hitless.test",
            "a.hitless.test",
            PSK,
        );
        swan.ike_proposals = suite.ike.to_owned();
        swan.esp_proposals = suite.esp.to_owned();
        swan.local_ts.clone_from(&topo.net_b);
        swan.remote_ts.clone_from(&topo.net_a);
        let charon = Charon::start(&topo.b, &scratch.path().join("strongswan"), &swan, 2)?;
        let mut config = HitlessConfig::psk(
            topo.outer_a.to_string(),
            topo.outer_b.to_string(),
            "a.hitless.test",
            "b.hitless.test",
            PSK,
        );
        config.proposals = vec![suite.ike.to_owned()];
        config.esp_proposals = vec![suite.esp.to_owned()];
        config.local_ts.clone_from(&topo.net_a);
        config.remote_ts.clone_from(&topo.net_b);
        let hitless = Hitlessd::start(&topo.a, &scratch.path().join("hitless"), &config)?;
        Ok(Self {
            hitless,
            charon,
            topo,
            scratch,
        })
    }

    /// Starts the IKE SA from `initiator`'s side and waits until both sides report it
    /// established with its Child SA installed; returns both views.
    ///
    /// # Errors
    ///
    /// On failure or timeout, with both daemons' logs.
    pub fn establish(&self, initiator: Initiator) -> Result<(HitlessIkeSa, SwanIkeSa)> {
        let result = self.try_establish(initiator);
        result.map_err(|error| {
            anyhow::anyhow!(
                "{error:#}\n===== hitlessd log =====\n{}\n===== charon log =====\n{}",
                self.hitless.log(),
                self.charon.log()
            )
        })
    }

    fn try_establish(&self, initiator: Initiator) -> Result<(HitlessIkeSa, SwanIkeSa)> {
        match initiator {
            Initiator::Hitless => {
                self.hitless.initiate()?;
            }
            Initiator::Peer => {
                self.charon.initiate()?;
            }
        }
        let swan = wait_for(
            "strongSwan: IKE SA ESTABLISHED with Child SA INSTALLED",
            ESTABLISH_TIMEOUT,
            || {
                Ok(self.charon.list_sas()?.into_iter().find(|sa| {
                    sa.state == "ESTABLISHED" && sa.children.iter().any(|c| c.state == "INSTALLED")
                }))
            },
        )?;
        let hitless = self.hitless.wait_established(ESTABLISH_TIMEOUT)?;
        Ok((hitless, swan))
    }
}

/// Checks that hitless and strongSwan describe the same IKE SA and Child SA: the same IKE SPIs,
/// each side's inbound SPI the other's outbound one, and the roles as expected.
///
/// # Errors
///
/// Naming the first disagreement.
pub fn same_sas(hitless: &HitlessIkeSa, swan: &SwanIkeSa, initiator: Initiator) -> Result<()> {
    ensure!(
        hitless.state == "ESTABLISHED",
        "hitless IKE SA is {}",
        hitless.state
    );
    ensure!(
        swan.state == "ESTABLISHED",
        "strongSwan IKE SA is {}",
        swan.state
    );
    ensure!(
        hitless.spi_i == swan.spi_i && hitless.spi_r == swan.spi_r,
        "IKE SPIs differ: hitless {}_i {}_r, strongSwan {}_i {}_r",
        hitless.spi_i,
        hitless.spi_r,
        swan.spi_i,
        swan.spi_r
    );
    ensure!(
        hitless.initiator == (initiator == Initiator::Hitless),
        "hitless reports itself {} but {initiator:?} initiated",
        if hitless.initiator {
            "initiator"
        } else {
            "responder"
        }
    );
    let (Some(ours), Some(theirs)) = (
        hitless.children.iter().find(|c| c.state == "INSTALLED"),
        swan.children.iter().find(|c| c.state == "INSTALLED"),
    ) else {
        bail!("a side has no installed Child SA: hitless {hitless:?}, strongSwan {swan:?}");
    };
    ensure!(
        ours.spi_in == theirs.spi_out && ours.spi_out == theirs.spi_in,
        "Child SA SPIs differ: hitless in {} out {}, strongSwan in {} out {}",
        ours.spi_in,
        ours.spi_out,
        theirs.spi_in,
        theirs.spi_out
    );
    Ok(())
}

/// Two hitlessd, on A and B, configured for `suite`.
#[derive(Debug)]
pub struct VsHitless {
    /// hitlessd on A.
    pub a: Hitlessd,
    /// hitlessd on B.
    pub b: Hitlessd,
    /// The topology.
    pub topo: TwoGateways,
    /// Logs and configs.
    pub scratch: ScratchDir,
}

impl VsHitless {
    /// Sets up the topology and starts both daemons; `udp_encap` is `"force"` or `"auto"` on
    /// both (with `"auto"` and no NAT between them, ESP travels as IP protocol 50).
    ///
    /// # Errors
    ///
    /// When the environment lacks root or tools, or a daemon does not start.
    pub fn start(name: &str, prefix: &str, net: u8, suite: Suite, udp_encap: &str) -> Result<Self> {
        Self::start_with(name, prefix, net, suite, udp_encap, |_| {})
    }

    /// Like [`VsHitless::start`], with `adjust` applied to both daemons' configurations.
    ///
    /// # Errors
    ///
    /// When the environment lacks root or tools, or a daemon does not start.
    pub fn start_with(
        name: &str,
        prefix: &str,
        net: u8,
        suite: Suite,
        udp_encap: &str,
        adjust: impl Fn(&mut HitlessConfig),
    ) -> Result<Self> {
        require_environment()?;
        let scratch = ScratchDir::new(name)?;
        let topo = TwoGateways::new(prefix, net)?;
        let config = |local: &str, remote: &str, local_ts: &str, remote_ts: &str, me, peer| {
            let mut config = HitlessConfig::psk(local, remote, me, peer, PSK);
            config.proposals = vec![suite.ike.to_owned()];
            config.esp_proposals = vec![suite.esp.to_owned()];
            config.local_ts = local_ts.to_owned();
            config.remote_ts = remote_ts.to_owned();
            config.udp_encap = udp_encap.to_owned();
            adjust(&mut config);
            config
        };
        let (outer_a, outer_b) = (topo.outer_a.to_string(), topo.outer_b.to_string());
        let a = config(
            &outer_a,
            &outer_b,
            &topo.net_a,
            &topo.net_b,
            "a.hitless.test",
            "b.hitless.test",
        );
        let b = config(
            &outer_b,
            &outer_a,
            &topo.net_b,
            &topo.net_a,
            "b.hitless.test",
            "a.hitless.test",
        );
        let a = Hitlessd::start(&topo.a, &scratch.path().join("a"), &a)?;
        let b = Hitlessd::start(&topo.b, &scratch.path().join("b"), &b)?;
        Ok(Self {
            a,
            b,
            topo,
            scratch,
        })
    }

    /// A initiates; waits until both report the IKE SA established with its Child SA
    /// installed, and checks that they agree on the SPIs.
    ///
    /// # Errors
    ///
    /// On failure, timeout or disagreement, with both daemons' logs.
    pub fn establish(&self) -> Result<(HitlessIkeSa, HitlessIkeSa)> {
        let result = (|| {
            self.a.initiate()?;
            let a = self.a.wait_established(ESTABLISH_TIMEOUT)?;
            let b = self.b.wait_established(ESTABLISH_TIMEOUT)?;
            ensure!(
                a.spi_i == b.spi_i && a.spi_r == b.spi_r && a.initiator && !b.initiator,
                "the IKE SAs differ: {a:?} vs {b:?}"
            );
            let (ca, cb) = (&a.children[0], &b.children[0]);
            ensure!(
                ca.spi_in == cb.spi_out && ca.spi_out == cb.spi_in,
                "the Child SAs differ: {ca:?} vs {cb:?}"
            );
            Ok((a, b))
        })();
        result.map_err(|error| {
            anyhow::anyhow!(
                "{error:#}\n===== hitlessd A =====\n{}\n===== hitlessd B =====\n{}",
                self.a.log(),
                self.b.log()
            )
        })
    }
}
