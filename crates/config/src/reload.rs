//! What a reload (SIGHUP, `hitlessctl reload`) changes: which connections are new, gone,
//! changed or untouched, and which settings only a restart applies.
//!
//! SAs of untouched connections stay up; that is the point of comparing here rather than
//! restarting everything.

use crate::error::KeyPath;
use crate::model::Config;

/// The difference between the running configuration and a newly loaded one.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ReloadPlan {
    /// Connections only in the new file: start them per their `start_action`.
    pub added: Vec<String>,
    /// Connections gone from the file: delete their SAs.
    pub removed: Vec<String>,
    /// Connections whose settings (or whose pools) changed: replace their SAs.
    pub changed: Vec<String>,
    /// Connections identical in both: keep their SAs.
    pub unchanged: Vec<String>,
    /// Settings that changed but take effect only when hitlessd restarts (sockets, the data
    /// plane, HA); the daemon keeps the old values and says so.
    pub needs_restart: Vec<KeyPath>,
}

impl Config {
    /// What reloading from `self` to `new` changes.
    pub fn reload_plan(&self, new: &Self) -> ReloadPlan {
        let mut plan = ReloadPlan::default();
        for connection in &new.connections {
            match self.connection(&connection.name) {
                None => plan.added.push(connection.name.clone()),
                Some(old) => {
                    let pools_changed = connection.pools.iter().any(|name| {
                        let find =
                            |config: &Self| config.pools.iter().find(|p| &p.name == name).cloned();
                        find(self) != find(new)
                    });
                    if old == connection && !pools_changed {
                        plan.unchanged.push(connection.name.clone());
                    } else {
                        plan.changed.push(connection.name.clone());
                    }
                }
            }
        }
        for connection in &self.connections {
            if new.connection(&connection.name).is_none() {
                plan.removed.push(connection.name.clone());
            }
        }
        let root = KeyPath::root();
        let mut restart = |changed: bool, key: KeyPath| {
            if changed {
                plan.needs_restart.push(key);
            }
        };
        restart(
            self.daemon.control_socket != new.daemon.control_socket,
            root.key("daemon").key("control_socket"),
        );
        restart(
            self.daemon.metrics_listen != new.daemon.metrics_listen,
            root.key("daemon").key("metrics_listen"),
        );
        restart(self.data_plane != new.data_plane, root.key("data_plane"));
        restart(self.ike.port != new.ike.port, root.key("ike").key("port"));
        restart(
            self.ike.nat_t_port != new.ike.nat_t_port,
            root.key("ike").key("nat_t_port"),
        );
        restart(self.ha != new.ha, root.key("ha"));
        plan
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::fuzzing::FuzzFiles;

    fn load(source: &str) -> crate::Config {
        crate::parse(source, Path::new("/etc/hitless/hitless.toml"), &FuzzFiles).unwrap()
    }

    const OLD: &str = r#"
[pools.v4]
addrs = "10.99.0.0/24"

[connections.keep]
remote_addrs = "192.0.2.1"
remote_id = "keep"
psk_file = "k.psk"

[connections.change]
remote_addrs = "192.0.2.2"
remote_id = "change"
psk_file = "k.psk"

[connections.pool-user]
remote_addrs = "%any"
remote_id = "rw"
psk_file = "k.psk"
pools = ["v4"]

[connections.drop]
remote_addrs = "192.0.2.3"
remote_id = "drop"
psk_file = "k.psk"
"#;

    #[test]
    fn connections_are_sorted_into_the_plan() {
        let new = OLD
            .replace("192.0.2.2", "192.0.2.22")
            .replace("10.99.0.0/24", "10.98.0.0/24")
            .replace("[connections.drop]", "[connections.new]");
        let plan = load(OLD).reload_plan(&load(&new));
        assert_eq!(plan.unchanged, ["keep"]);
        assert_eq!(plan.changed, ["change", "pool-user"]);
        assert_eq!(plan.added, ["new"]);
        assert_eq!(plan.removed, ["drop"]);
        assert!(plan.needs_restart.is_empty());
    }

    #[test]
    fn identical_files_change_nothing() {
        let plan = load(OLD).reload_plan(&load(OLD));
        assert_eq!(plan.unchanged.len(), 4);
        assert!(plan.changed.is_empty() && plan.added.is_empty() && plan.removed.is_empty());
    }

    #[test]
    fn restart_only_settings_are_listed() {
        let new =
            format!("[data_plane]\nmtu = 1300\n[ike]\nport = 5000\nretransmit_tries = 9\n{OLD}");
        let plan = load(OLD).reload_plan(&load(&new));
        let keys: Vec<String> = plan.needs_restart.iter().map(ToString::to_string).collect();
        assert_eq!(keys, ["data_plane", "ike.port"]);
    }
}
