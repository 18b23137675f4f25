//! Command-line syntax. The help text is the manual: `hitlessctl --help` and
//! `hitlessctl COMMAND --help` say what each command does, show examples, and list exit codes.

use std::path::PathBuf;

use clap::Args;
use clap::Parser;
use clap::Subcommand;
use clap::ValueEnum;

/// Control hitlessd, the hitless IKEv2/IPsec gateway.
#[derive(Debug, Parser)]
#[command(
    name = "hitlessctl",
    version,
    about = "Control hitlessd, the hitless IKEv2/IPsec gateway",
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    /// The daemon's control socket.
    #[arg(
        short,
        long,
        global = true,
        value_name = "PATH",
        env = "HITLESS_SOCKET",
        default_value = hitless_control::DEFAULT_SOCKET_PATH
    )]
    pub(crate) socket: PathBuf,

    /// Print JSON instead of tables (one object per line for `events`).
    #[arg(short, long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show the daemon's version, uptime, SA counts, data plane and HA role.
    #[command(long_about = STATUS_ABOUT)]
    Status,

    /// List IKE SAs and their Child SAs with SPIs, algorithms, traffic and rekey times.
    #[command(visible_alias = "sas", long_about = LIST_SAS_ABOUT)]
    ListSas {
        /// Only the SAs of this connection.
        #[arg(short, long, value_name = "NAME")]
        connection: Option<String>,
    },

    /// Bring up a connection (all its Child SAs marked start_action = "start", or one).
    #[command(long_about = INITIATE_ABOUT)]
    Initiate {
        /// The connection, as named in the configuration (`[connections.NAME]`).
        connection: String,
        /// Only this Child SA of the connection.
        #[arg(short, long, value_name = "NAME")]
        child: Option<String>,
        /// Return once the request is accepted instead of waiting for the SAs.
        #[arg(long)]
        no_wait: bool,
        /// Give up waiting after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        timeout: u64,
    },

    /// Delete SAs, telling the peer (an INFORMATIONAL DELETE).
    #[command(long_about = TERMINATE_ABOUT)]
    Terminate(Target),

    /// Rekey SAs now, without losing a packet.
    #[command(long_about = REKEY_ABOUT)]
    Rekey(Target),

    /// Reload the configuration file; SAs of unchanged connections stay up.
    #[command(long_about = RELOAD_ABOUT)]
    Reload,

    /// Show counters: handshakes, failures by reason, rekeys, data-plane drops by reason.
    #[command(long_about = STATS_ABOUT)]
    Stats,

    /// Show the log level, or change it.
    #[command(long_about = LOG_LEVEL_ABOUT)]
    LogLevel {
        /// The new level; without it, show the current one.
        level: Option<Level>,
    },

    /// Check a configuration file without a running daemon.
    #[command(long_about = CHECK_CONFIG_ABOUT)]
    CheckConfig {
        /// The file to check.
        #[arg(default_value = hitless_config::DEFAULT_CONFIG_PATH)]
        file: PathBuf,
    },

    /// Set this node's high-availability role (keepalived notify hooks) or show it.
    #[command(long_about = HA_ABOUT)]
    Ha {
        /// What to do.
        action: HaCommand,
    },

    /// Follow the daemon's events (SAs up, rekeyed, down, failures) until interrupted.
    #[command(long_about = EVENTS_ABOUT)]
    Events {
        /// Also show log lines at this level or more severe.
        #[arg(short, long, value_name = "LEVEL")]
        logs: Option<Level>,
    },
}

/// Which SAs to act on: exactly one of the four.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub(crate) struct Target {
    /// Every IKE SA of this connection (and their Child SAs).
    #[arg(long, value_name = "CONNECTION")]
    pub(crate) ike: Option<String>,
    /// The IKE SA with this id (the ID column of `list-sas`).
    #[arg(long, value_name = "ID")]
    pub(crate) ike_id: Option<u64>,
    /// Every Child SA with this name.
    #[arg(long, value_name = "NAME")]
    pub(crate) child: Option<String>,
    /// The Child SA with this id.
    #[arg(long, value_name = "ID")]
    pub(crate) child_id: Option<u64>,
}

