//! Shared set-up for the namespace tests: privilege checks that fail loudly, two namespaces
//! joined by veth, and a TUN<->UDP relay built from hitless-sys with counters.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use hitless_sys::netlink::{Netlink, Prefix, ifindex};
use hitless_sys::netns::{NetNs, veth_pair};
use hitless_sys::offload::{Coalescer, Segments};
use hitless_sys::vnet::{GsoType, VNET_HDR_LEN, VirtioNetHdr};
use hitless_sys::{GsoBatch, RecvBatch, TunConfig, TunDevice, TunQueue, UdpConfig, UdpSocket};

pub const UL_A: &str = "10.241.0.1";
pub const UL_B: &str = "10.241.0.2";
pub const UL6_A: &str = "fd00:241::1";
pub const UL6_B: &str = "fd00:241::2";

/// Fails the test (never skips it) when it cannot run here.
pub fn require_privileges() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    assert_eq!(
        uid, "0",
        "hitless-sys namespace tests need root (network namespaces, TUN, raw sockets); \
         run them as root, e.g. `sudo -E cargo test -p hitless-sys`"
    );
    assert!(
        Path::new("/dev/net/tun").exists(),
        "no /dev/net/tun: this kernel has no TUN support (modprobe tun)"
    );
    assert!(
        Command::new("ip")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success()),
        "iproute2's `ip` is missing (apt-get install iproute2)"
    );
}

/// Two namespaces `sys-<tag>-<pid>-a/b` joined by veth `va`/`vb` with IPv4 and IPv6 addresses.
pub struct Underlay {
    pub a: NetNs,
    pub b: NetNs,
}

pub fn underlay(tag: &str) -> Underlay {
    require_privileges();
    let pid = std::process::id();
    let a = NetNs::create(&format!("sys-{tag}-{pid}-a")).unwrap();
    let b = NetNs::create(&format!("sys-{tag}-{pid}-b")).unwrap();
    veth_pair(
        (&a, "va", &format!("{UL_A}/24")),
        (&b, "vb", &format!("{UL_B}/24")),
    )
    .unwrap();
    a.ip(&["addr", "add", &format!("{UL6_A}/64"), "dev", "va", "nodad"])
        .unwrap();
    b.ip(&["addr", "add", &format!("{UL6_B}/64"), "dev", "vb", "nodad"])
        .unwrap();
    Underlay { a, b }
}

#[derive(Debug, Default)]
pub struct Stats {
    pub tun_reads: AtomicU64,
    pub super_packets: AtomicU64,
    pub segments_sent: AtomicU64,
    pub segments_received: AtomicU64,
    pub tun_writes: AtomicU64,
    pub coalesced_writes: AtomicU64,
    pub drops: AtomicU64,
}

pub struct Relay {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub stats: Arc<Stats>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Opens a TUN device `tun0` in `ns` with `overlay` (and an IPv6 overlay address), MTU 1420,
/// and a UDP socket on `local:port`; relays between them and `peer`.
pub fn relay(
    ns: &NetNs,
    overlay: (&str, &str),
    local: SocketAddr,
    peer: SocketAddr,
    offload: bool,
) -> Relay {
    let (tun, udp) = ns
        .run(|| {
            let dev = TunDevice::open(&TunConfig {
                name: "tun0".into(),
                queues: 1,
                offloads: offload,
            })
            .unwrap();
            if offload {
                let o = dev.offloads();
                assert!(o.vnet_hdr && o.csum && o.tso4 && o.tso6, "offloads: {o:?}");
            }
            let mut nl = Netlink::open().unwrap();
            let index = ifindex(dev.name()).unwrap();
            for a in [overlay.0, overlay.1] {
                let (ip, len) = a.split_once('/').unwrap();
                nl.add_address(
                    index,
                    Prefix {
                        addr: ip.parse().unwrap(),
                        len: len.parse().unwrap(),
                    },
                )
                .unwrap();
            }
            nl.set_link(index, true, Some(1420)).unwrap();
            let udp = UdpSocket::bind(&UdpConfig {
                gro: offload,
                reuse_port: true,
                buffer_size: Some(4 << 20),
                ..UdpConfig::new(local)
            })
            .unwrap();
            if !offload {
                udp.disable_gso();
            }
            (dev.into_queues().remove(0), udp)
        })
        .unwrap();
    let tun = Arc::new(tun);
    let udp = Arc::new(udp);
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Stats::default());
    let mut threads = Vec::new();
    {
        let (tun, udp, stop, stats) = (
            Arc::clone(&tun),
            Arc::clone(&udp),
            Arc::clone(&stop),
            Arc::clone(&stats),
        );
        threads.push(std::thread::spawn(move || {
            encap(&tun, &udp, peer, &stop, &stats)
        }));
    }
    {
        let (stop, stats) = (Arc::clone(&stop), Arc::clone(&stats));
        threads.push(std::thread::spawn(move || decap(&tun, &udp, &stop, &stats)));
    }
    Relay {
        stop,
        threads,
        stats,
    }
}

