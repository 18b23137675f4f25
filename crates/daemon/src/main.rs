//! hitlessd: the hitless IKEv2/IPsec daemon.

fn main() {}
