# Shared by the benchmark scripts under bench/ (source it; it defines functions only):
# logging, CPU accounting, two namespaces joined by veth, and strongSwan charon with
# kernel-libipsec in a namespace. The caller owns its PIDS array and its cleanup trap.
# shellcheck shell=bash

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }

# utime+stime of the given processes (all their threads), in clock ticks.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12+$13}')))
  done
  echo "$t"
}

# "busy total" jiffies of the whole machine: two readings give how many cores were busy.
busy_cores() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# The median of the numbers on standard input ("-" for none).
median() {
  sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "-"; else printf "%.3f", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'
}

# ns_pair NS_A NS_B VETH_A VETH_B UL_A UL_B [IN_A IN_B]: two fresh namespaces joined by a veth
# pair with /24 underlay addresses, optional /32 inner addresses on lo (the protected hosts of
# an IPsec tunnel), IPv6 and reverse-path filtering off; returns once UL_A reaches UL_B.
ns_pair() {
  local ns_a=$1 ns_b=$2 veth_a=$3 veth_b=$4 ul_a=$5 ul_b=$6 in_a=${7:-} in_b=${8:-} ns i
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  ip netns add "$ns_a"
  ip netns add "$ns_b"
  ip link add "$veth_a" netns "$ns_a" type veth peer name "$veth_b" netns "$ns_b"
  ip -n "$ns_a" addr add "$ul_a/24" dev "$veth_a"
  ip -n "$ns_b" addr add "$ul_b/24" dev "$veth_b"
  [ -z "$in_a" ] || ip -n "$ns_a" addr add "$in_a/32" dev lo
  [ -z "$in_b" ] || ip -n "$ns_b" addr add "$in_b/32" dev lo
  for ns in "$ns_a" "$ns_b"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.default.rp_filter=0
  done
  ip -n "$ns_a" link set "$veth_a" up
  ip -n "$ns_b" link set "$veth_b" up
  for i in $(seq 1 50); do
    ip netns exec "$ns_a" ping -c1 -W1 "$ul_b" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "no ping from $ul_a to $ul_b"
}

# swanctl_files DIR LOCAL REMOTE LOCAL_NET REMOTE_NET PSK [CONN_EXTRA [CHARON_EXTRA]]: a
# swanctl.conf (connection "tun", Child SA "net", PSK, ESP in UDP, aes128gcm16, no DPD,
# nothing started) and a strongswan.conf for charon with kernel-libipsec, its vici socket in DIR.
swanctl_files() {
  local d=$1 s
  for s in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12; do
    mkdir -p "$d/swanctl/$s"
  done
  cat >"$d/swanctl/swanctl.conf" <<EOF
connections {
  tun {
    version = 2
    local_addrs = $2
    remote_addrs = $3
    proposals = aes128gcm16-prfsha256-x25519
    encap = yes
    dpd_delay = 0
    rekey_time = 4h
    ${7:-}
    local {
      auth = psk
      id = $2
    }
    remote {
      auth = psk
      id = $3
    }
    children {
      net {
        mode = tunnel
        local_ts = $4
        remote_ts = $5
        esp_proposals = aes128gcm16
        rekey_time = 1h
        start_action = none
        close_action = none
        dpd_action = none
      }
    }
  }
}
secrets {
  ike-ab {
    id-a = $2
    id-b = $3
    secret = $6
  }
}
EOF
  cat >"$d/strongswan.conf" <<EOF
charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac gcm curve25519 kdf pem pkcs1 pubkey x509 kernel-libipsec kernel-netlink socket-default vici updown counters
  install_virtual_ip = no
  ${8:-}
  filelog { main { path = $d/charon.log
    default = ${SW_LOGLEVEL:-0} } }
  syslog { daemon { default = -1 } }
  plugins {
    vici { socket = unix://$d/charon.vici }
    kernel-libipsec { allow_peer_ts = no }
  }
}
EOF
}

# swanctl against the charon whose files are in DIR: swc DIR ARGS...
swc() { local d=$1; shift; swanctl "$@" --uri "unix://$d/charon.vici"; }

# charon_start DIR NS: starts charon (CHARON, default /usr/lib/ipsec/charon) in NS with DIR's
# files, loads them, and sets CHARON_PID. charon wants its own /run (pid file, lock): it runs
# in a private mount namespace.
charon_start() {
  local d=$1 ns=$2 charon=${CHARON:-/usr/lib/ipsec/charon} i
  [ -x "$charon" ] || die "$charon is missing (strongswan-charon)"
  rm -f "$d/charon.vici" "$d/pid"
  setsid ip netns exec "$ns" unshare -m --propagation private sh -c \
    "echo \$\$ >'$d/pid'; mount -t tmpfs bench-run /run && mkdir -p /run/lock && exec env STRONGSWAN_CONF='$d/strongswan.conf' '$charon'" \
    </dev/null >"$d/stdout" 2>&1 &
  disown
  for i in $(seq 1 100); do
    [ -S "$d/charon.vici" ] && swc "$d" --stats >/dev/null 2>&1 && break
    sleep 0.1
  done
  CHARON_PID=$(cat "$d/pid")
  swc "$d" --load-all --noprompt --file "$d/swanctl/swanctl.conf" >/dev/null \
    || die "charon in $ns: $(cat "$d/stdout")"
}
