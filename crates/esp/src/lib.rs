//! Sans-IO userspace ESP engine: SAD, SPD, encapsulation, anti-replay.
