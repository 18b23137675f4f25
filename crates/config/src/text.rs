//! Deserializing values written as strings, so that errors carry the value's own position.
//!
//! `toml` attaches a span to an error only while the value is being deserialized, so parsing
//! must happen inside the visitor, not after `String::deserialize` has returned.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::Deserializer;
use serde::de;

/// Deserializes a string through `FromStr`, with `expecting` in type errors.
pub(crate) fn deserialize_from_str<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    deserializer.deserialize_str(FromStrVisitor {
        expecting,
        marker: PhantomData,
    })
}

struct FromStrVisitor<T> {
    expecting: &'static str,
    marker: PhantomData<T>,
}

impl<T: FromStr<Err = String>> de::Visitor<'_> for FromStrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        value.parse().map_err(E::custom)
    }
}

/// Implements `FromStr` and `Deserialize` for a fieldless enum written as lowercase words.
macro_rules! string_enum {
    ($vis:vis $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!(
                        "unknown value `{other}`, expected {}",
                        Self::EXPECTED
                    )),
                }
            }
        }

        impl $name {
            /// The words accepted, for messages.
            const EXPECTED: &str = concat!("one of" $(, " `", $text, "`")+);

            /// The word for this value in the configuration file.
            $vis fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::text::deserialize_from_str(deserializer, Self::EXPECTED)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

pub(crate) use string_enum;
