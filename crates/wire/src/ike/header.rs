//! The IKE header (RFC 7296 §3.1). Skeleton: filled in by the wire work.

use crate::error::ParseError;
use crate::ike::Header;

pub(crate) fn parse(_bytes: &[u8]) -> Result<Header, ParseError> {
    todo!()
}
