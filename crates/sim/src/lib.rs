//! Deterministic network simulator and scenario tests.
