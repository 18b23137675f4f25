#!/usr/bin/env bash
# Issue 6's system benchmark: throughput through a tunnel between two network namespaces on this
# machine, hitless against its anchors in one run:
#   veth        plain veth, no tunnel (the machine's ceiling)
#   tunudp      the anchors' C relay `tunudp -g`: TUN TSO + UDP GSO/GRO + TCP coalescing and no
#               crypto (the ceiling of a userspace tunnel here)
#   hitless     two hitlessd, ESP in UDP (AES-128-GCM), the userspace data plane
#   hitless-esp the same with plain ESP (IP protocol 50, no UDP encapsulation)
#   strongswan  two strongSwan 5.9 charon with kernel-libipsec (userspace ESP in UDP, AES-128-GCM)
#   boringtun   two boringtun-cli (userspace WireGuard) with --threads 1, its best here
# each measured with iperf3: TCP 1 stream, TCP 4 streams, and UDP packets/s at 64- and
# 1400-byte IP packets (receiver side, `-b 0`); median of RUNS runs of DUR seconds. Prints one
# table with the tunnel processes' CPU (cores) and the ratios issue 6 asks for: hitless against
# strongSwan, boringtun and `tunudp -g`.
#
# Topology: netns tp-a / tp-b, veth tp-va 10.241.0.1/24 <-> tp-vb 10.241.0.2/24 (MTU 1500).
# IPsec: inner addresses 10.243.1.1 (a) and 10.243.2.1 (b) on lo, traffic selectors
# 10.243.1.0/24 <-> 10.243.2.0/24. tunudp and boringtun: tunnel devices 10.242.0.1/24 <->
# 10.242.0.2/24 with MTU 1420. hitlessd's TUN also has MTU 1420; strongSwan's ipsec0 keeps its
# default (1400). iperf3 client in tp-a (it encapsulates), server in tp-b (it decapsulates).
#
# Usage: bench/tunnel-throughput.sh                 RUNS=3 DUR=10 by default
#        RUNS=1 DUR=3 bench/tunnel-throughput.sh    quick look
#        VARIANTS="veth hitless" bench/tunnel-throughput.sh
#        HITLESS_WORKERS=2 ...                      data-plane workers per hitlessd (default 1)
#        PERF=1 ...                                 perf record both hitlessd during the first TCP
#                                                   1-stream run; prints the top symbols
# Needs root. Installs what it lacks (iperf3, jq, gcc, libssl-dev, wireguard-tools, strongSwan;
# boringtun-cli with `cargo install` into $TP_TMP/boringtun, a few minutes the first time).
# Tears everything down on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

RUNS="${RUNS:-3}"
DUR="${DUR:-10}"
MTU=1420
VARIANTS="${VARIANTS:-veth tunudp hitless hitless-esp strongswan boringtun}"
HITLESS_WORKERS="${HITLESS_WORKERS:-1}"
ANCHORS="${ANCHORS:-$ROOT/../shared/reference/anchors-harness}"
[ -d "$ANCHORS" ] || ANCHORS=/work/shared/reference/anchors-harness
TMP="${TP_TMP:-/tmp/hitless-tunnel-throughput}"
BORINGTUN="${BORINGTUN:-$TMP/boringtun/bin/boringtun-cli}"
CHARON="${CHARON:-/usr/lib/ipsec/charon}"
NS_A=tp-a
NS_B=tp-b
UL_A=10.241.0.1
UL_B=10.241.0.2
TUN_A=10.242.0.1
TUN_B=10.242.0.2
IN_A=10.243.1.1
IN_B=10.243.2.1
NET_A=10.243.1.0/24
NET_B=10.243.2.0/24
PORT=41000
PIDS=()

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

kill_pids() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  PIDS=()
  if [ -f "$TMP/iperf3.pid" ]; then kill "$(cat "$TMP/iperf3.pid")" 2>/dev/null || true; rm -f "$TMP/iperf3.pid"; fi
  # charon runs under `unshare` in its own mount namespace: find it by its config path.
  pkill -f "STRONGSWAN_CONF=$TMP/" 2>/dev/null || true
  for p in $(pgrep -f "^$CHARON" 2>/dev/null); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q "^STRONGSWAN_CONF=$TMP/" && kill -9 "$p" 2>/dev/null || true
  done
  rm -f /var/run/wireguard/tp-wga.sock /var/run/wireguard/tp-wgb.sock
}
cleanup() {
  kill_pids
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN)"
[ -c /dev/net/tun ] || die "no /dev/net/tun"
mkdir -p "$TMP"

