//! `tunrelay`: a TUN<->UDP relay with no crypto, built on hitless-sys — the Rust counterpart of
//! the anchors' `tunudp -g`, and the I/O ceiling of hitless's ESP data plane.
//!
//! Each inner IP packet becomes one UDP datagram to the peer (as ESP-in-UDP would, minus ESP).
//! With offloads (the default) the TUN device hands over TCP super-packets that are segmented
//! in userspace and sent with UDP GSO, and received UDP GRO batches are coalesced back into
//! super-packets for the TUN. `--no-offload` reads and writes one packet at a time (batched
//! with `sendmmsg`/`recvmmsg`, no GSO/GRO).
//!
//! Per queue: one thread TUN->UDP (encap) and one UDP->TUN (decap), on one UDP socket per
//! queue (`SO_REUSEPORT`, same port). SIGUSR1 prints counters
//! (`snap encap_pkts encap_bytes decap_pkts decap_bytes drops tun_reads udp_sends udp_recvs
//! tun_writes`); SIGINT/SIGTERM exit.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

mod tunrs;

use std::error::Error;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hitless_sys::netlink::{Netlink, Prefix, ifindex};
use hitless_sys::offload::{Coalescer, Segments};
use hitless_sys::vnet::{VNET_HDR_LEN, VirtioNetHdr};
use hitless_sys::{
    GsoBatch, RecvBatch, TunConfig, TunDevice, TunQueue, UdpConfig, UdpSocket, signal,
};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

struct Options {
    ifname: String,
    local: IpAddr,
    remote: IpAddr,
    port: u16,
    queues: usize,
    offload: bool,
    address: Option<Prefix>,
    mtu: Option<u32>,
    /// Use the tun-rs crate for the TUN side (evaluation; one queue, offloads on).
    tun_rs: bool,
}

