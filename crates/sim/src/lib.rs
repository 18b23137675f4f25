//! Deterministic network simulation for hitless (ARCHITECTURE.md §2.9).
//!
//! Everything runs on a virtual clock from one `u64` seed: the same seed gives the same run,
//! byte for byte, so a failing seed is a reproducible bug report. The pieces:
//!
//! - [`Network`]: nodes' addresses, directed links with netem-like impairments ([`LinkParams`]:
//!   delay, jitter, random or Gilbert–Elliott burst [`Loss`], duplication, reordering, MTU),
//!   partitions, NATs, and message-level stepping (hold, deliver next, drop next).
//! - [`MockBackend`]: a recording SA backend for engine-level scenarios.
//! - [`Transcript`]: one line per IKE message and what the network did with it.
//! - [`pcap`] and [`Sim::write_keylog`]: a capture of the run and the Wireshark tables that
//!   decrypt it (formatted by [`hitless_sadb::keylog`], as hitlessd's `[debug] wireshark_keylog`).
//! - [`seeds()`]: the seed range of seed-looping scenarios (`SIM_SEEDS`).

pub mod flow;
mod ike_view;
pub mod invariant;
pub mod link;
pub mod memory;
pub mod mock_backend;
pub mod nat;
pub mod network;
pub mod node;
pub mod pcap;
pub mod rng;
pub mod scenario;
pub mod seeds;
pub mod sim;
pub mod transcript;

pub use flow::Flow;
pub use flow::FlowId;
pub use flow::FlowStats;
pub use invariant::Invariant;
pub use invariant::Violation;
pub use link::DropCause;
pub use link::LinkParams;
pub use link::LinkStats;
pub use link::Loss;
pub use mock_backend::MockBackend;
pub use nat::Nat;
pub use network::Arrival;
pub use network::FlowTag;
pub use network::Network;
pub use network::NodeId;
pub use network::Packet;
pub use network::SendOutcome;
pub use network::Transport;
pub use node::Backend;
pub use node::CryptoChoice;
pub use node::DataPlaneKind;
pub use node::Node;
pub use node::NodeConfig;
pub use rng::SimRng;
pub use seeds::check_seed_list;
pub use seeds::check_seeds;
pub use seeds::seeds;
pub use seeds::seeds_or;
pub use sim::CaptureMode;
pub use sim::FlowError;
pub use sim::Sim;
pub use sim::Stalled;
pub use sim::Step;
pub use transcript::Fate;
pub use transcript::Transcript;
