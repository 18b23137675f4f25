//! NO SECURITY. Deterministic crypto provider for simulation, fuzzing and tests only; never link it into a binary that protects traffic.
