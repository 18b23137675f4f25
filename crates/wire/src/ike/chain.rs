//! The generic payload chain (RFC 7296 §3.2). Skeleton: filled in by the wire work.

use crate::error::ParseError;
use crate::ike::EncryptedKind;
use crate::ike::Header;
use crate::ike::ParsedMessage;
use crate::ike::Payload;
use crate::registry::PayloadType;

pub(crate) fn parse_message(_bytes: &[u8]) -> Result<ParsedMessage<'_>, ParseError> {
    todo!()
}

pub(crate) fn parse_chain(_first: PayloadType, _bytes: &[u8]) -> Result<Vec<Payload>, ParseError> {
    todo!()
}

pub(crate) fn emit_chain(_payloads: &[Payload], _next_after_last: PayloadType) -> Vec<u8> {
    todo!()
}

pub(crate) fn emit_message(_header: &Header, _payloads: &[Payload]) -> Vec<u8> {
    todo!()
}

pub(crate) fn emit_encrypted(
    _header: &Header,
    _kind: EncryptedKind,
    _first_inner: PayloadType,
    _body_len: usize,
) -> (Vec<u8>, usize) {
    todo!()
}
