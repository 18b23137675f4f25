//! Engine memory per IKE SA (issue 4's target: ≤ 4 KiB per established IKE SA with one Child
//! SA): a heap-counting allocator, and the run both the benchmark (`benches/memory.rs`, 100,000
//! SAs) and the regression test (`tests/memory_per_ike_sa.rs`, fewer) measure.
//!
//! A binary that measures installs the allocator itself:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: hitless_sim::memory::CountingAllocator = hitless_sim::memory::CountingAllocator;
//! ```

#![allow(unsafe_code)] // a global allocator is an unsafe trait

use std::alloc::GlobalAlloc;
use std::alloc::Layout;
use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::AtomicIsize;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hitless_ike::Endpoint;
use hitless_ike::Event;

use crate::link::LinkParams;
use crate::network::NodeId;
use crate::node::CryptoChoice;
use crate::node::NodeConfig;
use crate::scenario;
use crate::sim::CaptureMode;
use crate::sim::Sim;
use crate::sim::Stalled;

/// The system allocator, counting the bytes live on the heap (sizes as requested).
pub struct CountingAllocator;

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Bytes live on the heap, as counted by [`CountingAllocator`] (zero where it is not the global
/// allocator).
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed through unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed through unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is passed through unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Gateways A (initiator) and B (responder) after A established `count` IKE SAs with one
/// Child SA each to B, initiated in batches of 1,000.
pub struct ManySas {
    /// The simulation.
    pub sim: Sim,
    /// The initiator.
    pub initiator: NodeId,
    /// The responder.
    pub responder: NodeId,
}

/// Establishes `count` IKE SAs between two gateways with `crypto`: no liveness checks, rekeys
/// or INITIAL_CONTACT (which would make the responder delete the earlier SAs of the same peer,
/// RFC 7296 §2.4), no half-open limits, no transcript, capture or invariant checks (they would
/// be measured too).
pub fn establish_many(count: usize, crypto: CryptoChoice) -> Result<ManySas, Stalled> {
    let mut sim = Sim::new(1);
    sim.set_checks(false);
    sim.set_transcript(false);
    sim.set_capture(CaptureMode::Off);
    let mut a = scenario::config_a();
    a.connections[0].initial_contact = false;
    let mut b = scenario::config_b();
    for config in [&mut a, &mut b] {
        config.connections[0].dpd_delay = None;
    }
    // A thousand IKE_SA_INIT requests at once from one address is what the responder's DoS
    // protection (RFC 8019) throttles: cookies and five half-open SAs per source would spread
    // a batch over retransmissions for minutes of virtual time. The measurement is of
    // established SAs, so those limits are lifted.
    b.half_open.cookie_threshold = u32::MAX;
    b.half_open.max_per_source = u32::MAX;
    b.half_open.max_total = u32::MAX;
    let node = |config, address| {
        NodeConfig::new(Arc::new(config))
            .address(address)
            .crypto(crypto.clone())
    };
    let initiator = sim.add_node("a", node(a, scenario::GW_A));
    let responder = sim.add_node("b", node(b, scenario::GW_B));
    sim.link(
        initiator,
        responder,
        LinkParams::default(),
        LinkParams::default(),
    );
    let batch = 1000;
    let mut initiated = 0;
    // Installed Child SAs seen so far per node, and how far the event logs were scanned.
    let mut installed = [0usize; 2];
    let mut scanned = [0usize; 2];
    while initiated < count {
        for _ in 0..batch.min(count - initiated) {
            sim.initiate(initiator, "gw")
                .map_err(|e| sim.failure(format!("initiate: {e}")))?;
            initiated += 1;
        }
        let target = initiated;
        sim.run_until(Duration::from_secs(60), |sim| {
            for (i, node) in [initiator, responder].into_iter().enumerate() {
                let events = &sim.node_ref(node).events;
                installed[i] += events[scanned[i]..]
                    .iter()
                    .filter(|(_, e)| matches!(e, Event::ChildSaInstalled { .. }))
                    .count();
                scanned[i] = events.len();
            }
            installed[0] >= target && installed[1] >= target
        })?;
    }
    if installed != [count, count] {
        return Err(sim.failure(format!(
            "installed {installed:?} Child SAs for {count} IKE SAs"
        )));
    }
    Ok(ManySas {
        sim,
        initiator,
        responder,
    })
}

/// Takes `node`'s endpoint out of the simulation (an empty one takes its place), for the
/// caller to drop and count what that frees.
pub fn take_endpoint(sim: &mut Sim, node: NodeId) -> Endpoint {
    let crypto = Arc::clone(&sim.node_ref(node).crypto);
    let config = Arc::clone(&sim.node_ref(node).config().ike);
    std::mem::replace(&mut sim.node(node).ike, Endpoint::new(config, crypto))
}

/// Heap bytes per IKE SA held by `node`'s endpoint: what dropping it frees, divided by its IKE
/// SAs. Meaningful only where [`CountingAllocator`] is the global allocator.
pub fn bytes_per_ike_sa(sim: &mut Sim, node: NodeId) -> (usize, isize) {
    let before = live_bytes();
    let endpoint = take_endpoint(sim, node);
    let count = endpoint.ike_sas().count();
    drop(endpoint);
    let freed = before - live_bytes();
    (count, freed / count.max(1) as isize)
}
