//! The provider conformance suite of `hitless_crypto::conformance`, against the production
//! provider.

#[test]
fn production_provider_conforms() {
    hitless_crypto::conformance::check_provider(&hitless_crypto_awslc::provider());
}
