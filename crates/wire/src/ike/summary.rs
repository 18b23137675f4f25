//! One-line message summaries. Skeleton: filled in by the wire work.

use crate::ike::Header;
use crate::ike::Payload;

pub(crate) fn summarize(_header: &Header, _payloads: &[Payload], _encrypted: bool) -> String {
    todo!()
}
