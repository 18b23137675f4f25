//! Engine memory per established IKE SA with one Child SA: a responder establishes `COUNT`
//! (default 100,000) IKE SAs with an initiator in the simulator, then the responder's endpoint
//! is dropped and the heap it held is measured with a counting allocator. Same for the
//! initiator. Target (issue 4): ≤ 4 KiB per IKE SA with one Child SA.
//!
//! `cargo bench -p hitless-sim --bench memory` (set `COUNT` to change the number).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]
#![allow(unsafe_code)] // the counting allocator

use std::alloc::GlobalAlloc;
use std::alloc::Layout;
use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::AtomicIsize;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use hitless_ike::Endpoint;
use hitless_ike::Event;
use hitless_sim::CaptureMode;
use hitless_sim::CryptoChoice;
use hitless_sim::LinkParams;
use hitless_sim::NodeConfig;
use hitless_sim::Sim;
use hitless_sim::scenario;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
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

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let count: usize = std::env::var("COUNT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let started = Instant::now();
    let mut sim = Sim::new(1);
    sim.set_checks(false);
    sim.set_transcript(false);
    sim.set_capture(CaptureMode::Off);
    let mut a = scenario::config_a();
    // Each initiation is a new IKE SA of the same peer: INITIAL_CONTACT would make the
    // responder delete the earlier ones (RFC 7296 §2.4). No liveness checks or rekeys during the
    // measurement.
    a.connections[0].initial_contact = false;
    let mut b = scenario::config_b();
    for config in [&mut a, &mut b] {
        config.connections[0].dpd_delay = None;
    }
    // CRYPTO=insecure measures with the simulator's provider, whose keys are plain bytes: the
    // difference is what the production provider's expanded key schedules take.
    let crypto = match std::env::var("CRYPTO").as_deref() {
        Ok("insecure") => CryptoChoice::Insecure,
        _ => CryptoChoice::AwsLc,
    };
    let node = |config, address| {
        NodeConfig::new(Arc::new(config))
            .address(address)
            .crypto(crypto.clone())
    };
    let a = sim.add_node("a", node(a, scenario::GW_A));
    let b = sim.add_node("b", node(b, scenario::GW_B));
    sim.link(a, b, LinkParams::default(), LinkParams::default());
    let batch = 1000;
    let mut initiated = 0;
    // Installed Child SAs seen so far per node, and how far the event logs were scanned.
    let mut installed = [0usize; 2];
    let mut scanned = [0usize; 2];
    while initiated < count {
        for _ in 0..batch.min(count - initiated) {
            sim.initiate(a, "gw").unwrap();
            initiated += 1;
        }
        let target = initiated;
        sim.run_until(Duration::from_secs(60), |sim| {
            for (i, node) in [a, b].into_iter().enumerate() {
                let events = &sim.node_ref(node).events;
                installed[i] += events[scanned[i]..]
                    .iter()
                    .filter(|(_, e)| matches!(e, Event::ChildSaInstalled { .. }))
                    .count();
                scanned[i] = events.len();
            }
            installed[0] >= target && installed[1] >= target
        })
        .unwrap();
    }
    assert_eq!(installed, [count, count]);
    let elapsed = started.elapsed();
    for (name, id) in [("responder", b), ("initiator", a)] {
        // What one SA's exported state holds in variable-size parts, as a hint of where the
        // bytes go (the engine's internal layout may differ).
        let node = sim.node_ref(id);
        let first = node.ike.ike_sas().next().map(|info| info.id).unwrap();
        let snapshot = node.ike.export(sim.instant(), first).unwrap();
        let keys = &snapshot.keys;
        let key_bytes: usize = [
            &keys.sk_d,
            &keys.sk_ai,
            &keys.sk_ar,
            &keys.sk_ei,
            &keys.sk_er,
            &keys.sk_pi,
            &keys.sk_pr,
        ]
        .iter()
        .map(|key| key.len())
        .sum();
        let cached = snapshot
            .window
            .last_response
            .as_ref()
            .map_or(0, |m| m.message.len());
        let outstanding = snapshot
            .window
            .outstanding
            .as_ref()
            .map_or(0, |m| m.message.len());
        println!(
            "{name}: exported IKE SA holds {key_bytes} key bytes, a cached response of {cached} \
             bytes, an outstanding request of {outstanding} bytes, {} Child SA(s)",
            snapshot.children.len()
        );
        let before = LIVE.load(Ordering::Relaxed);
        let crypto = Arc::clone(&sim.node_ref(id).crypto);
        let config = Arc::clone(&sim.node_ref(id).config().ike);
        let engine = std::mem::replace(&mut sim.node(id).ike, Endpoint::new(config, crypto));
        assert_eq!(engine.ike_sas().count(), count);
        drop(engine);
        let freed = before - LIVE.load(Ordering::Relaxed);
        println!(
            "{name}: {count} IKE SAs with one Child SA each: {} bytes, {} bytes per IKE SA",
            freed,
            freed / count as isize
        );
    }
    println!("established {count} IKE SAs in {elapsed:?} (simulated)");
}
