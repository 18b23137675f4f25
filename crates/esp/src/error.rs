//! Errors of the control side: commands the data plane cannot apply.

use hitless_crypto::CryptoError;
use hitless_sadb::Direction;
use hitless_sadb::EspAlgorithms;
use hitless_sadb::ReqId;
use hitless_sadb::Spi;

/// Why an [`SaCommand`](hitless_sadb::SaCommand) was refused. API misuse by the engine or an
/// unsupported configuration; never caused by a peer's packet.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum InstallError {
    /// The provider has no such algorithm combination for ESP, or it does not fit ESP's packet
    /// layout (an AEAD whose explicit IV is not 8 bytes, RFC 4106 §3.1).
    #[error("unsupported ESP algorithms {0:?}")]
    UnsupportedAlgorithms(EspAlgorithms),
    /// A key had the wrong length or was refused by the provider.
    #[error("bad key: {0}")]
    Key(CryptoError),
    /// The anti-replay window is larger than [`MAX_REPLAY_WINDOW`](crate::MAX_REPLAY_WINDOW).
    #[error("replay window of {0} packets is too large")]
    ReplayWindowTooLarge(u32),
    /// An SA with this SPI and direction exists with different keys or algorithms; replacing
    /// it would restart its sequence numbers under a new key without a new SPI.
    #[error("SA {spi} ({direction:?}) exists with different keys or algorithms")]
    Conflict {
        /// The SPI.
        spi: Spi,
        /// The direction.
        direction: Direction,
    },
    /// The SPI is reserved (0–255, RFC 4303 §2.1).
    #[error("SPI {0} is reserved")]
    ReservedSpi(Spi),
    /// No outbound SA with this SPI is installed.
    #[error("no outbound SA {0}")]
    UnknownOutboundSa(Spi),
    /// No SA with this SPI and direction is installed.
    #[error("no SA {spi} ({direction:?})")]
    UnknownSa {
        /// The SPI.
        spi: Spi,
        /// The direction.
        direction: Direction,
    },
    /// No policy with this reqid is installed.
    #[error("no policy {0:?}")]
    UnknownPolicy(ReqId),
    /// The SA's addresses mix IPv4 and IPv6.
    #[error("local and remote addresses of SA {0} are of different families")]
    MixedFamilies(Spi),
}