/// Log levels, quietest first.
#[derive(Clone, Copy, Debug, Eq, PartialEq, ValueEnum)]
pub(crate) enum Level {
    /// Only failures of the daemon itself.
    Error,
    /// Also SA failures and misbehaving peers.
    Warn,
    /// Also one line per SA lifecycle change (the default).
    Info,
    /// Also one line per IKE message.
    Debug,
    /// Everything, including per-packet data-plane detail.
    Trace,
}

/// HA actions.
#[derive(Clone, Copy, Debug, Eq, PartialEq, ValueEnum)]
pub(crate) enum HaCommand {
    /// This node now owns the virtual IP: take over every SA (keepalived MASTER).
    Active,
    /// This node is a standby: stop sending, keep syncing (keepalived BACKUP).
    Standby,
    /// This node is faulty: stop sending (keepalived FAULT).
    Fault,
    /// Show the role and the sync state.
    Status,
}

impl From<Level> for hitless_control::LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Error => Self::Error,
            Level::Warn => Self::Warn,
            Level::Info => Self::Info,
            Level::Debug => Self::Debug,
            Level::Trace => Self::Trace,
        }
    }
}

impl From<HaCommand> for hitless_control::HaAction {
    fn from(command: HaCommand) -> Self {
        match command {
            HaCommand::Active => Self::Active,
            HaCommand::Standby => Self::Standby,
            HaCommand::Fault => Self::Fault,
            HaCommand::Status => Self::Status,
        }
    }
}

impl Target {
    /// The protocol's form of the selection.
    pub(crate) fn to_sa_target(&self) -> hitless_control::SaTarget {
        use hitless_control::SaRef;
        use hitless_control::SaTarget;
        match (&self.ike, self.ike_id, &self.child, self.child_id) {
            (Some(name), ..) => SaTarget::Ike(SaRef::Name(name.clone())),
            (_, Some(id), ..) => SaTarget::Ike(SaRef::Id(id)),
            (_, _, Some(name), _) => SaTarget::Child(SaRef::Name(name.clone())),
            (_, _, _, Some(id)) => SaTarget::Child(SaRef::Id(id)),
            // clap's required group guarantees one of the four; IKE SA #0 never exists.
            (None, None, None, None) => SaTarget::Ike(SaRef::Id(0)),
        }
    }
}

const LONG_ABOUT: &str = "\
hitlessctl talks to hitlessd over its control socket: it shows the SAs and counters, brings \
connections up and down, rekeys, reloads the configuration, changes the log level, and sets the \
node's role in a high-availability cluster. check-config works without a daemon.

Output is a human-readable table by default; --json prints the daemon's answer as JSON, \
for scripts and monitoring (field names are stable within a protocol version).";

const AFTER_LONG_HELP: &str = "\
EXAMPLES:
    hitlessctl status
    hitlessctl list-sas
    hitlessctl list-sas --json | jq '.ike_sas[].children[].bytes_in'
    hitlessctl initiate site-b
    hitlessctl terminate --ike site-b
    hitlessctl rekey --child net
    hitlessctl check-config /etc/hitless/hitless.toml
    hitlessctl events --logs debug

EXIT STATUS:
    0   success
    1   the daemon refused or failed the request (unknown SA, invalid state, timeout, …)
    2   invalid command line, or an invalid configuration file (check-config, reload)
    3   hitlessd is not running

FILES:
    /run/hitless/hitlessd.sock   the control socket (mode 0600: root only)
    /etc/hitless/hitless.toml    the configuration (see docs/config.md)

ENVIRONMENT:
    HITLESS_SOCKET   the control socket, instead of --socket";

const STATUS_ABOUT: &str = "\
Show the daemon's version, process id and uptime, the configuration file and log level, the \
data plane, how many IKE and Child SAs are up, the configured connections, the metrics \
endpoint, the HA role, and a warning if the Wireshark key log is on.

