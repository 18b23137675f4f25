//! The one ordered output queue of an endpoint (ARCHITECTURE.md §2.4).

use std::collections::VecDeque;
use std::net::SocketAddr;

use hitless_sadb::SaCommand;

use crate::endpoint::Output;
use crate::endpoint::Transmit;
use crate::event::Event;

/// Outputs in causal order: an SA command pushed before a transmit reaches the driver first.
#[derive(Debug, Default)]
pub(crate) struct OutputQueue {
    queue: VecDeque<Output>,
}

impl OutputQueue {
    /// Queues an IKE message; `non_esp_marker` when it goes over port 4500 (RFC 3948 §2.2).
    pub(crate) fn transmit(
        &mut self,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        non_esp_marker: bool,
        payload: Vec<u8>,
    ) {
        self.queue.push_back(Output::Transmit(Transmit {
            local,
            remote,
            non_esp_marker,
            keepalive: false,
            payload,
        }));
    }

    /// Queues a NAT keepalive (RFC 3948 §2.3).
    pub(crate) fn keepalive(&mut self, local: Option<SocketAddr>, remote: SocketAddr) {
        self.queue.push_back(Output::Transmit(Transmit {
            local,
            remote,
            non_esp_marker: false,
            keepalive: true,
            payload: vec![0xff],
        }));
    }

    /// Queues an SA command.
    pub(crate) fn sa(&mut self, command: SaCommand) {
        self.queue.push_back(Output::Sa(command));
    }

    /// Queues an event.
    pub(crate) fn event(&mut self, event: Event) {
        self.queue.push_back(Output::Event(event));
    }

    /// The next output.
    pub(crate) fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }
}