need=()
for pair in iperf3:iperf3 jq:jq gcc:gcc wg:wireguard-tools; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair##*:}")
done
[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
./scripts/install-deps.sh
case " $VARIANTS " in
  *" boringtun "*)
    if [ ! -x "$BORINGTUN" ]; then
      log "installing boringtun-cli into $TMP/boringtun (cargo install, a few minutes)"
      cargo install --locked -q boringtun-cli --root "$TMP/boringtun"
    fi
    ;;
esac

log "building hitlessd and hitlessctl (release) and tunudp"
cargo build --release --locked -q -p hitlessd -p hitlessctl
HITLESSD="$ROOT/target/release/hitlessd"
HITLESSCTL="$ROOT/target/release/hitlessctl"
gcc -O2 -Wall -pthread -o "$TMP/tunudp" "$ANCHORS/tunudp.c" -lcrypto || die "cannot build $ANCHORS/tunudp.c"

setup_ns() {
  cleanup
  ns_pair "$NS_A" "$NS_B" tp-va tp-vb "$UL_A" "$UL_B" "$IN_A" "$IN_B"
}
wait_ping() { # FROM TO
  local i
  for i in $(seq 1 50); do
    ip netns exec "$NS_A" ping -c1 -W1 -I "$1" "$2" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "no ping from $1 to $2"
}
iperf_server() {
  rm -f "$TMP/iperf3.pid"
  ip netns exec "$NS_B" iperf3 -s -D -B "$1" -p 5201 --pidfile "$TMP/iperf3.pid" >/dev/null 2>&1
  sleep 0.5
}
RESULTS="$TMP/results.txt"
: >"$RESULTS"
# measure LABEL TEST SRC DST  (TEST: tcp1 tcp4 udp64 udp1400); tunnel pids in $TUNNEL_PIDS
measure() {
  local label="$1" test="$2" src="$3" dst="$4"
  local args=()
  case "$test" in
    tcp1) args=() ;;
    tcp4) args=(-P 4) ;;
    udp64) args=(-u -b 0 -l 36) ;;     # 20 IP + 8 UDP + 36 = 64-byte packets
    udp1400) args=(-u -b 0 -l 1372) ;; # 1400-byte packets
  esac
  : >"$TMP/series"
  local r
  for r in $(seq 1 "$RUNS"); do
    local c0 c1 s0 s1 json="$TMP/iperf.json" perf_pid=""
    # shellcheck disable=SC2086
    c0=$(cpu_ticks $TUNNEL_PIDS)
    s0=$(busy_cores)
    if [ "${PERF:-0}" = 1 ] && [ "$r" = 1 ] && [ "$test" = tcp1 ] && [[ "$label" == hitless* ]]; then
      perf record -F 1999 -g -p "$(echo "$TUNNEL_PIDS" | tr ' ' ',')" -o "$TMP/perf-$label.data" \
        -- sleep "$DUR" >/dev/null 2>&1 &
      perf_pid=$!
      PIDS+=("$perf_pid")
    fi
    ip netns exec "$NS_A" iperf3 -c "$dst" -B "$src" -p 5201 -t "$DUR" "${args[@]}" -J >"$json" 2>/dev/null || true
    if [ -n "$perf_pid" ]; then
      wait "$perf_pid" 2>/dev/null || true
      perf report -i "$TMP/perf-$label.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' | head -40 \
        >"$TMP/perf-$label.top" || true
      log "  perf top symbols ($label, both daemons): $TMP/perf-$label.top"
      sed 's/^/      /' "$TMP/perf-$label.top" >&2
      # Where the time goes, grouped: every sampled symbol falls in one group.
      perf report -i "$TMP/perf-$label.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
        | awk '/^ +[0-9.]+%/ {
            share = $1 + 0; dso = $2; sym = $0
            if (sym ~ /aws_lc|aes_gcm|gcm_|aead_|chacha|poly1305|AeadKey|seal_in_place|open_in_place/) g = "crypto (aws-lc and its wrapper)"
            else if (sym ~ /_copy_to_iter|_copy_from_iter|__check_object_size|copy_user|memcpy_orig/) g = "kernel copies user<->kernel"
            else if (sym ~ /finish_task_switch|_raw_spin_unlock_irqrestore|schedule|try_to_wake_up|__wake_up|futex/) g = "scheduling and wake-ups"
            else if (sym ~ /do_syscall|entry_SYSCALL|syscall_exit|irqentry_exit/) g = "syscall entry/exit"
            else if (dso ~ /kernel/) g = "kernel network stack and the rest of the kernel"
            else if (sym ~ /hitless_sys::offload/) g = "offloads: segmentation, coalescing, checksums"
            else if (sym ~ /memmove|memset|memcmp|memcpy/) g = "libc memmove/memset/memcmp"
            else g = "hitless ESP, worker loop and the rest"
            sum[g] += share
          } END { for (g in sum) printf "      %5.1f%%  %s\n", sum[g], g }' \
        | sort -rn >"$TMP/perf-$label.groups" || true
      log "  perf by group ($label, both daemons):"
      cat "$TMP/perf-$label.groups" >&2
    fi
    # shellcheck disable=SC2086
    c1=$(cpu_ticks $TUNNEL_PIDS)
    s1=$(busy_cores)
    local value unit cores machine hz
    if [[ "$test" == udp* ]]; then
      value=$(jq -r '.end.sum as $s | (($s.packets // 0) - ($s.lost_packets // 0)) / ($s.seconds // 1) / 1000' "$json" 2>/dev/null || echo 0)
      unit=kpps
    else
      value=$(jq -r '(.end.sum_received.bits_per_second // 0)/1e9' "$json" 2>/dev/null || echo 0)
      unit=Gbit/s
    fi
    hz=$(getconf CLK_TCK)
    cores=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v d="$DUR" 'BEGIN{printf "%.2f", (b-a)/hz/d}')
    machine=$(echo "$s0 $s1" | awk '{printf "%.2f", ($3-$1)/($4-$2)*2}')
    log "  $label $test run $r: $(printf %.3f "$value") $unit tunnel_cores=$cores machine_busy=$machine"
    echo "$value $cores" >>"$TMP/series"
  done
  echo "$label $test $(awk '{print $1}' "$TMP/series" | median) $(awk '{print $2}' "$TMP/series" | median)" >>"$RESULTS"
}
measure_all() { # LABEL SRC DST
  local t
  for t in tcp1 tcp4 udp64 udp1400; do measure "$1" "$t" "$2" "$3"; done
}

