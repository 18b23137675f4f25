//! The per-packet operations (AEAD seal/open, CBC encrypt/decrypt, ICV sign/verify) allocate
//! nothing on the Rust heap once the key is expanded: the ESP data plane relies on it.

// A counting global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::GlobalAlloc;
use std::alloc::Layout;
use std::alloc::System;
use std::cell::Cell;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counter
// is a thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn per_packet_operations_do_not_allocate() {
    // The counter works: an allocation is seen.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![0u8; 64]))) > 0);
    let provider = hitless_crypto_awslc::provider();
    let mut packet = vec![0x42u8; 1400];
    let iv = [7u8; 8];
    for aead in &provider.aeads {
        let key = aead
            .new_key(&vec![1; aead.key_len() + aead.salt_len()])
            .unwrap();
        let mut tag = [0u8; 16];
        let count = allocations_during(|| {
            for _ in 0..100 {
                key.seal_in_place(&iv, b"spi+seq!", &mut packet, &mut tag)
                    .unwrap();
                key.open_in_place(&iv, b"spi+seq!", &mut packet, &tag)
                    .unwrap();
            }
        });
        assert_eq!(count, 0, "{aead:?} allocated");
    }
    for cipher in &provider.ciphers {
        let key = cipher.new_key(&vec![1; cipher.key_len()]).unwrap();
        let count = allocations_during(|| {
            for _ in 0..100 {
                key.encrypt_in_place(&[3; 16], &mut packet[..1392]).unwrap();
                key.decrypt_in_place(&[3; 16], &mut packet[..1392]).unwrap();
            }
        });
        assert_eq!(count, 0, "{cipher:?} allocated");
    }
    for integ in &provider.integs {
        let key = integ.new_key(&vec![1; integ.key_len()]).unwrap();
        let mut icv = [0u8; 32];
        let icv = &mut icv[..integ.icv_len()];
        let count = allocations_during(|| {
            for _ in 0..100 {
                key.sign(&[b"header", &packet], icv).unwrap();
                key.verify(&[b"header", &packet], icv).unwrap();
            }
        });
        assert_eq!(count, 0, "{integ:?} allocated");
    }
}
