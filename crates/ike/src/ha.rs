//! HA hooks of the endpoint (ARCHITECTURE.md §2.7): export an established IKE SA as a
//! snapshot, import one as a passive SA that sends nothing and arms no timer, and turn passive
//! SAs active (takeover) or active SAs passive (demotion).
