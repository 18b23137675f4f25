//! `udpcmp`: UDP GSO send + GRO receive across a veth pair, hitless-sys against quinn-udp,
//! alternating in one run. Prints Gbit/s and CPU nanoseconds per 1400-byte datagram for the
//! sending and the receiving thread.
//!
//! Usage (root): `udpcmp [SECONDS] [ROUNDS]` (default 3 s, 3 rounds).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hitless_sys::netns::{NetNs, veth_pair};
use hitless_sys::{RecvBatch, UdpConfig, UdpSocket};
use quinn_udp::{RecvMeta, Transmit, UdpSocketState};

const SEG: usize = 1400;
const SEGS: usize = 46;

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    bytes: u64,
    datagrams: u64,
    sent: u64,
    send_cpu: f64,
    recv_cpu: f64,
    secs: f64,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().map_or(3, |s| s.parse().unwrap());
    let rounds: usize = args.next().map_or(3, |s| s.parse().unwrap());
    let pid = std::process::id();
    let a = NetNs::create(&format!("sys-udpcmp-{pid}-a")).unwrap();
    let b = NetNs::create(&format!("sys-udpcmp-{pid}-b")).unwrap();
    veth_pair((&a, "va", "10.243.0.1/24"), (&b, "vb", "10.243.0.2/24")).unwrap();
    let dst: SocketAddr = "10.243.0.2:4500".parse().unwrap();
    let src: SocketAddr = "10.243.0.1:4500".parse().unwrap();
    let mut ours = Vec::new();
    let mut quinn = Vec::new();
    for _ in 0..rounds {
        ours.push(run_hitless(&a, &b, src, dst, secs));
        quinn.push(run_quinn(&a, &b, src, dst, secs));
    }
    println!(
        "| implementation | received Gbit/s (median) | loss | send ns CPU/datagram | recv ns CPU/datagram |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for (name, s) in [("hitless-sys", &ours), ("quinn-udp 0.6", &quinn)] {
        let med = |f: &dyn Fn(&Sample) -> f64| {
            let mut v: Vec<f64> = s.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "| {name} | {:.2} | {:.1}% | {:.0} | {:.0} |",
            med(&|x| x.bytes as f64 * 8.0 / x.secs / 1e9),
            med(&|x| 100.0 * (1.0 - x.datagrams as f64 / x.sent.max(1) as f64)),
            med(&|x| x.send_cpu * 1e9 / x.sent.max(1) as f64),
            med(&|x| x.recv_cpu * 1e9 / x.datagrams.max(1) as f64),
        );
    }
}

/// User+system CPU seconds of the calling thread.
fn thread_cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name.
    (f[11] + f[12]) as f64 / 100.0
}

fn run_hitless(a: &NetNs, b: &NetNs, src: SocketAddr, dst: SocketAddr, secs: u64) -> Sample {
    // Default socket buffers for both implementations (quinn-udp cannot force larger ones).
    let cfg = |addr| UdpConfig {
        gro: true,
        ..UdpConfig::new(addr)
    };
    let tx = a.run(|| UdpSocket::bind(&cfg(src)).unwrap()).unwrap();
    let rx = b.run(|| UdpSocket::bind(&cfg(dst)).unwrap()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let d = Arc::clone(&done);
    let receiver = std::thread::spawn(move || {
        let mut batch = RecvBatch::new(8, 65_535);
        let c0 = thread_cpu();
        let (mut bytes, mut dgrams) = (0u64, 0u64);
        loop {
            if !rx.wait_readable(200).unwrap() {
                if d.load(Ordering::Relaxed) {
                    break;
                }
                continue;
            }
            rx.recv_batch(&mut batch).unwrap();
            for m in batch.received() {
                bytes += m.data.len() as u64;
                dgrams += m.data.len().div_ceil(m.segment_size.max(1)) as u64;
            }
        }
        (bytes, dgrams, thread_cpu() - c0)
    });
    let buf = vec![0x5au8; SEG * SEGS];
    let mut sent = 0u64;
    let t0 = Instant::now();
    let c0 = thread_cpu();
    while t0.elapsed() < Duration::from_secs(secs) {
        if tx.send_gso(&buf, SEG, Some(dst)).is_ok() {
            sent += SEGS as u64;
        }
    }
    let send_cpu = thread_cpu() - c0;
    let secs = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let (bytes, datagrams, recv_cpu) = receiver.join().unwrap();
    Sample {
        bytes,
        datagrams,
        sent,
        send_cpu,
        recv_cpu,
        secs,
    }
}

fn run_quinn(a: &NetNs, b: &NetNs, src: SocketAddr, dst: SocketAddr, secs: u64) -> Sample {
    let tx = a.run(|| StdUdp::bind(src).unwrap()).unwrap();
    let rx = b.run(|| StdUdp::bind(dst).unwrap()).unwrap();
    let tx_state = UdpSocketState::new((&tx).into()).unwrap();
    let rx_state = UdpSocketState::new((&rx).into()).unwrap();
    assert!(
        rx_state.gro_segments() > 1 && tx_state.max_gso_segments() > 1,
        "quinn-udp without GSO/GRO"
    );
    rx.set_nonblocking(true).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let d = Arc::clone(&done);
    let receiver = std::thread::spawn(move || {
        let mut storage = vec![0u8; 8 * 65_535];
        let mut meta = [RecvMeta::default(); 8];
        let c0 = thread_cpu();
        let (mut bytes, mut dgrams) = (0u64, 0u64);
        // quinn-udp calls recvmmsg without MSG_WAITFORONE and expects a non-blocking socket
        // driven by readiness (an async runtime): give it exactly that, with poll.
        let mut bufs: Vec<IoSliceMut<'_>> =
            storage.chunks_mut(65_535).map(IoSliceMut::new).collect();
        loop {
            if !hitless_sys::wait_readable(std::os::fd::AsFd::as_fd(&rx), 200).unwrap() {
                if d.load(Ordering::Relaxed) {
                    break;
                }
                continue;
            }
            match rx_state.recv((&rx).into(), &mut bufs, &mut meta) {
                Ok(n) => {
                    for m in &meta[..n] {
                        bytes += m.len as u64;
                        dgrams += m.len.div_ceil(m.stride.max(1)) as u64;
                    }
                }
                Err(_) if d.load(Ordering::Relaxed) => break,
                Err(_) => {}
            }
        }
        (bytes, dgrams, thread_cpu() - c0)
    });
    let buf = vec![0x5au8; SEG * SEGS];
    let t = Transmit {
        destination: dst,
        ecn: None,
        contents: &buf,
        segment_size: Some(SEG),
        src_ip: None,
    };
    let mut sent = 0u64;
    let t0 = Instant::now();
    let c0 = thread_cpu();
    while t0.elapsed() < Duration::from_secs(secs) {
        if tx_state.try_send((&tx).into(), &t).is_ok() {
            sent += SEGS as u64;
        }
    }
    let send_cpu = thread_cpu() - c0;
    let secs = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let (bytes, datagrams, recv_cpu) = receiver.join().unwrap();
    Sample {
        bytes,
        datagrams,
        sent,
        send_cpu,
        recv_cpu,
        secs,
    }
}
