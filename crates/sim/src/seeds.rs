//! The seeds a seed-looping scenario runs: `SIM_SEEDS` (`7`, `0..2000`, `0..=9`, `1,5,9..12`)
//! or a short default range, so CI stays fast and a developer reruns one failing seed with
//! `SIM_SEEDS=<seed>`.

use std::env;
use std::ops::Range;

use crate::sim::Stalled;

/// How many seeds run when `SIM_SEEDS` is not set.
pub const DEFAULT_SEEDS: Range<u64> = 0..16;

/// A `SIM_SEEDS` value that does not parse.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("SIM_SEEDS={0:?}: expected seeds like `7`, `0..2000`, `0..=9` or `1,5,9..12`")]
pub struct SeedsError(pub String);

/// The seeds to run: `SIM_SEEDS` if set, else [`DEFAULT_SEEDS`].
///
/// # Panics
///
/// When `SIM_SEEDS` is set but malformed: a test harness should stop loudly, not run nothing.
pub fn seeds() -> impl Iterator<Item = u64> {
    seeds_or(DEFAULT_SEEDS)
}

/// The seeds to run: `SIM_SEEDS` if set, else `default` (for scenarios too slow for the
/// standard range).
///
/// # Panics
///
/// When `SIM_SEEDS` is set but malformed.
pub fn seeds_or(default: Range<u64>) -> impl Iterator<Item = u64> {
    let seeds = match env::var("SIM_SEEDS") {
        Ok(spec) => parse_seeds(&spec).unwrap_or_else(|error| panic!("{error}")),
        Err(_) => default.collect(),
    };
    seeds.into_iter()
}

/// Runs `scenario` for every seed of [`seeds()`] and stops at the first failure.
///
/// # Panics
///
/// On the first failing seed, with the seed, the reason, the transcript and the command to
/// rerun it: this is how a seed-looping test fails.
pub fn check_seeds(scenario: impl FnMut(u64) -> Result<(), Stalled>) {
    check_seed_list(seeds(), scenario);
}

/// Like [`check_seeds`] over an explicit list of seeds.
///
/// # Panics
///
/// On the first failing seed, as [`check_seeds`].
pub fn check_seed_list(
    seeds: impl IntoIterator<Item = u64>,
    mut scenario: impl FnMut(u64) -> Result<(), Stalled>,
) {
    for seed in seeds {
        if let Err(failure) = scenario(seed) {
            panic!("{failure}");
        }
    }
}

/// Parses a `SIM_SEEDS` value.
///
/// # Errors
///
/// When a part is neither a number nor a range of numbers.
pub fn parse_seeds(spec: &str) -> Result<Vec<u64>, SeedsError> {
    let error = || SeedsError(spec.to_owned());
    let mut seeds = Vec::new();
    for part in spec
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        if let Some((start, end)) = part.split_once("..=") {
            let (start, end) = (
                number(start).ok_or_else(error)?,
                number(end).ok_or_else(error)?,
            );
            seeds.extend(start..=end);
        } else if let Some((start, end)) = part.split_once("..") {
            let (start, end) = (
                number(start).ok_or_else(error)?,
                number(end).ok_or_else(error)?,
            );
            seeds.extend(start..end);
        } else {
            seeds.push(number(part).ok_or_else(error)?);
        }
    }
    if seeds.is_empty() {
        return Err(error());
    }
    Ok(seeds)
}

fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_ranges_and_lists() {
        assert_eq!(parse_seeds("7"), Ok(vec![7]));
        assert_eq!(parse_seeds("0..3"), Ok(vec![0, 1, 2]));
        assert_eq!(parse_seeds("0..=2"), Ok(vec![0, 1, 2]));
        assert_eq!(parse_seeds("1, 5,9..11"), Ok(vec![1, 5, 9, 10]));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_seeds("").is_err());
        assert!(parse_seeds("a..b").is_err());
        assert!(parse_seeds("3..x").is_err());
    }
}
