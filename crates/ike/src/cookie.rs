//! The responder's COOKIE secret and the cookies made from it ([RFC 7296 §2.6]).
//!
//! A cookie is `<VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)`, as §2.6 suggests: four
//! bytes naming the secret, then HMAC-SHA2-256 keyed with the secret over the initiator's nonce,
//! IP address and SPI. The responder keeps no per-request state: it recomputes the hash when
//! the initiator returns the cookie and compares in constant time. The secret comes from the
//! provider's random source, is replaced every `cookie_secret_lifetime`, and the previous one
//! stays valid for `cookie_grace` after it was due to be replaced, so that an initiator that
//! answers a demand across a rotation is not turned away.
//!
//! Rotation is lazy (on the next use after it is due), which keeps the endpoint free of a timer
//! for it; the time a secret *should* have been retired is what the grace period counts from,
//! so a cookie never outlives `cookie_secret_lifetime + cookie_grace` however idle the endpoint
//! was.
//!
//! [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6

use std::net::IpAddr;
use std::time::Instant;

use hitless_crypto::CryptoError;
use hitless_crypto::CryptoProvider;
use hitless_crypto::Prf;
use hitless_crypto::SecretBytes;
use hitless_crypto::secret::constant_time_eq;
use hitless_wire::registry::PrfId;

use crate::config::HalfOpenConfig;

/// Length of the secret, in bytes (the HMAC-SHA2-256 key size).
const SECRET_LEN: usize = 32;
/// Length of the version field that opens a cookie.
const VERSION_LEN: usize = 4;
/// How many past secret versions a cookie is reported as expired (rather than invalid) for.
const FORGOTTEN_VERSIONS: u32 = 1024;

/// The cookie secrets: the current one and the one it replaced.
#[derive(Default)]
pub(crate) struct Cookies {
    current: Option<Secret>,
    previous: Option<Secret>,
}

struct Secret {
    version: u32,
    key: SecretBytes,
    created: Instant,
}

/// What a returned cookie turned out to be.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum CookieCheck {
    /// Made by us, for this nonce, address and SPI, with a secret still valid.
    Valid,
    /// Made with a secret that is no longer valid (or names no secret we know of): the
    /// initiator took too long, or replays an old cookie.
    Expired,
    /// Not ours for these inputs: forged, or made for another address, nonce or SPI.
    Invalid,
}

/// The inputs a cookie binds ([RFC 7296 §2.6]: Ni, IPi, SPIi).
///
/// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
pub(crate) struct CookieInput<'a> {
    /// The initiator's nonce.
    pub nonce: &'a [u8],
    /// The initiator's IP address, as the request came from.
    pub address: IpAddr,
    /// The initiator's SPI.
    pub spi_i: u64,
}

impl Cookies {
    /// A cookie for `input`, rotating the secret first if it is due.
    ///
    /// # Errors
    ///
    /// The random source or the provider lacks a PRF.
    pub(crate) fn make(
        &mut self,
        crypto: &CryptoProvider,
        config: &HalfOpenConfig,
        now: Instant,
        input: &CookieInput<'_>,
    ) -> Result<Vec<u8>, CryptoError> {
        self.rotate(crypto, config, now)?;
        let secret = self.current.as_ref().ok_or(CryptoError::Library)?;
        let prf = cookie_prf(crypto).ok_or(CryptoError::Library)?;
        let mut cookie = secret.version.to_be_bytes().to_vec();
        cookie.extend_from_slice(secret.mac(prf, input).expose());
        Ok(cookie)
    }

    /// Checks a cookie the initiator returned.
    ///
    /// # Errors
    ///
    /// As for [`Cookies::make`].
    pub(crate) fn check(
        &mut self,
        crypto: &CryptoProvider,
        config: &HalfOpenConfig,
        now: Instant,
        cookie: &[u8],
        input: &CookieInput<'_>,
    ) -> Result<CookieCheck, CryptoError> {
        self.rotate(crypto, config, now)?;
        let prf = cookie_prf(crypto).ok_or(CryptoError::Library)?;
        let Some((version, mac)) = cookie.split_first_chunk::<VERSION_LEN>() else {
            return Ok(CookieCheck::Invalid);
        };
        let version = u32::from_be_bytes(*version);
        let retired = |s: &Secret| s.created + config.cookie_secret_lifetime;
        let secret = [self.current.as_ref(), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|s| s.version == version);
        let Some(secret) = secret else {
            // Versions count up from a random start: a version a little below the current one
            // names a secret we have forgotten; anything else was never ours.
            let known = self.current.as_ref().map_or(0, |s| s.version);
            let age = known.wrapping_sub(version);
            return Ok(if (1..=FORGOTTEN_VERSIONS).contains(&age) {
                CookieCheck::Expired
            } else {
                CookieCheck::Invalid
            });
        };
        if !constant_time_eq(secret.mac(prf, input).expose(), mac) {
            return Ok(CookieCheck::Invalid);
        }
        let is_current = self.current.as_ref().is_some_and(|c| c.version == version);
        if !is_current && now.saturating_duration_since(retired(secret)) > config.cookie_grace {
            return Ok(CookieCheck::Expired);
        }
        Ok(CookieCheck::Valid)
    }

