//! OS adapters for hitless: TUN devices with offloads, UDP and raw ESP sockets with batching
//! and GSO/GRO, routes and addresses over rtnetlink, and network-namespace helpers for tests.
//!
//! This is one of the two crates allowed `unsafe` (for system calls); each module that needs
//! it says so with `#[allow(unsafe_code)]`, and every block carries a `// SAFETY:` comment.
//! The packet-processing parts ([`checksum`], [`vnet`], [`offload`]) are pure and tested
//! without a kernel. See `docs/design/io.md` for how the data-plane workers use these pieces.

pub mod checksum;
pub mod offload;
pub mod vnet;
