#!/usr/bin/env bash
# The hitless demo: two sites, each a host behind a gateway running hitlessd, joined by an IPsec
# tunnel across a simulated internet, all in network namespaces on this machine.
#
#   host-a 10.1.0.10 ── gw-a 10.1.0.1 | 192.0.2.1 ═══ IPsec ═══ 192.0.2.2 | 10.2.0.1 gw-b ── host-b 10.2.0.10
#
# It builds hitlessd and hitlessctl, brings the tunnel up, pings across it, runs a short iperf3,
# shows `hitlessctl list-sas` on both gateways, and removes everything it created, also on
# Ctrl-C or failure. Needs root (namespaces, TUN). Usage: sudo ./scripts/demo.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [ "${1:-}" = "--debug" ]; then
    profile=debug
elif [ -n "${1:-}" ]; then
    echo "usage: $0 [--debug]" >&2
    exit 2
fi

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root for network namespaces and TUN devices: sudo $0"
[ -e /dev/net/tun ] || fail "/dev/net/tun is missing: this kernel has no TUN support"
for tool in ip ping iperf3 cargo; do
    command -v "$tool" >/dev/null || {
        [ "$tool" = cargo ] && fail "cargo is missing: install Rust (https://rustup.rs)"
        ./scripts/install-deps.sh
        command -v "$tool" >/dev/null || fail "$tool is missing"
    }
done

ns=(hldemo-host-a hldemo-gw-a hldemo-gw-b hldemo-host-b)
work=$(mktemp -d /tmp/hitless-demo.XXXXXX)
pids=()
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for n in "${ns[@]}"; do
        ip netns del "$n" 2>/dev/null || true
    done
    if [ "$status" -eq 130 ]; then
        echo "demo: interrupted" >&2
    elif [ "$status" -ne 0 ]; then
        echo "demo: failed; the end of the gateways' logs follows" >&2
        for gw in a b; do
            [ -f "$work/gw-$gw/hitlessd.log" ] && sed "s/^/gw-$gw: /" "$work/gw-$gw/hitlessd.log" | tail -n 20 >&2
        done
    fi
    rm -rf "$work"
    say "cleaned up: namespaces deleted, daemons stopped"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building hitlessd and hitlessctl ($profile)"
if [ "$profile" = release ]; then
    cargo build --release --locked -q -p hitlessd -p hitlessctl
else
    cargo build --locked -q -p hitlessd -p hitlessctl
fi
target=${CARGO_TARGET_DIR:-target}/$profile
hitlessd=$(realpath "$target/hitlessd")
hitlessctl=$(realpath "$target/hitlessctl")

say "creating two sites in network namespaces: host-a, gw-a, gw-b, host-b"
for n in "${ns[@]}"; do
    ip netns del "$n" 2>/dev/null || true
    ip netns add "$n"
    ip -n "$n" link set lo up
done
link() { # NS-A IF-A ADDR-A NS-B IF-B ADDR-B
    ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$4" addr add "$6" dev "$5"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}
link hldemo-host-a eth0 10.1.0.10/24 hldemo-gw-a lan 10.1.0.1/24
link hldemo-gw-a wan 192.0.2.1/24 hldemo-gw-b wan 192.0.2.2/24
link hldemo-gw-b lan 10.2.0.1/24 hldemo-host-b eth0 10.2.0.10/24
ip -n hldemo-host-a route add default via 10.1.0.1
ip -n hldemo-host-b route add default via 10.2.0.1
for gw in hldemo-gw-a hldemo-gw-b; do
    ip netns exec "$gw" sysctl -qw net.ipv4.ip_forward=1
done

say "configuring the gateways (PSK in a 0600 file, aes256gcm16-prfsha384-x25519)"
(umask 077; head -c 32 /dev/urandom | base64 > "$work/psk")
gateway_config() { # NAME LOCAL REMOTE LOCAL_NET REMOTE_NET PEER
    mkdir -p "$work/gw-$1"
    cat > "$work/gw-$1/hitless.toml" <<EOF
[daemon]
control_socket = "$work/gw-$1/hitlessd.sock"
log_level = "info"

[connections.site-$6]
local_addrs = ["$2"]
remote_addrs = ["$3"]
local_id = "gw-$1.example.org"
remote_id = "gw-$6.example.org"
psk_file = "$work/psk"
proposals = ["aes256gcm16-prfsha384-x25519"]

[connections.site-$6.children.net]
local_ts = ["$4"]
remote_ts = ["$5"]
esp_proposals = ["aes256gcm16"]
EOF
}
gateway_config a 192.0.2.1 192.0.2.2 10.1.0.0/16 10.2.0.0/16 b
gateway_config b 192.0.2.2 192.0.2.1 10.2.0.0/16 10.1.0.0/16 a

say "starting hitlessd on gw-a and gw-b"
for gw in a b; do
    "$hitlessd" --check --config "$work/gw-$gw/hitless.toml" >/dev/null
    ip netns exec "hldemo-gw-$gw" "$hitlessd" --config "$work/gw-$gw/hitless.toml" \
        > "$work/gw-$gw/hitlessd.log" 2>&1 &
    pids+=($!)
done
ctl() { local gw=$1; shift; "$hitlessctl" --socket "$work/gw-$gw/hitlessd.sock" "$@"; }
for gw in a b; do
    for _ in $(seq 100); do
        ctl "$gw" status >/dev/null 2>&1 && break
        sleep 0.1
    done
    ctl "$gw" status >/dev/null || fail "hitlessd on gw-$gw did not start"
done

say "bringing the tunnel up: hitlessctl initiate site-b (on gw-a)"
ctl a initiate site-b

say "ping host-a -> host-b through the tunnel"
ip netns exec hldemo-host-a ping -c 3 -i 0.2 10.2.0.10 | sed -n '/packets transmitted/p'

say "iperf3 host-a -> host-b, 3 seconds of TCP"
ip netns exec hldemo-host-b iperf3 -s -1 -B 10.2.0.10 > "$work/iperf3-server.log" 2>&1 &
pids+=($!)
sleep 0.3
ip netns exec hldemo-host-a iperf3 -c 10.2.0.10 -t 3 -f m | grep -E 'receiver$' \
    | awk '{print "    " $7 " " $8 " received (" $5 " " $6 ")"}'

say "hitlessctl list-sas on gw-a"
ctl a list-sas
say "hitlessctl list-sas on gw-b"
ctl b list-sas
say "demo complete"
