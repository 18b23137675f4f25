//! The validated configuration as the IKE engine's [`hitless_ike::Config`].
//!
//! The file can say more than the engine can do yet (certificates, DN identities, wildcards,
//! additional key exchanges, reauthentication, address pools). Such settings are reported as
//! [`ErrorKind::Unsupported`] with their position in the file rather than dropped, so an operator
//! never runs a configuration that means less than it says. `hitlessctl check-config` runs the
//! same check.
//!
//! Settings the daemon carries out itself (`dpd_action`, `keyingtries`, data plane, HA, metrics,
//! key log) are not part of the engine's config and are read from [`Config`] directly.

use std::net::IpAddr;

use hitless_ike::config as ike;
use hitless_sadb::TrafficSelector;
use hitless_wire::registry::EsnId;

use crate::error::ConfigError;
use crate::error::ErrorKind;
use crate::error::Issue;
use crate::error::KeyPath;
use crate::identity::Identity;
use crate::model::Auth;
use crate::model::Child;
use crate::model::Config;
use crate::model::Connection;
use crate::model::Limits;
use crate::model::Parallelism;
use crate::model::PeerAddress;
use crate::model::StartAction;
use crate::model::UdpEncap;
use crate::proposal::EspProposal;
use crate::proposal::IkeProposal;
use crate::ts::TsAddresses;
use crate::ts::TsSpec;

/// Resolves a host name to its addresses (none when it does not resolve).
type Resolver<'a> = &'a dyn Fn(&str) -> Vec<IpAddr>;

impl Config {
    /// Checks that the IKE engine supports every setting used, without resolving names.
    ///
    /// # Errors
    ///
    /// The first unsupported setting, located in the file.
    pub fn check_engine_support(&self) -> Result<(), ConfigError> {
        self.build(None).map(drop)
    }

    /// The engine's configuration. Host names in `remote_addrs` are resolved with `resolve`,
    /// which returns the addresses of a name (none when it cannot be resolved).
    ///
    /// # Errors
    ///
    /// An unsupported setting, or a name that does not resolve, located in the file.
    pub fn to_ike_config(
        &self,
        resolve: &dyn Fn(&str) -> Vec<IpAddr>,
    ) -> Result<hitless_ike::Config, ConfigError> {
        self.build(Some(resolve))
    }

    fn build(&self, resolve: Option<Resolver<'_>>) -> Result<hitless_ike::Config, ConfigError> {
        let mut connections = Vec::new();
        for connection in &self.connections {
            let key = KeyPath::root().key("connections").key(&connection.name);
            let mapped = map_connection(connection, &key, resolve).map_err(|i| self.locate(i))?;
            connections.push(mapped);
        }
        let retransmit = &self.ike.retransmit;
        let config = hitless_ike::Config {
            connections,
            retransmit: ike::RetransmitConfig {
                initial_timeout: retransmit.timeout,
                base: retransmit.base,
                tries: retransmit.tries.get(),
                jitter_percent: retransmit.jitter_percent,
                cap: retransmit.limit,
            },
            half_open: ike::HalfOpenConfig {
                cookie_threshold: self.ike.cookie_threshold,
                max_per_source: self.ike.block_threshold,
                max_total: self.ike.init_limit_half_open,
                ..ike::HalfOpenConfig::default()
            },
            ..hitless_ike::Config::default()
        };
        config.check().map_err(|error| {
            self.locate(Issue::new(
                ErrorKind::Inconsistent,
                KeyPath::root(),
                format!("the IKE engine refuses the configuration: {error}"),
            ))
        })?;
        Ok(config)
    }
}

