//! A simulated gateway: an IKE [`Endpoint`] with its SA backend, driven exactly as `hitlessd`
//! drives it (ARCHITECTURE.md §2.8): after every input the output queue is drained in order,
//! transmits go to the network, SA commands to the backend (a failure goes back to the engine
//! as [`BackendEvent::InstallFailed`]), events are recorded, and the next wake-up is
//! `poll_timeout()`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hitless_crypto::CryptoProvider;
use hitless_esp::DataPlane;
use hitless_esp::DataPlaneControl;
use hitless_ike::Endpoint;
use hitless_ike::Event;
use hitless_ike::IkeSpis;
use hitless_sadb::BackendError;
use hitless_sadb::BackendEvent;
use hitless_sadb::SaBackend;
use hitless_sadb::SaCommand;

use crate::mock_backend::MockBackend;
use crate::network::NodeId;
use crate::rng::SimRng;

/// How a node is built.
#[derive(Clone)]
pub struct NodeConfig {
    /// The engine's configuration.
    pub ike: Arc<hitless_ike::Config>,
    /// Which crypto provider the engine uses.
    pub crypto: CryptoChoice,
    /// Which SA backend the node has.
    pub data_plane: DataPlaneKind,
    /// The node's addresses; the first of a family is the default source address.
    pub addresses: Vec<IpAddr>,
    /// Settings of the userspace data plane (checkpoints), with [`DataPlaneKind::Userspace`].
    pub esp: hitless_esp::Config,
}

/// Which crypto provider a node uses.
#[derive(Clone)]
pub enum CryptoChoice {
    /// NO SECURITY: `hitless-crypto-insecure` seeded from the simulation seed and the node's
    /// name. Fast, and byte-for-byte deterministic. The default.
    Insecure,
    /// The production provider (aws-lc-rs) with a random source seeded like `Insecure`. SPIs
    /// and nonces repeat across runs; key-exchange values do not (aws-lc-rs draws elliptic-curve
    /// private keys itself), so message flows repeat but bytes differ. Captures made with it
    /// decrypt in Wireshark.
    AwsLc,
    /// A provider the test built.
    Provider(Arc<CryptoProvider>),
}

/// Which SA backend a node has.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum DataPlaneKind {
    /// [`MockBackend`]: records commands and keeps the SAD/SPD; no packets.
    #[default]
    Mock,
    /// The real userspace ESP data plane (`hitless-esp`), which flows go through. Commands are
    /// recorded as with `Mock` too.
    Userspace,
}

/// A node of the simulation.
pub struct Node {
    /// Its id.
    pub id: NodeId,
    /// Its name, as in transcripts.
    pub name: String,
    /// The IKE engine.
    pub ike: Endpoint,
    /// The SA backend.
    pub backend: Backend,
    /// The crypto provider its engine and data plane use.
    pub crypto: Arc<CryptoProvider>,
    /// Every event the engine emitted, with the virtual time.
    pub events: Vec<(Duration, Event)>,
    /// Every command the backend refused, with the virtual time and the reason.
    pub backend_errors: Vec<(Duration, SaCommand, BackendError)>,
    pub(crate) config: NodeConfig,
    pub(crate) crashed: bool,
    pub(crate) restarts: u32,
    /// IKE SAs reported deleted or failed (no transmit may follow for them).
    pub(crate) gone: BTreeSet<IkeSpis>,
}

/// A node's SA backend. Every command is recorded in [`Backend::state`], whatever the kind, so
/// that invariants and tests read one shape.
pub struct Backend {
    kind: DataPlaneKind,
    state: MockBackend,
    esp: Option<(Arc<DataPlane>, DataPlaneControl)>,
}

impl NodeConfig {
    /// A node with this engine config, the insecure provider, a mock backend and no address.
    pub fn new(ike: Arc<hitless_ike::Config>) -> Self {
        Self {
            ike,
            crypto: CryptoChoice::Insecure,
            data_plane: DataPlaneKind::Mock,
            addresses: Vec::new(),
            esp: hitless_esp::Config::default(),
        }
    }

    /// With this address added.
    #[must_use]
    pub fn address(mut self, address: IpAddr) -> Self {
        self.addresses.push(address);
        self
    }

    /// With this crypto provider.
    #[must_use]
    pub fn crypto(mut self, crypto: CryptoChoice) -> Self {
        self.crypto = crypto;
        self
    }