Example:
    hitlessctl status";

const LIST_SAS_ABOUT: &str = "\
List every IKE SA with its Child SAs: ids, state, role, addresses, identities, SPIs, \
negotiated algorithms, bytes and packets each way, age, time to the next rekey, and the RFC 9611 \
resource (CPU/queue) of per-resource Child SAs. --json gives everything a monitoring script \
needs.

Examples:
    hitlessctl list-sas
    hitlessctl list-sas --connection site-b
    hitlessctl list-sas --json";

const INITIATE_ABOUT: &str = "\
Bring up a connection from the configuration: set up its IKE SA (or reuse an established one) \
and create its Child SAs with start_action = \"start\" (or the first, if none is), or only the \
one named with --child. By default hitlessctl waits until the Child SAs are installed or \
the attempt fails, and exits 1 on failure or after --timeout seconds.

Examples:
    hitlessctl initiate site-b
    hitlessctl initiate site-b --child net
    hitlessctl initiate site-b --no-wait";

const TERMINATE_ABOUT: &str = "\
Delete SAs politely: the peer is told with an INFORMATIONAL DELETE (RFC 7296 §1.4.1). \
Deleting an IKE SA deletes its Child SAs. A connection with start_action = \"start\" is not \
brought up again until the next initiate or reload.

Examples:
    hitlessctl terminate --ike site-b
    hitlessctl terminate --ike-id 7
    hitlessctl terminate --child net
    hitlessctl terminate --child-id 12";

const REKEY_ABOUT: &str = "\
Rekey SAs now, as if their rekey time had come: new keys, new SPIs, no packet lost (RFC 7296 \
§2.8). Rekeying an IKE SA moves its Child SAs to the new IKE SA (§2.18).

Examples:
    hitlessctl rekey --ike site-b
    hitlessctl rekey --child net
    hitlessctl rekey --child-id 12";

const RELOAD_ABOUT: &str = "\
Read the configuration file again, as SIGHUP does. Connections whose settings did not change \
keep their SAs; changed connections are replaced; removed ones are deleted; new ones start \
according to their start_action. An invalid file is refused with its error (exit 2) and the \
running configuration stays in force.

Example:
    hitlessctl reload";

const STATS_ABOUT: &str = "\
Show counters since the daemon started: IKE handshakes initiated and answered, established \
and failed (with the reasons), IKE and Child SA rekeys, retransmissions, cookies, invalid \
messages, and the ESP data plane's traffic and drops by reason.

Examples:
    hitlessctl stats
    hitlessctl stats --json";

const LOG_LEVEL_ABOUT: &str = "\
Show the daemon's log level, or change it without a restart. Levels, quietest first: error, \
warn, info (one line per SA change), debug (one line per IKE message), trace.

Examples:
    hitlessctl log-level
    hitlessctl log-level debug";

const CHECK_CONFIG_ABOUT: &str = "\
Load a configuration file exactly as hitlessd would, without a running daemon: TOML syntax, \
unknown keys, values, rules across keys (life time above rekey time, one authentication \
method, …), the files it names (PSKs must be readable by their owner only), and settings the \
engine does not support yet. Prints OK, with any warnings, or the first error with its file, \
line, column and key, and exits 2.

Examples:
    hitlessctl check-config
    hitlessctl check-config ./gw-a.toml";

const HA_ABOUT: &str = "\
Set this node's role in an active/standby cluster, or show it. keepalived owns the virtual IP \
and calls these from its notify scripts; a node that becomes standby or fault stops sending on \
every SA at once, and a node that becomes active takes over every SA without renegotiating.

Examples:
    hitlessctl ha status
    hitlessctl ha active        # notify_master
    hitlessctl ha standby       # notify_backup
    hitlessctl ha fault         # notify_fault";

const EVENTS_ABOUT: &str = "\
Follow the daemon's events as they happen: IKE SAs established, rekeyed, deleted or failed \
(with the reason), Child SAs installed, rekeyed or deleted, HA role changes and reloads; with \
--logs, log lines too. Runs until interrupted or until the daemon stops. With --json, one JSON \
object per line.