fn map_connection(
    connection: &Connection,
    key: &KeyPath,
    resolve: Option<Resolver<'_>>,
) -> Result<ike::Connection, Issue> {
    // Start from the engine's defaults so that settings it adds later keep their defaults.
    let mut mapped = match &connection.auth {
        Auth::Psk(psk) => ike::Connection::with_psk(connection.name.clone(), psk.key.clone()),
        Auth::Certificate(_) => {
            return Err(unsupported(
                key.key("cert"),
                "certificate authentication is not supported by the IKE engine yet, expected \
                 psk_file for now",
            ));
        }
    };
    if connection.lifetime.reauth.is_some() {
        return Err(unsupported(
            key.key("reauth_time"),
            "reauthentication is not supported by the IKE engine yet, expected rekey_time only",
        ));
    }
    if !connection.pools.is_empty() {
        return Err(unsupported(
            key.key("pools"),
            "virtual IP pools (configuration payloads) are not supported by the IKE engine yet",
        ));
    }
    let remote_addrs = remote_addresses(connection, &key.key("remote_addrs"), resolve)?;
    let local_id = match &connection.local_id {
        Some(id) => Some(map_identity(id, &key.key("local_id"))?),
        None => None,
    };
    let remote_id = match &connection.remote_id {
        Identity::Any => None,
        id => Some(map_identity(id, &key.key("remote_id"))?),
    };
    let mut ike_proposals = Vec::new();
    for (i, proposal) in connection.proposals.iter().enumerate() {
        ike_proposals.push(map_ike_proposal(proposal, &key.key("proposals").index(i))?);
    }
    let mut children = Vec::new();
    for child in &connection.children {
        let child_key = key.key("children").key(&child.name);
        children.push(map_child(child, connection, &remote_addrs, &child_key)?);
    }
    let lifetime = &connection.lifetime;
    mapped.local_addrs = connection.local_addrs.clone();
    mapped.remote_addrs = remote_addrs;
    mapped.local_port = connection.local_port;
    mapped.remote_port = connection.remote_port;
    mapped.local_id = local_id;
    mapped.remote_id = remote_id;
    mapped.ike_proposals = ike_proposals;
    mapped.children = children;
    mapped.ike_lifetime = ike::LifetimeConfig {
        rekey_time: lifetime.rekey,
        jitter: lifetime.jitter,
        life_time: lifetime.life,
        soft: hitless_sadb::Limits::default(),
        hard: hitless_sadb::Limits::default(),
    };
    mapped.dpd_delay = connection.dpd_delay;
    mapped.udp_encap = match connection.udp_encap {
        UdpEncap::Auto => ike::UdpEncap::Auto,
        UdpEncap::Force => ike::UdpEncap::Force,
    };
    mapped.rfc6311 = connection.rfc6311;
    mapped.fragmentation = ike::FragmentationConfig {
        enabled: connection.fragmentation,
        ..ike::FragmentationConfig::default()
    };
    Ok(mapped)
}

/// The engine takes concrete addresses, or none for "any peer".
fn remote_addresses(
    connection: &Connection,
    key: &KeyPath,
    resolve: Option<Resolver<'_>>,
) -> Result<Vec<IpAddr>, Issue> {
    let any = connection.remote_addrs.contains(&PeerAddress::Any);
    let mut out = Vec::new();
    for (i, address) in connection.remote_addrs.iter().enumerate() {
        match address {
            PeerAddress::Any => {}
            PeerAddress::Ip(ip) => out.push(*ip),
            PeerAddress::Range(range) => {
                return Err(unsupported(
                    key.index(i),
                    format!(
                        "remote address ranges ({range}) are not supported by the IKE engine \
                         yet, expected single addresses or %any"
                    ),
                ));
            }
            PeerAddress::Hostname(name) => {
                let Some(resolve) = resolve else {
                    continue;
                };
                let addresses = resolve(name);
                if addresses.is_empty() {
                    return Err(Issue::new(
                        ErrorKind::ReferencedFile,
                        key.index(i),
                        format!("cannot resolve `{name}`, expected a name with an address"),
                    ));
                }
                out.extend(addresses);
            }
        }
    }
    if any && !out.is_empty() {
        return Err(unsupported(
            key.clone(),
            "%any together with addresses is not supported by the IKE engine yet, expected \
             either %any (responder for any peer) or addresses",
        ));
    }
    Ok(out)
}

fn map_identity(identity: &Identity, key: &KeyPath) -> Result<ike::Identity, Issue> {
    if identity.has_wildcard() {
        return Err(unsupported(
            key.clone(),
            format!("wildcard identities ({identity}) are not supported by the IKE engine yet"),
        ));
    }
    Ok(match identity {
        Identity::Ipv4(address) => ike::Identity::Ipv4(*address),
        Identity::Ipv6(address) => ike::Identity::Ipv6(*address),
        Identity::Fqdn(name) => ike::Identity::Fqdn(name.clone()),
        Identity::Email(address) => ike::Identity::Rfc822(address.clone()),
        Identity::KeyId(bytes) => ike::Identity::KeyId(bytes.clone()),
        Identity::Dn(_) | Identity::Any => {
            return Err(unsupported(
                key.clone(),
                "distinguished-name identities are not supported by the IKE engine yet",
            ));
        }
    })
}

fn map_ike_proposal(proposal: &IkeProposal, key: &KeyPath) -> Result<ike::IkeProposal, Issue> {
    if !proposal.additional_key_exchanges.is_empty() {
        return Err(unsupported(
            key.clone(),
            format!(
                "additional key exchanges (RFC 9370) in `{proposal}` are not supported by the \
                 IKE engine yet"
            ),
        ));
    }
    Ok(ike::IkeProposal {
        encryption: proposal.encryption.iter().map(map_encryption).collect(),
        integrity: proposal.integrity.clone(),
        prf: proposal.prf.clone(),
        key_exchange: proposal.key_exchange.clone(),
    })
}

