//! Control protocol between hitlessd and hitlessctl.
