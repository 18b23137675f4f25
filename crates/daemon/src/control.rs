//! What the control server asks of the IKE task: a request of the control protocol with the
//! channel for its answer. The control server handles the handshake, subscriptions and
//! malformed input itself (`hitless_control::ServerSession`); everything else comes here.

use hitless_control::ControlError;
use hitless_control::Request;
use hitless_control::Response;
use tokio::sync::oneshot;

/// A request for the IKE task, with the channel for its reply.
pub(crate) struct Call {
    /// What to do.
    pub(crate) request: Request,
    /// Where the answer goes.
    pub(crate) reply: oneshot::Sender<Result<Response, ControlError>>,
}
