//! Serde forms of the `hitless-sadb` identifiers: SPIs as the hex strings every IPsec tool
//! prints (`0xc1a2b3c4`, `0123456789abcdef`), resources as plain numbers.

/// An ESP SPI as `0x` and eight hex digits.
pub(crate) mod spi {
    use hitless_sadb::Spi;
    use serde::Deserialize;
    use serde::Deserializer;
    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(spi: &Spi, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(spi)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Spi, D::Error> {
        let text = String::deserialize(deserializer)?;
        let digits = text.strip_prefix("0x").unwrap_or(&text);
        u32::from_str_radix(digits, 16)
            .map(Spi)
            .map_err(|_| serde::de::Error::custom(format!("invalid SPI `{text}`")))
    }
}

/// An IKE SPI as sixteen hex digits.
pub(crate) mod ike_spi {
    use hitless_sadb::IkeSpi;
    use serde::Deserialize;
    use serde::Deserializer;
    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(spi: &IkeSpi, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(spi)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<IkeSpi, D::Error> {
        let text = String::deserialize(deserializer)?;
        u64::from_str_radix(&text, 16)
            .map(IkeSpi)
            .map_err(|_| serde::de::Error::custom(format!("invalid IKE SPI `{text}`")))
    }
}

/// An optional RFC 9611 resource as a number or null.
pub(crate) mod resource {
    use hitless_sadb::ResourceId;
    use serde::Deserialize;
    use serde::Deserializer;
    use serde::Serialize;
    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(
        resource: &Option<ResourceId>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        resource.map(|r| r.0).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<ResourceId>, D::Error> {
        Ok(Option::<u32>::deserialize(deserializer)?.map(ResourceId))
    }
}