    /// With this backend.
    #[must_use]
    pub fn data_plane(mut self, data_plane: DataPlaneKind) -> Self {
        self.data_plane = data_plane;
        self
    }

    /// The crypto provider for a node named `name` in simulation `seed`, started `restarts`
    /// times before.
    pub(crate) fn provider(&self, seed: u64, name: &str, restarts: u32) -> Arc<CryptoProvider> {
        let mut rng = SimRng::new(seed, &format!("crypto {name} {restarts}"));
        let crypto_seed = rng.next_u64();
        match &self.crypto {
            CryptoChoice::Insecure => Arc::new(hitless_crypto_insecure::provider(crypto_seed)),
            CryptoChoice::AwsLc => {
                let random = hitless_crypto_insecure::provider(crypto_seed).random;
                Arc::new(CryptoProvider {
                    random,
                    ..hitless_crypto_awslc::provider()
                })
            }
            CryptoChoice::Provider(provider) => Arc::clone(provider),
        }
    }
}

impl Node {
    pub(crate) fn new(id: NodeId, name: &str, config: NodeConfig, seed: u64) -> Self {
        let crypto = config.provider(seed, name, 0);
        Self {
            id,
            name: name.to_owned(),
            ike: Endpoint::new(Arc::clone(&config.ike), Arc::clone(&crypto)),
            backend: Backend::new(&config, &crypto),
            crypto,
            events: Vec::new(),
            backend_errors: Vec::new(),
            config,
            crashed: false,
            restarts: 0,
            gone: BTreeSet::new(),
        }
    }

    /// Whether the node is crashed (it neither receives nor acts until restarted).
    pub fn is_crashed(&self) -> bool {
        self.crashed
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The source address for a datagram to `remote` when the engine leaves it open: the
    /// node's first address of the same family, port 500.
    pub(crate) fn default_local(&self, remote: SocketAddr) -> Option<SocketAddr> {
        self.config
            .addresses
            .iter()
            .find(|address| address.is_ipv4() == remote.is_ipv4())
            .map(|address| SocketAddr::new(*address, 500))
    }

    /// Events of one kind, for assertions: `node.events_matching(|e| matches!(e, Event::…))`.
    pub fn events_matching(&self, mut predicate: impl FnMut(&Event) -> bool) -> Vec<&Event> {
        self.events
            .iter()
            .map(|(_, event)| event)
            .filter(|event| predicate(event))
            .collect()
    }

    pub(crate) fn restart(&mut self, seed: u64) {
        self.restarts += 1;
        let crypto = self.config.provider(seed, &self.name, self.restarts);
        self.backend = Backend::new(&self.config, &crypto);
        self.ike = Endpoint::new(Arc::clone(&self.config.ike), Arc::clone(&crypto));
        self.crypto = crypto;
        self.crashed = false;
        self.gone.clear();
    }
}

impl Backend {
    fn new(config: &NodeConfig, crypto: &Arc<CryptoProvider>) -> Self {
        let esp = match config.data_plane {
            DataPlaneKind::Mock => None,
            DataPlaneKind::Userspace => Some(DataPlane::new(config.esp, Arc::clone(crypto))),
        };
        Self {
            kind: config.data_plane,
            state: MockBackend::new(),
            esp,
        }
    }

    /// The userspace data plane, with [`DataPlaneKind::Userspace`].
    pub fn data_plane(&self) -> Option<&Arc<DataPlane>> {
        self.esp.as_ref().map(|(plane, _)| plane)
    }

    /// Which kind of backend this is.
    pub fn kind(&self) -> DataPlaneKind {
        self.kind
    }

    /// The installed SAs, policies and routes, and the command history.
    pub fn state(&self) -> &MockBackend {
        &self.state
    }

    /// The recording backend, to script events and failures.
    pub fn state_mut(&mut self) -> &mut MockBackend {
        &mut self.state
    }

    pub(crate) fn apply(&mut self, now: Duration, command: &SaCommand) -> Result<(), BackendError> {
        self.state.set_now(now);
        if let Some((_, control)) = &mut self.esp {
            control.apply(command)?;
        }
        self.state.apply(command)
    }

    pub(crate) fn poll_event(&mut self) -> Option<BackendEvent> {
        if let Some(event) = self.esp.as_ref().and_then(|(plane, _)| plane.poll_event()) {
            return Some(event);
        }
        self.state.poll_event()
    }
}
