//! The same relay with the tun-rs crate on the TUN side (its `recv_multiple` splits a
//! super-packet into one buffer per segment; its `send_multiple` coalesces with a GRO table),
//! and hitless-sys sockets on the UDP side: to measure tun-rs against our own TUN code.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hitless_sys::netlink::{Netlink, ifindex};
use hitless_sys::{GsoBatch, RecvBatch, UdpConfig, UdpSocket, signal};
use tun_rs::{DeviceBuilder, GROTable, IDEAL_BATCH_SIZE, SyncDevice, VIRTIO_NET_HDR_LEN};

use crate::{Counters, Options, Result, print_snap, send};

pub(crate) fn run(opts: &Options, sigs: &[i32]) -> Result<()> {
    let dev = DeviceBuilder::new()
        .name(&opts.ifname)
        .offload(true)
        .build_sync()?;
    let mut nl = Netlink::open()?;
    let index = ifindex(&opts.ifname)?;
    if let Some(a) = opts.address {
        nl.add_address(index, a)?;
    }
    nl.set_link(index, true, opts.mtu)?;
    let peer = SocketAddr::new(opts.remote, opts.port);
    let udp = UdpSocket::bind(&UdpConfig {
        gro: true,
        buffer_size: Some(4 << 20),
        ..UdpConfig::new(SocketAddr::new(opts.local, opts.port))
    })?;
    udp.connect(peer)?;
    let dev = Arc::new(dev);
    let udp = Arc::new(udp);
    let counters = Arc::new(Counters::default());
    let (d, u, c) = (Arc::clone(&dev), Arc::clone(&udp), Arc::clone(&counters));
    std::thread::spawn(move || {
        if let Err(e) = encap(&d, &u, peer, &c) {
            eprintln!("tunrelay: encap thread: {e}");
        }
    });
    let c = Arc::clone(&counters);
    std::thread::spawn(move || {
        if let Err(e) = decap(&dev, &udp, &c) {
            eprintln!("tunrelay: decap thread: {e}");
        }
    });
    println!("ready if={} queues=1 offload=true tun-rs", opts.ifname);
    loop {
        if signal::wait(sigs)? != signal::SIGUSR1 {
            return Ok(());
        }
        print_snap(&counters);
    }
}

fn encap(dev: &SyncDevice, udp: &UdpSocket, peer: SocketAddr, c: &Counters) -> Result<()> {
    let mut original = vec![0u8; VIRTIO_NET_HDR_LEN + 65_535];
    let mut bufs = vec![vec![0u8; 1500]; IDEAL_BATCH_SIZE];
    let mut sizes = vec![0usize; IDEAL_BATCH_SIZE];
    let mut batch = GsoBatch::new(4 * 65_536);
    loop {
        let n = dev.recv_multiple(&mut original, &mut bufs, &mut sizes, 0)?;
        c.tun_reads.fetch_add(1, Ordering::Relaxed);
        for (buf, &len) in bufs.iter().zip(&sizes).take(n) {
            // tun-rs hands one buffer per segment: UDP GSO needs them contiguous.
            if batch.remaining() < len || !batch.has_room_for_run() {
                send(udp, &mut batch, peer, c);
            }
            batch.spare()[..len].copy_from_slice(&buf[..len]);
            batch.commit(len);
            c.encap_bytes.fetch_add(len as u64, Ordering::Relaxed);
        }
        c.encap_pkts.fetch_add(n as u64, Ordering::Relaxed);
        send(udp, &mut batch, peer, c);
    }
}

fn decap(dev: &SyncDevice, udp: &UdpSocket, c: &Counters) -> Result<()> {
    let mut rx = RecvBatch::new(8, 65_535);
    let mut gro = GROTable::default();
    let mut bufs: Vec<Vec<u8>> = (0..IDEAL_BATCH_SIZE)
        .map(|_| Vec::with_capacity(65_600))
        .collect();
    loop {
        udp.recv_batch(&mut rx)?;
        c.udp_recvs.fetch_add(1, Ordering::Relaxed);
        let mut k = 0;
        for m in rx.received() {
            for seg in RecvBatch::segments(m) {
                if k == bufs.len() {
                    dev.send_multiple(&mut gro, &mut bufs[..k], VIRTIO_NET_HDR_LEN)?;
                    k = 0;
                }
                // tun-rs wants each packet in its own growable buffer after room for the header.
                let b = &mut bufs[k];
                b.clear();
                b.resize(VIRTIO_NET_HDR_LEN, 0);
                b.extend_from_slice(&rx.buf()[seg.clone()]);
                k += 1;
                c.decap_pkts.fetch_add(1, Ordering::Relaxed);
                c.decap_bytes.fetch_add(seg.len() as u64, Ordering::Relaxed);
            }
        }
        if k > 0
            && dev
                .send_multiple(&mut gro, &mut bufs[..k], VIRTIO_NET_HDR_LEN)
                .is_err()
        {
            c.drops.fetch_add(1, Ordering::Relaxed);
        }
    }
}
