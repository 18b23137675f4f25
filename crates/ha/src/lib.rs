//! Sans-IO HA state sync between cluster nodes.