fn map_esp_proposal(proposal: &EspProposal, key: &KeyPath) -> Result<ike::EspProposal, Issue> {
    if !proposal.additional_key_exchanges.is_empty() {
        return Err(unsupported(
            key.clone(),
            format!(
                "additional key exchanges (RFC 9370) in `{proposal}` are not supported by the \
                 IKE engine yet"
            ),
        ));
    }
    let esn = match proposal.esn.as_slice() {
        [EsnId::ESN] => ike::Esn::Yes,
        [EsnId::NO_ESN] => ike::Esn::No,
        _ => ike::Esn::Either,
    };
    Ok(ike::EspProposal {
        encryption: proposal.encryption.iter().map(map_encryption).collect(),
        integrity: proposal.integrity.clone(),
        key_exchange: proposal.key_exchange.clone(),
        esn,
    })
}

fn map_encryption(encryption: &crate::proposal::Encryption) -> ike::Encryption {
    ike::Encryption {
        id: encryption.id,
        key_bits: encryption.key_bits,
    }
}

fn map_child(
    child: &Child,
    connection: &Connection,
    remote_addrs: &[IpAddr],
    key: &KeyPath,
) -> Result<ike::ChildConfig, Issue> {
    let local_ts = selectors(
        &child.local_ts,
        single(&connection.local_addrs),
        &key.key("local_ts"),
    )?;
    let remote_ts = selectors(
        &child.remote_ts,
        single(remote_addrs),
        &key.key("remote_ts"),
    )?;
    let mut esp_proposals = Vec::new();
    for (i, proposal) in child.esp_proposals.iter().enumerate() {
        esp_proposals.push(map_esp_proposal(
            proposal,
            &key.key("esp_proposals").index(i),
        )?);
    }
    let defaults = ike::ChildConfig::tunnel(child.name.clone(), Vec::new(), Vec::new());
    Ok(ike::ChildConfig {
        name: child.name.clone(),
        local_ts,
        remote_ts,
        mode: child.mode,
        esp_proposals,
        start_action: match child.start_action {
            StartAction::None => ike::StartAction::None,
            StartAction::Start => ike::StartAction::Start,
            StartAction::Trap => ike::StartAction::Trap,
        },
        lifetime: ike::LifetimeConfig {
            rekey_time: child.time.rekey,
            jitter: child.time.jitter,
            life_time: child.time.life,
            soft: soft_limits(&child.bytes, &child.packets),
            hard: hitless_sadb::Limits {
                bytes: child.bytes.life,
                packets: child.packets.life,
            },
        },
        replay_window: child.replay_window,
        per_resource_sas: child.per_resource_sas.map(|p| match p {
            Parallelism::PerCpu => ike::PerResourceSas::Cpus,
            Parallelism::Fixed(n) => ike::PerResourceSas::Count(n.get()),
        }),
        ..defaults
    })
}

/// The soft (rekey) limits: the engine has no jitter for traffic limits, so the jitter is
/// applied here, halfway, to keep both peers from rekeying on the same packet.
fn soft_limits(bytes: &Limits<u64>, packets: &Limits<u64>) -> hitless_sadb::Limits {
    let soft = |limits: &Limits<u64>| limits.rekey.map(|r| r - limits.jitter / 2);
    hitless_sadb::Limits {
        bytes: soft(bytes),
        packets: soft(packets),
    }
}

/// Traffic selectors with `dynamic` resolved. The engine reads an empty list as "our (or the
/// peer's) outer address alone"; a `dynamic` with a protocol or port, or next to other
/// selectors, needs the address itself, which is known only when the side has exactly one.
fn selectors(
    specs: &[TsSpec],
    address: Option<IpAddr>,
    key: &KeyPath,
) -> Result<Vec<TrafficSelector>, Issue> {
    let plain_dynamic = |spec: &TsSpec| {
        spec.addresses == TsAddresses::Dynamic
            && spec.protocol == 0
            && spec.start_port == 0
            && spec.end_port == u16::MAX
    };
    if let [only] = specs
        && plain_dynamic(only)
    {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        match (spec.addresses, address) {
            (TsAddresses::Range { start, .. }, _) => out.push(spec.to_selector(start)),
            (TsAddresses::Dynamic, Some(address)) => out.push(spec.to_selector(address)),
            (TsAddresses::Dynamic, None) => {
                return Err(unsupported(
                    key.index(i),
                    format!(
                        "`{spec}` needs this side's address, which is not a single configured \
                         address; expected plain `dynamic` alone, or explicit subnets"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn single(addresses: &[IpAddr]) -> Option<IpAddr> {
    match addresses {
        [only] => Some(*only),
        _ => None,
    }
}

fn unsupported(key: KeyPath, message: impl Into<String>) -> Issue {
    Issue::new(ErrorKind::Unsupported, key, message)
}