#[derive(Default)]
struct Counters {
    encap_pkts: AtomicU64,
    encap_bytes: AtomicU64,
    decap_pkts: AtomicU64,
    decap_bytes: AtomicU64,
    drops: AtomicU64,
    tun_reads: AtomicU64,
    udp_sends: AtomicU64,
    udp_recvs: AtomicU64,
    tun_writes: AtomicU64,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("tunrelay: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let opts = parse_args()?;
    let sigs = [signal::SIGINT, signal::SIGTERM, signal::SIGUSR1];
    signal::block(&sigs)?;
    if opts.tun_rs {
        return tunrs::run(&opts, &sigs);
    }
    let dev = TunDevice::open(&TunConfig {
        name: opts.ifname.clone(),
        queues: opts.queues,
        offloads: opts.offload,
    })?;
    let name = dev.name().to_owned();
    let offloads = dev.offloads();
    let mut nl = Netlink::open()?;
    let index = ifindex(&name)?;
    if let Some(a) = opts.address {
        nl.add_address(index, a)?;
    }
    nl.set_link(index, true, opts.mtu)?;
    let counters = Arc::new(Counters::default());
    let peer = SocketAddr::new(opts.remote, opts.port);
    for tun in dev.into_queues() {
        let udp = UdpSocket::bind(&UdpConfig {
            bind: SocketAddr::new(opts.local, opts.port),
            reuse_port: true,
            gro: opts.offload,
            pktinfo: false,
            buffer_size: Some(4 << 20),
            v6_only: true,
        })?;
        if !opts.offload {
            udp.disable_gso();
        }
        // One peer: a connected socket skips the route lookup per send (as tunudp does).
        udp.connect(peer)?;
        let tun = Arc::new(tun);
        let udp = Arc::new(udp);
        let (t, u, c) = (Arc::clone(&tun), Arc::clone(&udp), Arc::clone(&counters));
        let offload = opts.offload;
        std::thread::spawn(move || {
            let r = if offload {
                encap_offload(&t, &u, peer, &c)
            } else {
                encap_plain(&t, &u, peer, &c)
            };
            if let Err(e) = r {
                eprintln!("tunrelay: encap thread: {e}");
            }
        });
        let c = Arc::clone(&counters);
        std::thread::spawn(move || {
            let r = if offload {
                decap_offload(&tun, &udp, &c)
            } else {
                decap_plain(&tun, &udp, &c)
            };
            if let Err(e) = r {
                eprintln!("tunrelay: decap thread: {e}");
            }
        });
    }
    println!(
        "ready if={name} queues={} offload={} offloads={offloads:?}",
        opts.queues, opts.offload
    );
    loop {
        let sig = signal::wait(&sigs)?;
        if sig != signal::SIGUSR1 {
            return Ok(());
        }
        print_snap(&counters);
    }
}

/// TUN super-packet -> segments written straight into the GSO buffer -> one sendmmsg.
fn encap_offload(tun: &TunQueue, udp: &UdpSocket, peer: SocketAddr, c: &Counters) -> Result<()> {
    let mut rd = vec![0u8; VNET_HDR_LEN + 65_535];
    let mut batch = GsoBatch::new(4 * 65_536);
    loop {
        let n = tun.read(&mut rd)?;
        c.tun_reads.fetch_add(1, Ordering::Relaxed);
        let Some(vnet) = VirtioNetHdr::decode(&rd[..n]) else {
            continue;
        };
        let Ok(mut segs) = Segments::new(&vnet, &rd[VNET_HDR_LEN..n]) else {
            c.drops.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let mut bytes = 0;
        let filled = batch.fill_from(
            &mut segs,
            0,
            0,
            |_, len| {
                bytes += len as u64;
                Some(len)
            },
            |b| send(udp, b, peer, c),
        );
        let pkts = filled.committed as u64;
        c.drops.fetch_add(filled.dropped as u64, Ordering::Relaxed);
        send(udp, &mut batch, peer, c);
        c.encap_pkts.fetch_add(pkts, Ordering::Relaxed);
        c.encap_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// UDP GRO batch -> segments coalesced per TCP flow -> one TUN write per super-packet.
fn decap_offload(tun: &TunQueue, udp: &UdpSocket, c: &Counters) -> Result<()> {
    let mut rx = RecvBatch::new(8, 65_535);
    let mut co = Coalescer::new();
    loop {
        udp.recv_batch(&mut rx)?;
        c.udp_recvs.fetch_add(1, Ordering::Relaxed);
        let mut pkts = 0;
        let mut bytes = 0;
        for m in rx.received() {
            if m.truncated {
                c.drops.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            for seg in RecvBatch::segments(m) {
                pkts += 1;
                bytes += seg.len() as u64;
                co.push(rx.buf(), seg);
            }
        }
        let mut writes = 0;
        let mut failed = 0;
        let _ = co.flush(rx.buf(), |iov| {
            writes += 1;
            tun.write_vectored(iov)
                .map(|_| ())
                .inspect_err(|_| failed += 1)
        });
        c.tun_writes.fetch_add(writes, Ordering::Relaxed);
        c.drops.fetch_add(failed, Ordering::Relaxed);
        c.decap_pkts.fetch_add(pkts, Ordering::Relaxed);
        c.decap_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// One packet per TUN read (non-blocking, up to 32), sent with one sendmmsg.
fn encap_plain(tun: &TunQueue, udp: &UdpSocket, peer: SocketAddr, c: &Counters) -> Result<()> {
    tun.set_nonblocking(true)?;
    let mut batch = GsoBatch::new(32 * 2048);
    loop {
        let mut n = 0;
        while n < 32 {
            match tun.read(&mut batch.spare()[..2048]) {
                Ok(len) => {
                    c.tun_reads.fetch_add(1, Ordering::Relaxed);
                    c.encap_bytes.fetch_add(len as u64, Ordering::Relaxed);
                    if batch.commit(len) {
                        n += 1;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        if n == 0 {
            tun.wait_readable(-1)?;
            continue;
        }
        c.encap_pkts.fetch_add(n, Ordering::Relaxed);
        send(udp, &mut batch, peer, c);
    }
}

/// recvmmsg of up to 32 datagrams, one TUN write each.
fn decap_plain(tun: &TunQueue, udp: &UdpSocket, c: &Counters) -> Result<()> {
    let mut rx = RecvBatch::new(32, 2048);
    loop {
        udp.recv_batch(&mut rx)?;
        c.udp_recvs.fetch_add(1, Ordering::Relaxed);
        for m in rx.received() {
            c.decap_pkts.fetch_add(1, Ordering::Relaxed);
            c.decap_bytes
                .fetch_add(m.data.len() as u64, Ordering::Relaxed);
            c.tun_writes.fetch_add(1, Ordering::Relaxed);
            if m.truncated || tun.write(&rx.buf()[m.data.clone()]).is_err() {
                c.drops.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn print_snap(c: &Counters) {
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "snap {} {} {} {} {} {} {} {} {}",
        l(&c.encap_pkts),
        l(&c.encap_bytes),
        l(&c.decap_pkts),
        l(&c.decap_bytes),
        l(&c.drops),
        l(&c.tun_reads),
        l(&c.udp_sends),
        l(&c.udp_recvs),
        l(&c.tun_writes)
    );
}

fn send(udp: &UdpSocket, batch: &mut GsoBatch, _peer: SocketAddr, c: &Counters) {
    if batch.is_empty() {
        return;
    }
    c.udp_sends.fetch_add(1, Ordering::Relaxed);
    if udp.send_batch(batch, None).is_err() {
        c.drops
            .fetch_add(batch.datagrams() as u64, Ordering::Relaxed);
    }
    batch.clear();
}

fn parse_args() -> Result<Options> {
    let usage = "usage: tunrelay -i IFNAME -l LOCAL_IP -r REMOTE_IP [-p PORT] [-q QUEUES] \
                 [--no-offload | --tun-rs] [--addr CIDR] [--mtu N]";
    let mut o = Options {
        ifname: String::new(),
        local: IpAddr::from([0, 0, 0, 0]),
        remote: IpAddr::from([0, 0, 0, 0]),
        port: 40_000,
        queues: 1,
        offload: true,
        address: None,
        mtu: None,
        tun_rs: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .ok_or_else(|| format!("{a} needs a value; {usage}"))
        };
        match a.as_str() {
            "-i" => o.ifname = val()?,
            "-l" => o.local = val()?.parse()?,
            "-r" => o.remote = val()?.parse()?,
            "-p" => o.port = val()?.parse()?,
            "-q" => o.queues = val()?.parse()?,
            "--no-offload" => o.offload = false,
            "--tun-rs" => o.tun_rs = true,
            "--mtu" => o.mtu = Some(val()?.parse()?),
            "--addr" => {
                let v = val()?;
                let (ip, len) = v.split_once('/').ok_or("--addr wants ADDRESS/PREFIXLEN")?;
                o.address = Some(Prefix {
                    addr: ip.parse()?,
                    len: len.parse()?,
                });
            }
            _ => return Err(usage.into()),
        }
    }
    if o.ifname.is_empty() || o.local.is_unspecified() || o.remote.is_unspecified() {
        return Err(usage.into());
    }
    Ok(o)
}
