//! Multi-queue TUN devices with the virtio-net offloads (Linux `Documentation/networking/
//! tuntap.rst`).
//!
//! A device is opened with `IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE`, one descriptor per queue,
//! so each data-plane worker owns one queue and the kernel spreads flows over them. With
//! offloads on (`IFF_VNET_HDR`), every read and write carries a
//! [`VirtioNetHdr`] and the kernel hands us TCP super-packets of up
//! to 64 KiB (TSO) and accepts them back (GRO), which is what makes a userspace tunnel fast.
//! Offloads the running kernel lacks are left off; [`Offloads`] says what is on.
//!
//! Address, MTU and link state are set with [`crate::netlink`].

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::error::SysError;
use crate::fd;
use crate::vnet::{VNET_HDR_LEN, VirtioNetHdr};

/// How to open a TUN device.
#[derive(Clone, Debug)]
pub struct TunConfig {
    /// Interface name (at most 15 bytes); may contain `%d` for the kernel to number.
    pub name: String,
    /// Number of queues (descriptors); at least 1.
    pub queues: usize,
    /// Open with `IFF_VNET_HDR` and ask for checksum, TSO and USO offloads.
    pub offloads: bool,
}

/// The offloads the kernel accepted with `TUNSETOFFLOAD`.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Offloads {
    /// Reads and writes carry a `virtio_net_hdr`.
    pub vnet_hdr: bool,
    /// Partial checksums (`TUN_F_CSUM`).
    pub csum: bool,
    /// TCP segmentation offload over IPv4 (`TUN_F_TSO4`).
    pub tso4: bool,
    /// TCP segmentation offload over IPv6 (`TUN_F_TSO6`).
    pub tso6: bool,
    /// UDP segmentation offload (`TUN_F_USO4 | TUN_F_USO6`, Linux 6.2+).
    pub uso: bool,
}

/// An open multi-queue TUN device.
#[derive(Debug)]
pub struct TunDevice {
    name: String,
    offloads: Offloads,
    queues: Vec<TunQueue>,
}

/// One queue of a TUN device: one descriptor, read and written by one worker.
#[derive(Debug)]
pub struct TunQueue {
    fd: OwnedFd,
    vnet_hdr: bool,
}

impl TunDevice {
    /// Creates (or attaches to) the device and opens its queues.
    ///
    /// # Errors
    ///
    /// [`SysError`] naming the failed step: opening `/dev/net/tun` (no TUN support or not
    /// permitted), `TUNSETIFF` (bad name, name taken by a device of another kind, or no
    /// `CAP_NET_ADMIN`), `TUNSETVNETHDRSZ`, `TUNSETOFFLOAD`.
    pub fn open(config: &TunConfig) -> Result<Self, SysError> {
        if config.queues == 0 {
            return Err(SysError::invalid("TunDevice::open", "at least one queue"));
        }
        let name = ifname(&config.name)?;
        let mut flags = libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_MULTI_QUEUE;
        if config.offloads {
            flags |= libc::IFF_VNET_HDR;
        }
        let mut queues = Vec::with_capacity(config.queues);
        let mut actual = String::new();
        for _ in 0..config.queues {
            let (q, n) = open_queue(&name, flags, config.offloads)?;
            actual = n;
            queues.push(q);
        }
        let offloads = match queues.first() {
            Some(q) if config.offloads => set_offloads(q.fd.as_fd())?,
            _ => Offloads::default(),
        };
        Ok(Self {
            name: actual,
            offloads,
            queues,
        })
    }

    /// The interface name the kernel gave the device.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offloads in effect.
    pub fn offloads(&self) -> Offloads {
        self.offloads
    }

    /// The queues, one per worker.
    pub fn queues(&self) -> &[TunQueue] {
        &self.queues
    }

    /// Takes the queues out, to move each into its worker thread. The device lives as long as
    /// one queue is open.
    pub fn into_queues(self) -> Vec<TunQueue> {
        self.queues
    }
}

