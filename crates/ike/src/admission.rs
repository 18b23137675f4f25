//! Whether the responder takes on a new IKE SA for an IKE_SA_INIT request: the COOKIE demand
//! ([RFC 7296 §2.6]) and the half-open limits ([RFC 8019 §4]).
//!
//! Everything here runs before any key exchange and before any state is allocated; a request
//! that is turned away costs one keyed hash and, when a cookie is demanded, one small
//! stateless response. Each rejection is counted under its reason.
//!
//! [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
//! [RFC 8019 §4]: https://www.rfc-editor.org/rfc/rfc8019#section-4

use std::time::Instant;

use hitless_wire::ike::ParsedMessage;
use hitless_wire::ike::Payload;
use hitless_wire::registry::NotifyType;
use tracing::debug;
use tracing::warn;

use crate::cookie::CookieCheck;
use crate::cookie::CookieInput;
use crate::endpoint::Datagram;
use crate::endpoint::Endpoint;
use crate::error::ErrorCounter;

/// The responder's decision on a new IKE_SA_INIT request.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Admission {
    /// Go on with the exchange; `proven` when a valid cookie proved the initiator's address.
    Accept {
        /// Whether a valid cookie came with the request.
        proven: bool,
    },
    /// Turned away (already answered with a COOKIE demand if one is due, and counted).
    Reject,
}

impl Endpoint {
    /// Decides on a new IKE_SA_INIT request ([RFC 7296 §2.6], [RFC 8019 §4.1]):
    ///
    /// 1. A cookie is demanded while `cookie_threshold` SAs are half-open in all, or
    ///    `max_per_source` from the request's address. A request without a valid one is
    ///    answered with a fresh COOKIE and nothing else; a cookie that does not verify is
    ///    treated as missing (§2.6).
    /// 2. A request whose address a valid cookie proved is dropped while `max_per_source`
    ///    proven SAs from that address are half-open.
    /// 3. Any request is dropped while `max_total` SAs are half-open.
    ///
    /// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
    /// [RFC 8019 §4.1]: https://www.rfc-editor.org/rfc/rfc8019#section-4.1
    pub(crate) fn admit(
        &mut self,
        now: Instant,
        datagram: &Datagram<'_>,
        parsed: &ParsedMessage<'_>,
    ) -> Admission {
        let limits = self.config.half_open;
        let address = datagram.remote.ip();
        let from_address = self.half_open_sas.of_address(address);
        let total = self.half_open_sas.total();
        let demanded =
            total >= limits.cookie_threshold as usize || from_address.all >= limits.max_per_source;
        let nonce = parsed.payloads.iter().find_map(|p| match p {
            Payload::Nonce(n) => Some(n.data.as_slice()),
            _ => None,
        });
        let cookie = parsed.payloads.iter().find_map(|p| match p {
            Payload::Notify(n) if n.notify_type == NotifyType::COOKIE => Some(n.data.as_slice()),
            _ => None,
        });
        let input = nonce.map(|nonce| CookieInput {
            nonce,
            address,
            spi_i: parsed.header.spi_i,
        });
        let check = match (&input, cookie) {
            (Some(input), Some(cookie)) => {
                match self
                    .cookies
                    .check(&self.crypto, &limits, now, cookie, input)
                {
                    Ok(check) => Some(check),
                    Err(error) => {
                        warn!(%error, "cannot check a cookie");
                        None
                    }
                }
            }
            _ => None,
        };
        let proven = check == Some(CookieCheck::Valid);
        if demanded && !proven {
            let reason = match check {
                Some(CookieCheck::Expired) => ErrorCounter::CookieExpired,
                Some(CookieCheck::Invalid) => ErrorCounter::CookieInvalid,
                _ => ErrorCounter::CookieRequired,
            };
            self.tables.counters.bump(reason);
            let Some(input) = input else {
                // No nonce: nothing to bind a cookie to; the request is malformed anyway.
                return Admission::Reject;
            };
            match self.cookies.make(&self.crypto, &limits, now, &input) {
                Ok(cookie) => {
                    debug!(remote = %datagram.remote, ?reason, "demanding a cookie");
                    self.stateless_error(&parsed.header, datagram, NotifyType::COOKIE, cookie);
                }
                Err(error) => warn!(%error, "cannot make a cookie"),
            }
            return Admission::Reject;
        }
        if let Some(check @ (CookieCheck::Expired | CookieCheck::Invalid)) = check {
            // Not demanded: §2.6 says to go on as if there were no cookie; count it anyway.
            self.tables.counters.bump(match check {
                CookieCheck::Expired => ErrorCounter::CookieExpired,
                _ => ErrorCounter::CookieInvalid,
            });
        }
        if proven && from_address.proven >= limits.max_per_source {
            debug!(remote = %datagram.remote, "too many half-open IKE SAs from this address");
            self.tables.counters.bump(ErrorCounter::HalfOpenPerSource);
            return Admission::Reject;
        }
        if total >= limits.max_total as usize {
            debug!(remote = %datagram.remote, "too many half-open IKE SAs");
            self.tables.counters.bump(ErrorCounter::HalfOpenLimit);
            return Admission::Reject;
        }
        Admission::Accept { proven }
    }
}