fn encap(tun: &TunQueue, udp: &UdpSocket, peer: SocketAddr, stop: &AtomicBool, st: &Stats) {
    let mut rd = vec![0u8; VNET_HDR_LEN + 65_535];
    let mut batch = GsoBatch::new(2 * 65_536);
    while !stop.load(Ordering::Relaxed) {
        if !tun.wait_readable(50).unwrap() {
            continue;
        }
        let n = tun.read(&mut rd).unwrap();
        st.tun_reads.fetch_add(1, Ordering::Relaxed);
        let (vnet, pkt) = if tun.has_vnet_hdr() {
            (
                VirtioNetHdr::decode(&rd[..n]).unwrap(),
                &rd[VNET_HDR_LEN..n],
            )
        } else {
            (VirtioNetHdr::PLAIN, &rd[..n])
        };
        if vnet.gso_type != GsoType::None {
            st.super_packets.fetch_add(1, Ordering::Relaxed);
        }
        let Ok(mut segs) = Segments::new(&vnet, pkt) else {
            st.drops.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let f = batch.fill_from(
            &mut segs,
            0,
            0,
            |_, l| Some(l),
            |b| {
                udp.send_batch(b, Some(peer)).unwrap();
                b.clear();
            },
        );
        st.segments_sent
            .fetch_add(f.committed as u64, Ordering::Relaxed);
        st.drops.fetch_add(f.dropped as u64, Ordering::Relaxed);
        udp.send_batch(&batch, Some(peer)).unwrap();
        batch.clear();
    }
}

fn decap(tun: &TunQueue, udp: &UdpSocket, stop: &AtomicBool, st: &Stats) {
    let mut rx = RecvBatch::new(8, 65_535);
    let mut co = Coalescer::new();
    while !stop.load(Ordering::Relaxed) {
        if !udp.wait_readable(50).unwrap() {
            continue;
        }
        udp.recv_batch(&mut rx).unwrap();
        for m in rx.received() {
            assert!(!m.truncated);
            for seg in RecvBatch::segments(m) {
                st.segments_received.fetch_add(1, Ordering::Relaxed);
                if tun.has_vnet_hdr() {
                    co.push(rx.buf(), seg);
                } else {
                    tun.write_packet(&VirtioNetHdr::PLAIN, &rx.buf()[seg])
                        .unwrap();
                    st.tun_writes.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        co.flush(rx.buf(), |iov| {
            st.tun_writes.fetch_add(1, Ordering::Relaxed);
            if VirtioNetHdr::decode(&iov[0]).is_some_and(|v| v.gso_type != GsoType::None) {
                st.coalesced_writes.fetch_add(1, Ordering::Relaxed);
            }
            tun.write_vectored(iov).map(|_| ())
        })
        .unwrap();
    }
}

/// Pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect()
}

pub fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse::<IpAddr>().unwrap(), port)
}