start_tunudp() {
  setup_ns
  ip netns exec "$NS_A" "$TMP/tunudp" -i tp-tua -l "$UL_A" -r "$UL_B" -p "$PORT" -g >"$TMP/a.out" 2>&1 &
  local pa=$!
  ip netns exec "$NS_B" "$TMP/tunudp" -i tp-tub -l "$UL_B" -r "$UL_A" -p "$PORT" -g >"$TMP/b.out" 2>&1 &
  local pb=$!
  PIDS+=("$pa" "$pb")
  TUNNEL_PIDS="$pa $pb"
  local i
  for i in $(seq 1 50); do
    grep -q '^ready' "$TMP/a.out" && grep -q '^ready' "$TMP/b.out" && break
    sleep 0.1
  done
  grep -q '^ready' "$TMP/b.out" || die "tunudp did not start: $(cat "$TMP/a.out" "$TMP/b.out")"
  ip -n "$NS_A" addr add "$TUN_A/24" dev tp-tua
  ip -n "$NS_B" addr add "$TUN_B/24" dev tp-tub
  ip -n "$NS_A" link set tp-tua mtu "$MTU" up
  ip -n "$NS_B" link set tp-tub mtu "$MTU" up
  wait_ping "$TUN_A" "$TUN_B"
  iperf_server "$TUN_B"
}

