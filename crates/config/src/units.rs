//! Durations, byte counts and CPU counts as they are written in the configuration.
//!
//! Durations follow swanctl: a number of seconds, or a number with a unit (`ms`, `s`, `m`, `h`,
//! `d`), several of which may be chained (`1h30m`). Byte counts accept binary suffixes (`K`, `M`,
//! `G`, `T`, optionally followed by `iB` or `B`: `500M` is 500 × 2²⁰ bytes).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde::Deserializer;
use serde::de;

/// A duration in the configuration (`"30s"`, `"1h30m"`, `"100ms"`, or an integer of seconds).
#[derive(Clone, Copy, Debug, Default, Eq, Ord, PartialEq, PartialOrd)]
pub struct ConfigDuration(pub Duration);

/// A number of bytes (`1073741824`, `"1G"`, `"500MiB"`).
#[derive(Clone, Copy, Debug, Default, Eq, Ord, PartialEq, PartialOrd)]
pub struct ByteCount(pub u64);

/// Either a fixed number or one per CPU (`4`, `"cpus"`).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CpuCount {
    /// One per CPU the daemon may run on.
    Cpus,
    /// A fixed number.
    Fixed(u32),
}

/// Formats a duration the way the configuration writes it (`1h30m`, `100ms`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if millis >= size {
            out.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    if millis > 0 {
        out.push_str(&format!("{millis}ms"));
    }
    out
}

impl FromStr for ConfigDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const EXPECTED: &str = ", expected a duration such as \"30s\", \"10m\", \"1h30m\", \
                                \"100ms\" or an integer number of seconds";
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("empty duration{EXPECTED}"));
        }
        if let Ok(seconds) = text.parse::<u64>() {
            return Ok(Self(Duration::from_secs(seconds)));
        }
        let mut total = Duration::ZERO;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(format!("invalid duration `{text}`{EXPECTED}"));
            }
            let (number, tail) = rest.split_at(digits);
            let tail = tail.trim_start();
            let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
            let (unit, tail) = tail.split_at(unit_len);
            let tail = tail.trim_start();
            let number: u64 = number
                .parse()
                .map_err(|_| format!("duration `{text}` is too large"))?;
            let part = match unit {
                "ms" => Duration::from_millis(number),
                "s" => Duration::from_secs(number),
                "m" => Duration::from_secs(number.saturating_mul(60)),
                "h" => Duration::from_secs(number.saturating_mul(3_600)),
                "d" => Duration::from_secs(number.saturating_mul(86_400)),
                "" => {
                    return Err(format!(
                        "duration `{text}` needs a unit after {number}{EXPECTED}"
                    ));
                }
                other => {
                    return Err(format!(
                        "unknown unit `{other}` in duration `{text}`{EXPECTED}"
                    ));
                }
            };
            total = total
                .checked_add(part)
                .ok_or_else(|| format!("duration `{text}` is too large"))?;
            rest = tail;
        }
        Ok(Self(total))
    }
}

impl FromStr for ByteCount {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const EXPECTED: &str =
            ", expected a number of bytes such as 1073741824, \"500M\", \"1G\" or \"2GiB\"";
        let trimmed = text.trim();
        let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("invalid byte count `{text}`{EXPECTED}"));
        }
        let (number, suffix) = trimmed.split_at(digits);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("byte count `{text}` is too large"))?;
        let shift = match suffix.trim_start() {
            "" | "B" => 0,
            "K" | "KB" | "KiB" | "k" => 10,
            "M" | "MB" | "MiB" => 20,
            "G" | "GB" | "GiB" => 30,
            "T" | "TB" | "TiB" => 40,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in byte count `{text}`{EXPECTED}"
                ));
            }
        };
        number
            .checked_mul(1u64 << shift)
            .map(Self)
            .ok_or_else(|| format!("byte count `{text}` is too large"))
    }
}

impl FromStr for CpuCount {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "cpus" => Ok(Self::Cpus),
            other => other.parse().map(Self::Fixed).map_err(|_| {
                format!("invalid count `{text}`, expected a number or \"cpus\" (one per CPU)")
            }),
        }
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberOrText::<Self>::new(
            "a duration such as \"30s\", \"1h30m\" or an integer number of seconds",
            |n| Ok(Self(Duration::from_secs(n))),
        ))
    }
}

impl<'de> Deserialize<'de> for ByteCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberOrText::<Self>::new(
            "a number of bytes such as 1073741824 or \"1G\"",
            |n| Ok(Self(n)),
        ))
    }
}

impl<'de> Deserialize<'de> for CpuCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberOrText::<Self>::new("a number or \"cpus\"", |n| {
            u32::try_from(n)
                .map(Self::Fixed)
                .map_err(|_| format!("count {n} is too large"))
        }))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Accepts a non-negative integer or a string parsed with `FromStr`.
struct NumberOrText<T> {
    expecting: &'static str,
    from_number: fn(u64) -> Result<T, String>,
}

impl<T> NumberOrText<T> {
    fn new(expecting: &'static str, from_number: fn(u64) -> Result<T, String>) -> Self {
        Self {
            expecting,
            from_number,
        }
    }
}

impl<T: FromStr<Err = String>> de::Visitor<'_> for NumberOrText<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        (self.from_number)(value).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        let value = u64::try_from(value).map_err(|_| {
            E::custom(format!(
                "negative value {value}, expected {}",
                self.expecting
            ))
        })?;
        self.visit_u64(value)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        value.parse().map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let parse = |s: &str| s.parse::<ConfigDuration>().map(|d| d.0);
        assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5_400)));
        assert!(parse("1 hour").unwrap_err().contains("unknown unit `hour`"));
        assert!(parse("h").unwrap_err().contains("invalid duration"));
        assert!(parse("10m5").unwrap_err().contains("needs a unit"));
        assert!(parse("").is_err());
        assert!(parse("99999999999999999999d").is_err());
    }

    #[test]
    fn duration_format_round_trips() {
        for text in ["0s", "1h30m", "100ms", "1d1h1m1s1ms", "4h"] {
            let duration = text.parse::<ConfigDuration>().unwrap();
            assert_eq!(duration.to_string(), text);
        }
    }

    #[test]
    fn byte_counts() {
        let parse = |s: &str| s.parse::<ByteCount>().map(|b| b.0);
        assert_eq!(parse("1024"), Ok(1024));
        assert_eq!(parse("1K"), Ok(1024));
        assert_eq!(parse("500M"), Ok(500 << 20));
        assert_eq!(parse("2GiB"), Ok(2 << 30));
        assert_eq!(parse("1 T"), Ok(1 << 40));
        assert!(parse("1X").unwrap_err().contains("unknown unit `X`"));
        assert!(parse("99999999999T").unwrap_err().contains("too large"));
        assert!(parse("G").is_err());
    }

    #[test]
    fn cpu_counts() {
        assert_eq!("cpus".parse::<CpuCount>(), Ok(CpuCount::Cpus));
        assert_eq!("4".parse::<CpuCount>(), Ok(CpuCount::Fixed(4)));
        assert!("many".parse::<CpuCount>().unwrap_err().contains("\"cpus\""));
    }
}
