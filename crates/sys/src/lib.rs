//! OS adapters: UDP sockets, TUN devices, netns helpers.
