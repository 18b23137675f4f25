//! The data-plane worker loops, each on its own OS thread blocking in one system call
//! (docs/design/io.md):
//!
//! - **encapsulation**, one per TUN queue: a (TSO super-)packet from the TUN is looked up in
//!   the SPD once, split into MTU-sized segments written straight into a GSO batch with ESP
//!   headroom, sealed in place, and sent with one `sendmmsg` (UDP GSO runs, or raw ESP);
//! - **decapsulation**, one per UDP port-4500 socket: a `recvmmsg` of UDP GRO slots is split
//!   into datagrams, IKE messages (non-ESP marker, RFC 3948 §2.2) go to the IKE task, ESP is
//!   opened in place and coalesced back into TCP super-packets for one TUN write each;
//! - **raw ESP decapsulation**, one per address family, for ESP without UDP (IP protocol 50).
//!
//! Nothing here logs per packet above `trace`; drops are counted by the data plane.

use std::io;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use hitless_esp::DataPlane;
use hitless_esp::TAILROOM;
use hitless_sys::GsoBatch;
use hitless_sys::RecvBatch;
use hitless_sys::TunQueue;
use hitless_sys::UdpSocket;
use hitless_sys::offload::Coalescer;
use hitless_sys::offload::Segments;
use hitless_sys::port4500;
use hitless_sys::port4500::Port4500;
use hitless_sys::raw_esp::RawEspSocket;
use hitless_sys::vnet::VNET_HDR_LEN;
use hitless_sys::vnet::VirtioNetHdr;
use tokio::sync::mpsc;
use tracing::trace;

use crate::sockets::IkeDatagram;

/// Bytes of one GSO batch: a few super-packets' worth of ESP datagrams.
const BATCH_BYTES: usize = 4 * 65_536;
/// Receive slots per `recvmmsg`; each holds one UDP GRO train of up to 64 KiB.
const RECV_SLOTS: usize = 8;

/// Counters of the workers' I/O (the data plane counts packets per SA and drops by reason).
#[derive(Debug, Default)]
pub(crate) struct IoStats {
    /// Reads from the TUN device.
    pub(crate) tun_reads: AtomicU64,
    /// TUN packets without a policy or SA, or that could not be segmented.
    pub(crate) tun_unprotected: AtomicU64,
    /// Datagrams sent.
    pub(crate) datagrams_sent: AtomicU64,
    /// Datagrams that the kernel refused to send.
    pub(crate) send_errors: AtomicU64,
    /// Datagrams received on port 4500 or as raw ESP.
    pub(crate) datagrams_received: AtomicU64,
    /// IKE messages on port 4500 handed to the IKE task.
    pub(crate) ike_forwarded: AtomicU64,
    /// IKE messages dropped because the IKE task was busy.
    pub(crate) ike_dropped: AtomicU64,
    /// Inner packets encapsulated and sent.
    pub(crate) inner_packets_out: AtomicU64,
    /// Inner bytes encapsulated and sent.
    pub(crate) inner_bytes_out: AtomicU64,
    /// Inner packets decapsulated.
    pub(crate) inner_packets_in: AtomicU64,
    /// Inner bytes decapsulated.
    pub(crate) inner_bytes_in: AtomicU64,
    /// Packets written to the TUN device.
    pub(crate) tun_writes: AtomicU64,
    /// TUN writes that failed.
    pub(crate) tun_write_errors: AtomicU64,
}

/// Where a worker sends ESP.
pub(crate) struct Senders {
    /// ESP in UDP over IPv4 (this worker's port-4500 socket).
    pub(crate) udp4: Option<Arc<UdpSocket>>,
    /// ESP in UDP over IPv6.
    pub(crate) udp6: Option<Arc<UdpSocket>>,
    /// Raw ESP over IPv4.
    pub(crate) raw4: Option<Arc<RawEspSocket>>,
    /// Raw ESP over IPv6.
    pub(crate) raw6: Option<Arc<RawEspSocket>>,
}

