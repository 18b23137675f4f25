//! The file's schema as serde structs: every key optional where the file may omit it, unknown
//! keys refused. Leaf values (durations, proposals, identities, selectors) are already parsed
//! here so that their errors carry the value's position; defaults and rules that involve several
//! keys are applied by [`crate::convert`].

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use serde::Deserializer;
use serde::de;
use serde::de::IntoDeserializer;

use crate::identity::Identity;
use crate::model::Backend;
use crate::model::DpdAction;
use crate::model::LogLevel;
use crate::model::PeerAddress;
use crate::model::StartAction;
use crate::model::UdpEncap;
use crate::proposal::Entry;
use crate::proposal::EspProposal;
use crate::proposal::IkeProposal;
use crate::text::string_enum;
use crate::ts::AddressRange;
use crate::ts::TsSpec;
use crate::units::ByteCount;
use crate::units::ConfigDuration;
use crate::units::CpuCount;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) daemon: RawDaemon,
    #[serde(default)]
    pub(crate) data_plane: RawDataPlane,
    #[serde(default)]
    pub(crate) ike: RawIke,
    #[serde(default)]
    pub(crate) debug: RawDebug,
    pub(crate) ha: Option<RawHa>,
    #[serde(default)]
    pub(crate) pools: Named<RawPool>,
    #[serde(default)]
    pub(crate) connections: Named<RawConnection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    pub(crate) control_socket: Option<PathBuf>,
    pub(crate) log_level: Option<LogLevel>,
    pub(crate) metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDataPlane {
    pub(crate) backend: Option<Backend>,
    pub(crate) workers: Option<CpuCount>,
    pub(crate) tun_name: Option<String>,
    pub(crate) mtu: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIke {
    pub(crate) port: Option<u16>,
    pub(crate) nat_t_port: Option<u16>,
    pub(crate) retransmit_tries: Option<u32>,
    pub(crate) retransmit_timeout: Option<ConfigDuration>,
    pub(crate) retransmit_base: Option<f64>,
    pub(crate) retransmit_jitter: Option<u8>,
    pub(crate) retransmit_limit: Option<ConfigDuration>,
    pub(crate) cookie_threshold: Option<u32>,
    pub(crate) block_threshold: Option<u32>,
    pub(crate) init_limit_half_open: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDebug {
    pub(crate) wireshark_keylog: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHa {
    pub(crate) node: String,
    pub(crate) peer: IpAddr,
    pub(crate) local: Option<IpAddr>,
    pub(crate) sync_port: Option<u16>,
    pub(crate) secret_file: PathBuf,
    pub(crate) checkpoint_packets: Option<u64>,
    pub(crate) checkpoint_interval: Option<ConfigDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub(crate) addrs: AddressRange,
    #[serde(default)]
    pub(crate) dns: Vec<IpAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConnection {
    pub(crate) version: Option<u8>,
    pub(crate) local_addrs: Option<OneOrMany<PeerAddress>>,
    pub(crate) remote_addrs: OneOrMany<PeerAddress>,
    pub(crate) local_port: Option<u16>,
    pub(crate) remote_port: Option<u16>,
    pub(crate) local_id: Option<Identity>,
    pub(crate) remote_id: Option<Identity>,
    pub(crate) psk: Option<String>,
    pub(crate) psk_file: Option<PathBuf>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) private_key: Option<PathBuf>,
    pub(crate) cacerts: Option<OneOrMany<PathBuf>>,
    pub(crate) proposals: Option<OneOrMany<Entry<IkeProposal>>>,
    pub(crate) dpd_delay: Option<ConfigDuration>,
    pub(crate) rekey_time: Option<ConfigDuration>,
    pub(crate) reauth_time: Option<ConfigDuration>,
    pub(crate) life_time: Option<ConfigDuration>,
    pub(crate) rand_time: Option<ConfigDuration>,
    pub(crate) keyingtries: Option<u32>,
    pub(crate) udp_encap: Option<UdpEncap>,
    pub(crate) fragmentation: Option<bool>,
    pub(crate) rfc6311: Option<bool>,
    pub(crate) pools: Option<OneOrMany<String>>,
    #[serde(default)]
    pub(crate) children: Named<RawChild>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChild {
    pub(crate) local_ts: Option<OneOrMany<TsSpec>>,
    pub(crate) remote_ts: Option<OneOrMany<TsSpec>>,
    pub(crate) mode: Option<RawMode>,
    pub(crate) start_action: Option<StartAction>,
    pub(crate) dpd_action: Option<DpdAction>,
    pub(crate) esp_proposals: Option<OneOrMany<Entry<EspProposal>>>,
    pub(crate) rekey_time: Option<ConfigDuration>,
    pub(crate) life_time: Option<ConfigDuration>,
    pub(crate) rand_time: Option<ConfigDuration>,
    pub(crate) rekey_bytes: Option<ByteCount>,
    pub(crate) life_bytes: Option<ByteCount>,
    pub(crate) rand_bytes: Option<ByteCount>,
    pub(crate) rekey_packets: Option<u64>,
    pub(crate) life_packets: Option<u64>,
    pub(crate) rand_packets: Option<u64>,
    pub(crate) replay_window: Option<u32>,
    pub(crate) per_resource_sas: Option<CpuCount>,
}

/// `mode` as written.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RawMode {
    Transport,
    Tunnel,
}

string_enum!(pub(crate) RawMode {
    Tunnel = "tunnel",
    Transport = "transport",
});

/// A table of named entries (`[connections.NAME]`), in file order.
#[derive(Debug)]
pub(crate) struct Named<T>(pub(crate) Vec<(String, T)>);

/// A single value or an array of them (`remote_addrs = "192.0.2.1"` or `["a", "b"]`).
#[derive(Debug)]
pub(crate) struct OneOrMany<T>(pub(crate) Vec<T>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Visitor<T> {
            type Value = Named<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of named entries")
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Named<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, T>()? {
                    entries.push((name, value));
                }
                Ok(Named(entries))
            }
        }

        deserializer.deserialize_map(Visitor(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Visitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<OneOrMany<T>, E> {
                T::deserialize(value.into_deserializer()).map(|one| OneOrMany(vec![one]))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany<T>, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element()? {
                    values.push(value);
                }
                Ok(OneOrMany(values))
            }
        }

        deserializer.deserialize_any(Visitor(PhantomData))
    }
}
