//! The per-packet path allocates nothing: encapsulate and decapsulate (and the batch API) are
//! run under a counting global allocator after a warm-up.
// A counting global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code, clippy::unwrap_used)]

mod common;

use std::alloc::GlobalAlloc;
use std::alloc::Layout;
use std::alloc::System;
use std::cell::Cell;

use common::*;
use hitless_esp::HEADROOM;
use hitless_sadb::Mode;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn encapsulate_and_decapsulate_do_not_allocate() {
    for suite in Suite::ALL {
        for mode in [Mode::Tunnel, Mode::Transport] {
            let mut setup = Setup::new(suite);
            setup.mode = mode;
            setup.esn = true;
            let pair = Pair::new(setup.clone());
            let packet = match mode {
                Mode::Tunnel => a_to_b(1000),
                Mode::Transport => udp4("192.0.2.1", "198.51.100.2", (500, 500), 1000),
            };
            let mut out = Buf::with(&packet);
            let mut back = vec![0u8; out.bytes.len() + 64];
            let round_trip = |out: &mut Buf, back: &mut Vec<u8>| {
                out.bytes[HEADROOM..HEADROOM + packet.len()].copy_from_slice(&packet);
                let sealed = pair
                    .a
                    .plane
                    .encapsulate(None, &mut out.bytes, HEADROOM, packet.len())
                    .unwrap();
                let len = sealed.bytes.len();
                back[64..64 + len].copy_from_slice(sealed.bytes);
                let opened = pair.b.plane.decapsulate(back, 64, len).unwrap();
                assert_eq!(opened.inner.len(), packet.len());
            };
            // Warm-up: lazily initialised thread-locals of the libraries.
            for _ in 0..4 {
                round_trip(&mut out, &mut back);
            }
            let before = allocations();
            for _ in 0..200 {
                round_trip(&mut out, &mut back);
            }
            assert_eq!(allocations() - before, 0, "{suite:?} {mode:?}");
            // Drops allocate nothing either.
            let before = allocations();
            for _ in 0..50 {
                assert!(pair.b.plane.decapsulate(&mut back, 64, 40).is_err());
            }
            assert_eq!(allocations() - before, 0, "{suite:?} {mode:?} drops");
        }
    }
}
