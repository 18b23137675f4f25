//! hitlessctl: control CLI for hitlessd.

fn main() {}