hitless_config() { # SIDE LOCAL REMOTE LOCAL_NET REMOTE_NET UDP_ENCAP
  mkdir -p "$TMP/hl-$1"
  cat >"$TMP/hl-$1/hitless.toml" <<EOF
[daemon]
control_socket = "$TMP/hl-$1/hitlessd.sock"
log_level = "warn"

[data_plane]
workers = $HITLESS_WORKERS
mtu = $MTU
tun_name = "hitless0"

[connections.peer]
local_addrs = ["$2"]
remote_addrs = ["$3"]
local_id = "$2"
remote_id = "$3"
psk_file = "$TMP/psk"
proposals = ["aes128gcm16-prfsha256-x25519"]
udp_encap = "$6"

[connections.peer.children.net]
local_ts = ["$4"]
remote_ts = ["$5"]
esp_proposals = ["aes128gcm16"]
EOF
}
start_hitless() { # UDP_ENCAP
  setup_ns
  (umask 077; head -c 32 /dev/urandom | base64 >"$TMP/psk")
  hitless_config a "$UL_A" "$UL_B" "$NET_A" "$NET_B" "$1"
  hitless_config b "$UL_B" "$UL_A" "$NET_B" "$NET_A" "$1"
  local side pids=()
  for side in a b; do
    ip netns exec "tp-$side" "$HITLESSD" --config "$TMP/hl-$side/hitless.toml" >"$TMP/hl-$side/log" 2>&1 &
    pids+=($!)
  done
  PIDS+=("${pids[@]}")
  TUNNEL_PIDS="${pids[*]}"
  for side in a b; do
    local i
    for i in $(seq 1 100); do
      "$HITLESSCTL" --socket "$TMP/hl-$side/hitlessd.sock" status >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  "$HITLESSCTL" --socket "$TMP/hl-a/hitlessd.sock" initiate peer >/dev/null \
    || die "hitless tunnel did not come up: $(tail -5 "$TMP/hl-a/log")"
  wait_ping "$IN_A" "$IN_B"
  iperf_server "$IN_B"
}

start_strongswan() {
  setup_ns
  (umask 077; head -c 32 /dev/urandom | base64 >"$TMP/psk")
  swanctl_files "$TMP/sw-a" "$UL_A" "$UL_B" "$NET_A" "$NET_B" "0s$(cat "$TMP/psk")"
  swanctl_files "$TMP/sw-b" "$UL_B" "$UL_A" "$NET_B" "$NET_A" "0s$(cat "$TMP/psk")"
  local side pids=()
  for side in a b; do
    charon_start "$TMP/sw-$side" "tp-$side"
    pids+=("$CHARON_PID")
  done
  PIDS+=("${pids[@]}")
  TUNNEL_PIDS="${pids[*]}"
  swc "$TMP/sw-a" --initiate --child net --timeout 15 >/dev/null || die "strongSwan tunnel did not come up"
  wait_ping "$IN_A" "$IN_B"
  iperf_server "$IN_B"
}

start_boringtun() {
  setup_ns
  local side
  (umask 077
   for side in a b; do
     [ -s "$TMP/wg-$side.key" ] || wg genkey >"$TMP/wg-$side.key"
     wg pubkey <"$TMP/wg-$side.key" >"$TMP/wg-$side.pub"
   done)
  local pids=()
  for side in a b; do
    rm -f "/var/run/wireguard/tp-wg$side.sock"
    WG_SUDO=1 ip netns exec "tp-$side" "$BORINGTUN" --foreground --threads 1 --disable-drop-privileges \
      --log "$TMP/boringtun-$side.log" "tp-wg$side" >"$TMP/boringtun-$side.out" 2>&1 &
    pids+=($!)
    local i
    for i in $(seq 1 50); do [ -S "/var/run/wireguard/tp-wg$side.sock" ] && break; sleep 0.1; done
  done
  PIDS+=("${pids[@]}")
  TUNNEL_PIDS="${pids[*]}"
  ip netns exec "$NS_A" wg set tp-wga private-key "$TMP/wg-a.key" listen-port 51820 \
    peer "$(cat "$TMP/wg-b.pub")" endpoint "$UL_B:51821" allowed-ips "$TUN_B/32"
  ip netns exec "$NS_B" wg set tp-wgb private-key "$TMP/wg-b.key" listen-port 51821 \
    peer "$(cat "$TMP/wg-a.pub")" endpoint "$UL_A:51820" allowed-ips "$TUN_A/32"
  ip -n "$NS_A" addr add "$TUN_A/24" dev tp-wga
  ip -n "$NS_B" addr add "$TUN_B/24" dev tp-wgb
  ip -n "$NS_A" link set tp-wga mtu "$MTU" up
  ip -n "$NS_B" link set tp-wgb mtu "$MTU" up
  wait_ping "$TUN_A" "$TUN_B"
  iperf_server "$TUN_B"
}

