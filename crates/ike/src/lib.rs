//! Sans-IO IKEv2 engine.