Examples:
    hitlessctl events
    hitlessctl events --logs debug
    hitlessctl events --json | jq 'select(.event.type == \"ike-sa-failed\")'";

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use hitless_control::SaRef;
    use hitless_control::SaTarget;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("hitlessctl").chain(args.iter().copied()))
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_and_defaults() {
        let cli = parse(&["status"]).unwrap();
        assert_eq!(cli.socket, PathBuf::from("/run/hitless/hitlessd.sock"));
        assert!(!cli.json);
        let cli = parse(&[
            "list-sas",
            "--json",
            "--socket",
            "/tmp/s.sock",
            "-c",
            "site-b",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket, PathBuf::from("/tmp/s.sock"));
        assert!(
            matches!(cli.command, Command::ListSas { connection: Some(ref c) } if c == "site-b")
        );
        assert!(matches!(
            parse(&["sas"]).unwrap().command,
            Command::ListSas { .. }
        ));
    }

    #[test]
    fn sa_targets() {
        let target = |args: &[&str]| match parse(args).unwrap().command {
            Command::Terminate(target) | Command::Rekey(target) => target.to_sa_target(),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            target(&["terminate", "--ike", "site-b"]),
            SaTarget::Ike(SaRef::Name("site-b".into()))
        );
        assert_eq!(
            target(&["terminate", "--ike-id", "7"]),
            SaTarget::Ike(SaRef::Id(7))
        );
        assert_eq!(
            target(&["rekey", "--child", "net"]),
            SaTarget::Child(SaRef::Name("net".into()))
        );
        assert_eq!(
            target(&["rekey", "--child-id", "12"]),
            SaTarget::Child(SaRef::Id(12))
        );
        // Exactly one target.
        assert!(parse(&["rekey"]).is_err());
        assert!(parse(&["rekey", "--ike", "a", "--child", "b"]).is_err());
        assert!(parse(&["rekey", "--ike-id", "x"]).is_err());
    }

    #[test]
    fn initiate_options() {
        let Command::Initiate {
            connection,
            child,
            no_wait,
            timeout,
        } = parse(&["initiate", "site-b", "--child", "net", "--timeout", "5"])
            .unwrap()
            .command
        else {
            panic!("not initiate");
        };
        assert_eq!(
            (connection.as_str(), child.as_deref(), no_wait, timeout),
            ("site-b", Some("net"), false, 5)
        );
        assert!(parse(&["initiate"]).is_err());
    }

    #[test]
    fn levels_ha_and_check_config() {
        assert!(matches!(
            parse(&["log-level"]).unwrap().command,
            Command::LogLevel { level: None }
        ));
        assert!(matches!(
            parse(&["log-level", "debug"]).unwrap().command,
            Command::LogLevel {
                level: Some(Level::Debug)
            }
        ));
        assert!(parse(&["log-level", "loud"]).is_err());
        assert!(matches!(
            parse(&["ha", "standby"]).unwrap().command,
            Command::Ha {
                action: HaCommand::Standby
            }
        ));
        assert!(parse(&["ha", "primary"]).is_err());
        let Command::CheckConfig { file } = parse(&["check-config"]).unwrap().command else {
            panic!("not check-config");
        };
        assert_eq!(file, PathBuf::from("/etc/hitless/hitless.toml"));
        assert!(matches!(
            parse(&["events", "--logs", "warn"]).unwrap().command,
            Command::Events {
                logs: Some(Level::Warn)
            }
        ));
    }

    #[test]
    fn every_command_has_examples_in_its_long_help() {
        let mut command = Cli::command();
        for sub in command.get_subcommands_mut() {
            if sub.get_name() == "help" {
                continue;
            }
            let help = sub.render_long_help().to_string();
            assert!(
                help.contains("hitlessctl "),
                "{} --help has no example",
                sub.get_name()
            );
        }
    }
}
