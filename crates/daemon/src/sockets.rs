//! The IKE sockets: UDP port 500 (IPv4 and IPv6) read by async tasks, and the sending side of
//! port 4500, which belongs to the data-plane workers (their `SO_REUSEPORT` sockets receive
//! IKE on 4500 too and hand it over, RFC 3948 §2.2).

use std::io;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use anyhow::Result;
use hitless_ike::Transmit;
use hitless_sys::RecvBatch;
use hitless_sys::UdpConfig;
use hitless_sys::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;
use tracing::trace;
use tracing::warn;

/// The non-ESP marker in front of IKE messages on port 4500 (RFC 3948 §2.2).
const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// Largest IKE message we accept (RFC 7296 §2: implementations must accept at least 1280
/// bytes; messages with certificates or fragments need more).
const MAX_IKE_MESSAGE: usize = 65_535;

/// An IKE message received on port 500 or 4500 (without the non-ESP marker).
#[derive(Debug)]
pub(crate) struct IkeDatagram {
    /// Where it arrived.
    pub(crate) local: SocketAddr,
    /// Who sent it.
    pub(crate) remote: SocketAddr,
    /// The IKE message.
    pub(crate) payload: Vec<u8>,
}

/// The sockets IKE messages leave from.
#[derive(Clone, Debug)]
pub(crate) struct IkeSockets {
    /// Port 500, IPv4.
    pub(crate) ike4: Option<Arc<UdpSocket>>,
    /// Port 500, IPv6.
    pub(crate) ike6: Option<Arc<UdpSocket>>,
    /// Port 4500, IPv4 (one of the workers' sockets).
    pub(crate) natt4: Option<Arc<UdpSocket>>,
    /// Port 4500, IPv6.
    pub(crate) natt6: Option<Arc<UdpSocket>>,
    /// The IKE port.
    pub(crate) ike_port: u16,
    /// The NAT-T port.
    pub(crate) nat_t_port: u16,
}

/// Opens the port-500 sockets: IPv4 must work, IPv6 is used when the host has it.
///
/// # Errors
///
/// When the IPv4 socket cannot be bound (port in use, no permission).
pub(crate) fn open_ike(port: u16) -> Result<(Arc<UdpSocket>, Option<Arc<UdpSocket>>)> {
    let v4 = bind(
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        false,
    )
    .with_context(|| format!("binding UDP port {port} (IPv4) for IKE"))?;
    let v6 = match bind(
        SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        false,
    ) {
        Ok(socket) => Some(socket),
        Err(error) => {
            warn!(port, error = %format!("{error:#}"), "no IPv6 IKE socket; IPv6 peers unreachable");
            None
        }
    };
    Ok((v4, v6))
}

/// Binds one UDP socket with pktinfo (so replies leave from the address the peer used).
pub(crate) fn bind(address: SocketAddr, reuse_port: bool) -> Result<Arc<UdpSocket>> {
    let socket = UdpSocket::bind(&UdpConfig {
        bind: address,
        reuse_port,
        gro: false,
        pktinfo: true,
        buffer_size: Some(1 << 20),
        v6_only: true,
    })?;
    Ok(Arc::new(socket))
}

/// Starts a thread that reads IKE messages from a port-500 socket and hands them to the IKE
/// task; it ends when the IKE task is gone. (A blocking thread keeps the socket code safe: the
/// pktinfo receive path lives in hitless-sys, which tokio's reactor cannot drive without
/// `unsafe` registration.)
///
/// # Errors
///
/// When the thread cannot be spawned.
pub(crate) fn spawn_port500_reader(
    socket: Arc<UdpSocket>,
    port: u16,
    to_ike: mpsc::Sender<IkeDatagram>,
) -> Result<()> {
    std::thread::Builder::new()
        .name(format!("ike-{port}"))
        .spawn(move || read_port500(&socket, port, &to_ike))
        .context("spawning the IKE socket reader")?;
    Ok(())
}

fn read_port500(socket: &UdpSocket, port: u16, to_ike: &mpsc::Sender<IkeDatagram>) {
    let mut batch = RecvBatch::new(4, MAX_IKE_MESSAGE);
    loop {
        let received = match socket.recv_batch(&mut batch) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                debug!(%error, "IKE socket receive error");
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
        };
        for meta in &batch.received()[..received] {
            let (Some(remote), false) = (meta.source, meta.truncated) else {
                continue;
            };
            let local_ip = meta.local.unwrap_or(match remote {
                SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            });
            let datagram = IkeDatagram {
                local: SocketAddr::new(local_ip, port),
                remote,
                payload: batch.buf()[meta.data.clone()].to_vec(),
            };
            if to_ike.blocking_send(datagram).is_err() {
                return;
            }
        }
    }
}

impl IkeSockets {
    /// Sends one transmit of the engine: from the port its `local` names (500 or 4500; 4500
    /// for NAT keepalives and marked messages when it names none), from its local address
    /// when it names one, with the non-ESP marker when asked.
    ///
    /// # Errors
    ///
    /// When no socket fits (say an IPv6 peer without IPv6) or the send fails.
    pub(crate) fn send(&self, transmit: &Transmit) -> io::Result<()> {
        let nat_t = match transmit.local.map(|l| l.port()) {
            Some(port) if port == self.nat_t_port => true,
            Some(port) if port == self.ike_port => false,
            _ => transmit.non_esp_marker || transmit.keepalive,
        };
        let socket = match (nat_t, transmit.remote.is_ipv6()) {
            (false, false) => self.ike4.as_ref(),
            (false, true) => self.ike6.as_ref(),
            (true, false) => self.natt4.as_ref(),
            (true, true) => self.natt6.as_ref(),
        }
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("no socket for {}", transmit.remote),
            )
        })?;
        let framed;
        let bytes = if transmit.non_esp_marker {
            let mut buf = Vec::with_capacity(NON_ESP_MARKER.len() + transmit.payload.len());
            buf.extend_from_slice(&NON_ESP_MARKER);
            buf.extend_from_slice(&transmit.payload);
            framed = buf;
            &framed[..]
        } else {
            &transmit.payload[..]
        };
        let source = transmit
            .local
            .map(|l| l.ip())
            .filter(|ip| !ip.is_unspecified() && ip.is_ipv6() == transmit.remote.is_ipv6());
        trace!(remote = %transmit.remote, len = bytes.len(), nat_t, "sending IKE datagram");
        match source {
            Some(source) => socket.send_from(bytes, transmit.remote, source),
            None => socket.send_to(bytes, Some(transmit.remote)),
        }
        .map(drop)
    }
}