/// TUN → ESP → network, until the TUN queue fails.
///
/// # Errors
///
/// The TUN read error that ended the loop.
pub(crate) fn encapsulate(
    tun: &TunQueue,
    senders: &Senders,
    plane: &DataPlane,
    stats: &IoStats,
) -> io::Result<()> {
    let vnet = tun.has_vnet_hdr();
    let mut read_buf = vec![0u8; VNET_HDR_LEN + 65_535];
    let mut batch = GsoBatch::new(BATCH_BYTES);
    loop {
        let n = match tun.read(&mut read_buf) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        stats.tun_reads.fetch_add(1, Ordering::Relaxed);
        let (header, packet) = if vnet {
            let Some(header) = VirtioNetHdr::decode(&read_buf[..n]) else {
                stats.tun_unprotected.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            (header, &read_buf[VNET_HDR_LEN..n])
        } else {
            (VirtioNetHdr::PLAIN, &read_buf[..n])
        };
        // One SPD lookup per super-packet; every segment is still checked against the policy.
        let Ok(flow) = plane.outbound_flow(None, packet) else {
            stats.tun_unprotected.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let Ok(mut segments) = Segments::new(&header, packet) else {
            stats.tun_unprotected.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let sink = Sink::choose(senders, flow.udp_encap(), flow.remote());
        let headroom = flow.headroom();
        let mut inner_bytes = 0u64;
        let filled = batch.fill_from(
            &mut segments,
            headroom,
            TAILROOM,
            |slot, inner_len| {
                let sealed = flow.encapsulate(slot, headroom, inner_len).ok()?;
                inner_bytes += u64::try_from(inner_len).unwrap_or(0);
                let (offset, len) = (sealed.offset, sealed.bytes.len());
                // Tunnel mode seals exactly at the slot's start; transport mode reuses the IP
                // header's room, so its datagram moves to the front.
                if offset != 0 {
                    slot.copy_within(offset..offset + len, 0);
                }
                Some(len)
            },
            |full| sink.send(full, stats),
        );
        sink.send(&mut batch, stats);
        let packets = u64::try_from(filled.committed).unwrap_or(0);
        stats
            .inner_packets_out
            .fetch_add(packets, Ordering::Relaxed);
        stats
            .inner_bytes_out
            .fetch_add(inner_bytes, Ordering::Relaxed);
    }
}

/// Port 4500 → (IKE to the IKE task | ESP → TUN), until the socket fails.
///
/// # Errors
///
/// The receive error that ended the loop.
pub(crate) fn decapsulate_udp(
    udp: &UdpSocket,
    nat_t_port: u16,
    tun: &TunQueue,
    plane: &DataPlane,
    to_ike: &mpsc::Sender<IkeDatagram>,
    stats: &IoStats,
) -> io::Result<()> {
    let mut rx = RecvBatch::new(RECV_SLOTS, 65_535);
    let mut writer = TunWriter::new(tun);
    loop {
        let received = match udp.recv_batch(&mut rx) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        for i in 0..received {
            let meta = rx.received()[i].clone();
            if meta.truncated {
                continue;
            }
            for datagram in RecvBatch::segments(&meta) {
                stats.datagrams_received.fetch_add(1, Ordering::Relaxed);
                match port4500::classify(rx.buf(), datagram) {
                    Port4500::Esp(range) => {
                        if let Ok(opened) =
                            plane.decapsulate(rx.buf_mut(), range.start, range.len())
                        {
                            let inner = opened.offset..opened.offset + opened.inner.len();
                            writer.push(rx.buf(), inner, stats);
                        }
                    }
                    Port4500::Ike(range) => {
                        let (Some(remote), Some(local)) = (meta.source, meta.local) else {
                            continue;
                        };
                        let message = IkeDatagram {
                            local: SocketAddr::new(local, nat_t_port),
                            remote,
                            payload: rx.buf()[range].to_vec(),
                        };
                        match to_ike.try_send(message) {
                            Ok(()) => stats.ike_forwarded.fetch_add(1, Ordering::Relaxed),
                            Err(_) => stats.ike_dropped.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                    Port4500::Keepalive => trace!(source = ?meta.source, "NAT keepalive"),
                    Port4500::Invalid => trace!(source = ?meta.source, "invalid datagram on 4500"),
                }
            }
        }
        writer.flush(rx.buf(), stats);
    }
}

/// Raw ESP (IP protocol 50) → TUN, until the socket fails.
///
/// # Errors
///
/// The receive error that ended the loop.
pub(crate) fn decapsulate_raw(
    raw: &RawEspSocket,
    tun: &TunQueue,
    plane: &DataPlane,
    stats: &IoStats,
) -> io::Result<()> {
    let mut rx = RecvBatch::new(32, 65_535);
    let mut writer = TunWriter::new(tun);
    loop {
        let received = match raw.recv_batch(&mut rx) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        for i in 0..received {
            let meta = rx.received()[i].clone();
            if meta.truncated {
                continue;
            }
            stats.datagrams_received.fetch_add(1, Ordering::Relaxed);
            let range = meta.data;
            if let Ok(opened) = plane.decapsulate(rx.buf_mut(), range.start, range.len()) {
                let inner = opened.offset..opened.offset + opened.inner.len();
                writer.push(rx.buf(), inner, stats);
            }
        }
        writer.flush(rx.buf(), stats);
    }
}

/// The socket a flow's ESP leaves on.
enum Sink<'a> {
    Udp(&'a UdpSocket, SocketAddr),
    Raw(&'a RawEspSocket, IpAddr),
    Nowhere,
}

impl<'a> Sink<'a> {
    fn choose(senders: &'a Senders, udp_encap: bool, remote: SocketAddr) -> Self {
        let v6 = remote.is_ipv6();
        let found = if udp_encap {
            let socket = if v6 { &senders.udp6 } else { &senders.udp4 };
            socket.as_deref().map(|s| Self::Udp(s, remote))
        } else {
            let socket = if v6 { &senders.raw6 } else { &senders.raw4 };
            socket.as_deref().map(|s| Self::Raw(s, remote.ip()))
        };
        found.unwrap_or(Self::Nowhere)
    }

    /// Sends and clears the batch.
    fn send(&self, batch: &mut GsoBatch, stats: &IoStats) {
        if batch.is_empty() {
            return;
        }
        let count = u64::try_from(batch.datagrams()).unwrap_or(u64::MAX);
        let result = match self {
            Self::Udp(socket, remote) => socket.send_batch(batch, Some(*remote)),
            Self::Raw(socket, remote) => socket.send_batch(batch, *remote),
            Self::Nowhere => Err(io::Error::from(io::ErrorKind::AddrNotAvailable)),
        };
        match result {
            Ok(()) => stats.datagrams_sent.fetch_add(count, Ordering::Relaxed),
            Err(error) => {
                trace!(%error, "ESP send failed");
                stats.send_errors.fetch_add(count, Ordering::Relaxed)
            }
        };
        batch.clear();
    }
}

/// Writes decapsulated packets to a TUN queue: coalesced into TCP super-packets when the
/// queue has the virtio-net header, one by one otherwise.
struct TunWriter<'a> {
    tun: &'a TunQueue,
    coalescer: Option<Coalescer>,
}

impl<'a> TunWriter<'a> {
    fn new(tun: &'a TunQueue) -> Self {
        Self {
            tun,
            coalescer: tun.has_vnet_hdr().then(Coalescer::new),
        }
    }

    fn push(&mut self, buf: &[u8], packet: std::ops::Range<usize>, stats: &IoStats) {
        stats.inner_packets_in.fetch_add(1, Ordering::Relaxed);
        stats
            .inner_bytes_in
            .fetch_add(u64::try_from(packet.len()).unwrap_or(0), Ordering::Relaxed);
        match &mut self.coalescer {
            Some(coalescer) => coalescer.push(buf, packet),
            None => {
                let result = self.tun.write(&buf[packet]);
                count_write(result.map(drop), stats);
            }
        }
    }

    fn flush(&mut self, buf: &[u8], stats: &IoStats) {
        let Some(coalescer) = &mut self.coalescer else {
            return;
        };
        let tun = self.tun;
        let _ = coalescer.flush(buf, |slices| {
            count_write(tun.write_vectored(slices).map(drop), stats);
            Ok::<(), ()>(())
        });
    }
}

fn count_write(result: io::Result<()>, stats: &IoStats) {
    match result {
        Ok(()) => stats.tun_writes.fetch_add(1, Ordering::Relaxed),
        Err(error) => {
            trace!(%error, "TUN write failed");
            stats.tun_write_errors.fetch_add(1, Ordering::Relaxed)
        }
    };
}