impl TunQueue {
    /// Reads one packet; with offloads, `buf` starts with the `virtio_net_hdr` (so it should
    /// hold [`VNET_HDR_LEN`] + 65535 bytes).
    ///
    /// # Errors
    ///
    /// The OS error; `WouldBlock` when non-blocking and nothing is queued.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        fd::read(self.fd.as_fd(), buf)
    }

    /// Reads one packet and splits off its `virtio_net_hdr` ([`VirtioNetHdr::PLAIN`] when the
    /// device has no offloads): the input of [`Segments::new`](crate::offload::Segments::new).
    ///
    /// # Errors
    ///
    /// As [`TunQueue::read`]; `InvalidData` if a read is shorter than the header.
    pub fn read_packet<'b>(&self, buf: &'b mut [u8]) -> io::Result<(VirtioNetHdr, &'b [u8])> {
        let n = self.read(buf)?;
        let packet = &buf[..n];
        if !self.vnet_hdr {
            return Ok((VirtioNetHdr::PLAIN, packet));
        }
        let hdr = VirtioNetHdr::decode(packet)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short TUN read"))?;
        Ok((hdr, &packet[VNET_HDR_LEN..]))
    }

    /// Writes one IP packet with the given header (ignored when the device has no offloads).
    ///
    /// # Errors
    ///
    /// As [`TunQueue::write`].
    pub fn write_packet(&self, vnet: &VirtioNetHdr, packet: &[u8]) -> io::Result<()> {
        if !self.vnet_hdr {
            return self.write(packet).map(|_| ());
        }
        let hdr = vnet.encode();
        self.write_vectored(&[IoSlice::new(&hdr), IoSlice::new(packet)])
            .map(|_| ())
    }

    /// Writes one packet (with offloads, starting with its `virtio_net_hdr`).
    ///
    /// # Errors
    ///
    /// The OS error; `EINVAL` for a malformed packet or header.
    pub fn write(&self, packet: &[u8]) -> io::Result<usize> {
        fd::write(self.fd.as_fd(), packet)
    }

    /// Writes one packet gathered from several slices (the header, then the payloads), as the
    /// [`Coalescer`](crate::offload::Coalescer) hands them.
    ///
    /// # Errors
    ///
    /// As [`TunQueue::write`].
    pub fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        fd::writev(self.fd.as_fd(), bufs)
    }

    /// Switches between blocking reads (one worker thread per direction) and non-blocking
    /// reads (a worker that polls).
    ///
    /// # Errors
    ///
    /// The OS error of `fcntl`.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        fd::set_nonblocking(self.fd.as_fd(), on)
    }

    /// Waits up to `timeout_ms` (-1: forever) for a packet; true if one is ready.
    ///
    /// # Errors
    ///
    /// The OS error of `poll`.
    pub fn wait_readable(&self, timeout_ms: i32) -> io::Result<bool> {
        fd::poll_readable(self.fd.as_fd(), timeout_ms)
    }

    /// Whether reads and writes carry a `virtio_net_hdr`.
    pub fn has_vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }
}

impl AsFd for TunQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn ifname(name: &str) -> Result<[libc::c_char; libc::IFNAMSIZ], SysError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(SysError::invalid(
            "TunDevice::open",
            "interface name must be 1-15 bytes",
        ));
    }
    let mut out: [libc::c_char; libc::IFNAMSIZ] = [0; libc::IFNAMSIZ];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = libc::c_char::from_ne_bytes([*b]);
    }
    Ok(out)
}

fn open_queue(
    name: &[libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_int,
    vnet_hdr: bool,
) -> Result<(TunQueue, String), SysError> {
    // SAFETY: a NUL-terminated path and plain flags.
    let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    let fd = fd::owned(raw, "open /dev/net/tun")?;
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    ifr.ifr_name = *name;
    // Interface flags fit the short of ifr_flags.
    ifr.ifr_ifru.ifru_flags = libc::c_short::try_from(flags).unwrap_or(0);
    // SAFETY: TUNSETIFF reads and updates the ifreq we pass, which lives across the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &raw mut ifr) };
    if r < 0 {
        return Err(SysError::last("TUNSETIFF"));
    }
    // SAFETY: the kernel NUL-terminates the name it returns within IFNAMSIZ.
    let actual = unsafe { CStr::from_ptr(ifr.ifr_name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    if vnet_hdr {
        let size = libc::c_int::try_from(VNET_HDR_LEN).unwrap_or(10);
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETVNETHDRSZ, &raw const size) };
        if r < 0 {
            return Err(SysError::last("TUNSETVNETHDRSZ"));
        }
    }
    Ok((TunQueue { fd, vnet_hdr }, actual))
}

/// Asks for checksum + TSO4/6 + USO4/6, then without USO if the kernel refuses it.
fn set_offloads(fd: BorrowedFd<'_>) -> Result<Offloads, SysError> {
    let base = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6;
    let with_uso = base | libc::TUN_F_USO4 | libc::TUN_F_USO6;
    for (flags, uso) in [(with_uso, true), (base, false)] {
        // SAFETY: TUNSETOFFLOAD takes the flags as the argument itself, not a pointer.
        let r = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                libc::TUNSETOFFLOAD,
                libc::c_ulong::from(flags),
            )
        };
        if r == 0 {
            return Ok(Offloads {
                vnet_hdr: true,
                csum: true,
                tso4: true,
                tso6: true,
                uso,
            });
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return Err(SysError::last("TUNSETOFFLOAD"));
        }
    }
    Err(SysError::last("TUNSETOFFLOAD"))
}