echo "== bench/tunnel-throughput.sh $(date -u +%FT%TZ) RUNS=$RUNS DUR=${DUR}s $(nproc) cores, $(uname -r), hitless workers=$HITLESS_WORKERS"
for v in $VARIANTS; do
  case "$v" in
    veth)
      log "veth (no tunnel)"
      setup_ns; iperf_server "$UL_B"; TUNNEL_PIDS=""
      measure_all veth "$UL_A" "$UL_B"
      ;;
    tunudp)
      log "tunudp -g (C, offloads, no crypto)"
      start_tunudp; measure_all tunudp-g "$TUN_A" "$TUN_B"
      ;;
    hitless)
      log "hitless <-> hitless, ESP in UDP, AES-128-GCM"
      start_hitless force; measure_all hitless "$IN_A" "$IN_B"
      ;;
    hitless-esp)
      log "hitless <-> hitless, plain ESP, AES-128-GCM"
      start_hitless auto; measure_all hitless-esp "$IN_A" "$IN_B"
      ;;
    strongswan)
      log "strongSwan <-> strongSwan, kernel-libipsec, AES-128-GCM"
      start_strongswan; measure_all strongswan "$IN_A" "$IN_B"
      ;;
    boringtun)
      log "boringtun <-> boringtun, --threads 1"
      start_boringtun; measure_all boringtun "$TUN_A" "$TUN_B"
      ;;
    *) die "unknown variant $v" ;;
  esac
  kill_pids
done

value_of() { awk -v l="$1" -v t="$2" '$1==l && $2==t {print $3}' "$RESULTS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a!="" && b!="" && b>0) printf "%.2f", a/b; else print "-"}'; }
echo
printf '| %-12s | %-16s | %-16s | %-16s | %-16s |\n' "path" "TCP 1 stream" "TCP 4 streams" "UDP 64 B" "UDP 1400 B"
printf '| %-12s | %-16s | %-16s | %-16s | %-16s |\n' "---" "---" "---" "---" "---"
for v in $VARIANTS; do
  label=$v; [ "$v" = tunudp ] && label=tunudp-g
  row=()
  for t in tcp1 tcp4 udp64 udp1400; do
    line=$(awk -v l="$label" -v t="$t" '$1==l && $2==t' "$RESULTS")
    [ -z "$line" ] && { row+=("-"); continue; }
    read -r _ _ val cores <<<"$line"
    unit="Gbit/s"; [[ "$t" == udp* ]] && unit="kpps"
    if [ "$label" = veth ]; then
      row+=("$val $unit")
    else
      row+=("$val $unit ($cores c)")
    fi
  done
  printf '| %-12s | %-16s | %-16s | %-16s | %-16s |\n' "$label" "${row[@]}"
done
echo
echo "(c) = CPU of the two tunnel processes in cores (of $(nproc)), median of the runs."
for h in hitless hitless-esp; do
  [ -n "$(value_of "$h" tcp1)" ] || continue
  echo "$h TCP 1 stream: $(ratio "$(value_of "$h" tcp1)" "$(value_of strongswan tcp1)")x strongSwan (target >= 10)," \
    "$(ratio "$(value_of "$h" tcp1)" "$(value_of boringtun tcp1)")x boringtun (target >= 4)," \
    "$(ratio "$(value_of "$h" tcp1)" "$(value_of tunudp-g tcp1)") of tunudp -g (target >= 0.60)"
done
