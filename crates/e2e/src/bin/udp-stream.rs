//! A paced UDP stream with sequence numbers, to count exactly which packets a tunnel lost
//! (iperf3 only counts them). Run in a network namespace by `hitless_e2e::stream`:
//!
//! ```text
//! udp-stream send FROM TO:PORT RATE SECONDS SIZE   prints {"sent":N}
//! udp-stream recv BIND:PORT SECONDS                prints {"received":N,"duplicates":D,
//!                                                  "reordered":R,"missing":[[first,last],…]}
//! ```
//!
//! Each datagram carries its sequence number (8 bytes, big-endian) and is padded to SIZE
//! bytes. The sender paces to RATE packets per second against a monotonic clock (sleeping while
//! more than 200 µs ahead, sending the backlog at once when behind, as a real source would). The
//! receiver stops SECONDS after it started or two seconds after the last datagram, and lists the
//! sequence numbers below the highest one seen that never arrived.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;
use std::time::Instant;

/// The receiver's socket buffer (the kernel caps it at net.core.rmem_max).
const RECEIVE_BUFFER: usize = 16 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("send") if args.len() == 6 => send(&args[1..]),
        Some("recv") if args.len() == 3 => recv(&args[1..]),
        _ => Err(
            "usage: udp-stream send FROM TO:PORT RATE SECONDS SIZE | recv BIND:PORT SECONDS"
                .to_owned(),
        ),
    };
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("udp-stream: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("bad {what}: {text:?}"))
}

fn send(args: &[String]) -> Result<String, String> {
    let from: std::net::IpAddr = parse("source address", &args[0])?;
    let to: SocketAddr = parse("destination", &args[1])?;
    let rate: u64 = parse("rate", &args[2])?;
    let seconds: u64 = parse("seconds", &args[3])?;
    let size: usize = parse("size", &args[4])?;
    if rate == 0 || size < 8 {
        return Err("rate must be positive and size at least 8".to_owned());
    }
    let socket = UdpSocket::bind(SocketAddr::new(from, 0)).map_err(|e| format!("bind: {e}"))?;
    socket.connect(to).map_err(|e| format!("connect: {e}"))?;
    let mut packet = vec![0u8; size];
    let total = rate * seconds;
    let start = Instant::now();
    let mut sent = 0u64;
    let mut send_errors = 0u64;
    while sent < total {
        // When packet `sent` is due: start + sent / rate.
        let due = start + Duration::from_nanos(sent.saturating_mul(1_000_000_000) / rate);
        let now = Instant::now();
        if due > now + Duration::from_micros(200) {
            std::thread::sleep(due - now - Duration::from_micros(100));
            continue;
        }
        packet[..8].copy_from_slice(&sent.to_be_bytes());
        // A failed send (no route for a moment, buffer full) is a lost packet like any other:
        // the receiver sees its number missing.
        if socket.send(&packet).is_err() {
            send_errors += 1;
        }
        sent += 1;
    }
    Ok(format!(
        "{{\"sent\":{sent},\"send_errors\":{send_errors},\"seconds\":{:.3}}}",
        start.elapsed().as_secs_f64()
    ))
}

fn recv(args: &[String]) -> Result<String, String> {
    let bind: SocketAddr = parse("bind address", &args[0])?;
    let seconds: u64 = parse("seconds", &args[1])?;
    let socket = UdpSocket::bind(bind).map_err(|e| format!("bind: {e}"))?;
    // The default buffer holds a few milliseconds of small datagrams at 50,000/s: a receiver
    // that is not scheduled for that long would lose packets the tunnel delivered.
    socket2::SockRef::from(&socket)
        .set_recv_buffer_size(RECEIVE_BUFFER)
        .map_err(|e| format!("SO_RCVBUF: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| format!("timeout: {e}"))?;
    let start = Instant::now();
    let limit = Duration::from_secs(seconds);
    let mut seen: Vec<u64> = Vec::new(); // bitmap of sequence numbers
    let (mut received, mut duplicates, mut reordered, mut highest) = (0u64, 0u64, 0u64, None);
    let mut last_arrival: Option<Instant> = None;
    let mut buf = [0u8; 65536];
    loop {
        if start.elapsed() > limit
            || last_arrival.is_some_and(|t| t.elapsed() > Duration::from_secs(2))
        {
            break;
        }
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        if n < 8 {
            continue;
        }
        last_arrival = Some(Instant::now());
        let mut number = [0u8; 8];
        number.copy_from_slice(&buf[..8]);
        let seq = u64::from_be_bytes(number);
        let (word, bit) = (
            usize::try_from(seq / 64).map_err(|e| e.to_string())?,
            seq % 64,
        );
        if word >= seen.len() {
            if word > 1 << 26 {
                return Err(format!("sequence number {seq} is implausible"));
            }
            seen.resize(word + 1, 0);
        }
        if seen[word] & (1 << bit) != 0 {
            duplicates += 1;
            continue;
        }
        seen[word] |= 1 << bit;
        received += 1;
        match highest {
            Some(h) if seq < h => reordered += 1,
            _ => highest = Some(seq),
        }
    }
    let mut missing = Vec::new();
    if let Some(highest) = highest {
        let mut run: Option<(u64, u64)> = None;
        for seq in 0..=highest {
            let got = seen
                .get(usize::try_from(seq / 64).unwrap_or(usize::MAX))
                .is_some_and(|w| w & (1 << (seq % 64)) != 0);
            match (got, run) {
                (false, None) => run = Some((seq, seq)),
                (false, Some((first, _))) => run = Some((first, seq)),
                (true, Some(r)) => {
                    missing.push(r);
                    run = None;
                }
                (true, None) => {}
            }
        }
        missing.extend(run);
    }
    let ranges: Vec<String> = missing.iter().map(|(a, b)| format!("[{a},{b}]")).collect();
    Ok(format!(
        "{{\"received\":{received},\"duplicates\":{duplicates},\"reordered\":{reordered},\
         \"highest\":{},\"missing\":[{}]}}",
        highest.map_or_else(|| "null".to_owned(), |h| h.to_string()),
        ranges.join(",")
    ))
}
