//! Linux XFRM netlink backend.
