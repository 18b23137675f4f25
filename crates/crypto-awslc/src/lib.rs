//! Production crypto provider for hitless, on aws-lc-rs.
