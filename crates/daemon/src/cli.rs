//! The command line: `hitlessd --config PATH [--foreground] [--log-level LEVEL]`.

use std::path::PathBuf;

use clap::Parser;

/// hitlessd, the hitless IKEv2/IPsec gateway daemon.
#[derive(Debug, Parser)]
#[command(
    name = "hitlessd",
    version,
    about = "The hitless IKEv2/IPsec gateway daemon",
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP
)]
pub(crate) struct Cli {
    /// The configuration file (TOML).
    #[arg(
        short,
        long,
        value_name = "PATH",
        default_value = hitless_config::DEFAULT_CONFIG_PATH
    )]
    pub(crate) config: PathBuf,

    /// Stay in the foreground and log to standard error. hitlessd never forks: this flag is
    /// accepted for the conventions of other daemons and of service managers, and changes
    /// nothing.
    #[arg(short, long)]
    pub(crate) foreground: bool,

    /// Log verbosity, overriding `daemon.log_level` of the configuration: error, warn, info,
    /// debug or trace, or a filter such as `info,hitless_ike=debug`.
    #[arg(short, long, value_name = "LEVEL")]
    pub(crate) log_level: Option<String>,

    /// Check the configuration, print what is wrong, and exit (0 when it is usable).
    #[arg(long)]
    pub(crate) check: bool,
}

const LONG_ABOUT: &str = "\
hitlessd is the hitless IKEv2/IPsec gateway daemon. It negotiates IKE and Child SAs (RFC 7296)
with its peers on UDP ports 500 and 4500, carries the protected traffic through its userspace
ESP data plane (a multi-queue TUN device and one worker per CPU), and answers hitlessctl on a
Unix control socket.

On start it reads the configuration file, opens its sockets and the TUN device, initiates the
connections whose Child SAs have start_action = \"start\", and then runs until it is told to
stop. It does not fork; run it under a service manager (contrib/hitlessd.service) or in a
terminal.";

const AFTER_LONG_HELP: &str = "\
SIGNALS
    SIGHUP     Reload the configuration file. SAs of connections that are still configured
               stay up; connections that were removed are deleted; new connections with
               start_action = \"start\" are initiated. A configuration with errors is refused
               and the running one kept.
    SIGTERM    Delete every SA politely (a DELETE is sent to each peer and answers are awaited
    SIGINT     for a few seconds), remove the routes and the control socket, and exit.

EXIT STATUS
    0    stopped by SIGTERM or SIGINT, or --check found a usable configuration
    1    a run-time failure (sockets, TUN device, control socket in use)
    2    the configuration file is unusable; the message names the file, line, key and what
         was expected

FILES
    /etc/hitless/hitless.toml      the default configuration file
    /run/hitless/hitlessd.sock     the default control socket (daemon.control_socket)

EXAMPLES
    hitlessd --config /etc/hitless/hitless.toml
    hitlessd --config site.toml --log-level debug
    hitlessd --config site.toml --check

SEE ALSO
    hitlessctl(8), the examples/ directory, docs/config.md";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_flags() {
        let cli = Cli::try_parse_from([
            "hitlessd",
            "--config",
            "/tmp/x.toml",
            "--foreground",
            "--log-level",
            "debug",
        ])
        .unwrap();
        assert_eq!(cli.config, PathBuf::from("/tmp/x.toml"));
        assert!(cli.foreground);
        assert_eq!(cli.log_level.as_deref(), Some("debug"));
        assert!(Cli::try_parse_from(["hitlessd", "--bogus"]).is_err());
    }
}