    /// Replaces the secret if it is older than its lifetime (or creates the first one).
    fn rotate(
        &mut self,
        crypto: &CryptoProvider,
        config: &HalfOpenConfig,
        now: Instant,
    ) -> Result<(), CryptoError> {
        let due = self.current.as_ref().is_none_or(|s| {
            now.saturating_duration_since(s.created) >= config.cookie_secret_lifetime
        });
        if !due {
            return Ok(());
        }
        let mut key = SecretBytes::zeroed(SECRET_LEN);
        crypto.fill_random(key.expose_mut())?;
        let version = match &self.current {
            Some(old) => old.version.wrapping_add(1),
            None => {
                let mut start = [0; VERSION_LEN];
                crypto.fill_random(&mut start)?;
                u32::from_be_bytes(start)
            }
        };
        // The new secret's life starts when the old one was due to end, so that lazy rotation
        // does not stretch any cookie's validity; if it is long past, it starts now.
        let created = match &self.current {
            Some(old) => {
                let due_at = old.created + config.cookie_secret_lifetime;
                if now.saturating_duration_since(due_at) < config.cookie_secret_lifetime {
                    due_at
                } else {
                    now
                }
            }
            None => now,
        };
        self.previous = self.current.take();
        self.current = Some(Secret {
            version,
            key,
            created,
        });
        Ok(())
    }
}

impl Secret {
    fn mac(&self, prf: &dyn Prf, input: &CookieInput<'_>) -> SecretBytes {
        let address = match input.address {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        prf.compute(
            self.key.expose(),
            &[input.nonce, &address, &input.spi_i.to_be_bytes()],
        )
    }
}

/// HMAC-SHA2-256 if the provider has it, else its first PRF.
fn cookie_prf(crypto: &CryptoProvider) -> Option<&'static dyn Prf> {
    crypto
        .prf(PrfId::HMAC_SHA2_256)
        .or_else(|| crypto.prfs.first().copied())
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::unwrap_used)] // a fake clock needs an origin
mod tests {
    use std::time::Duration;

    use super::*;

    fn setup() -> (CryptoProvider, HalfOpenConfig, Instant) {
        (
            hitless_crypto_insecure::provider(7),
            HalfOpenConfig::default(),
            Instant::now(),
        )
    }

    fn input(address: [u8; 4]) -> CookieInput<'static> {
        CookieInput {
            nonce: &[0x11; 32],
            address: IpAddr::from(address),
            spi_i: 0x0102_0304_0506_0708,
        }
    }

    #[test]
    fn cookie_is_bound_to_nonce_address_and_spi() {
        let (crypto, config, now) = setup();
        let mut cookies = Cookies::default();
        let cookie = cookies
            .make(&crypto, &config, now, &input([192, 0, 2, 1]))
            .unwrap();
        assert_eq!(cookie.len(), VERSION_LEN + 32);
        let check = |cookies: &mut Cookies, cookie: &[u8], input: &CookieInput<'_>| {
            cookies.check(&crypto, &config, now, cookie, input).unwrap()
        };
        assert_eq!(
            check(&mut cookies, &cookie, &input([192, 0, 2, 1])),
            CookieCheck::Valid
        );
        assert_eq!(
            check(&mut cookies, &cookie, &input([192, 0, 2, 2])),
            CookieCheck::Invalid
        );
        let other_spi = CookieInput {
            spi_i: 9,
            ..input([192, 0, 2, 1])
        };
        assert_eq!(
            check(&mut cookies, &cookie, &other_spi),
            CookieCheck::Invalid
        );
        let other_nonce = CookieInput {
            nonce: &[0x22; 32],
            ..input([192, 0, 2, 1])
        };
        assert_eq!(
            check(&mut cookies, &cookie, &other_nonce),
            CookieCheck::Invalid
        );
        let mut forged = cookie.clone();
        forged[10] ^= 1;
        assert_eq!(
            check(&mut cookies, &forged, &input([192, 0, 2, 1])),
            CookieCheck::Invalid
        );
        assert_eq!(
            check(&mut cookies, &cookie[..3], &input([192, 0, 2, 1])),
            CookieCheck::Invalid
        );
    }

    #[test]
    fn previous_secret_is_valid_only_during_the_grace_period() {
        let (crypto, config, start) = setup();
        let mut cookies = Cookies::default();
        let who = input([192, 0, 2, 1]);
        let cookie = cookies.make(&crypto, &config, start, &who).unwrap();
        let at = |d: u64| start + Duration::from_secs(d);
        // Still the current secret just before the rotation.
        assert_eq!(
            cookies
                .check(&crypto, &config, at(59), &cookie, &who)
                .unwrap(),
            CookieCheck::Valid
        );
        // Rotated at 60 s; the old secret is honoured for 10 s more.
        assert_eq!(
            cookies
                .check(&crypto, &config, at(65), &cookie, &who)
                .unwrap(),
            CookieCheck::Valid
        );
        let fresh = cookies.make(&crypto, &config, at(65), &who).unwrap();
        assert_ne!(fresh, cookie);
        assert_eq!(
            cookies
                .check(&crypto, &config, at(71), &cookie, &who)
                .unwrap(),
            CookieCheck::Expired
        );
        // Two rotations later the secret is gone altogether.
        assert_eq!(
            cookies
                .check(&crypto, &config, at(200), &cookie, &who)
                .unwrap(),
            CookieCheck::Expired
        );
        assert_eq!(
            cookies
                .check(&crypto, &config, at(200), &fresh, &who)
                .unwrap(),
            CookieCheck::Expired
        );
    }

    #[test]
    fn lazy_rotation_does_not_stretch_validity() {
        let (crypto, config, start) = setup();
        let mut cookies = Cookies::default();
        let who = input([192, 0, 2, 1]);
        let cookie = cookies.make(&crypto, &config, start, &who).unwrap();
        // Nothing happens for 65 s: the secret was due at 60 s, so the grace runs to 70 s.
        let late = start + Duration::from_secs(71);
        assert_eq!(
            cookies
                .check(&crypto, &config, late, &cookie, &who)
                .unwrap(),
            CookieCheck::Expired
        );
    }
}
