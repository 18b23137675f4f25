#!/usr/bin/env bash
# The I/O ceiling of hitless's userspace data plane, measured in one run against its anchors:
#   (a) plain veth (no tunnel),
#   (b) the anchors' C relay `tunudp -g` (TUN TSO + UDP GSO/GRO + TCP coalescing, no crypto),
#   (c) our relay `tunrelay --no-offload` (hitless-sys, one packet per TUN read/write,
#       sendmmsg/recvmmsg batching, no GSO/GRO),
#   (d) our relay `tunrelay` with offloads (the Rust equivalent of `tunudp -g`),
#   (e) the same relay with the tun-rs crate on the TUN side (`tunrelay --tun-rs`), to measure
#       tun-rs's offload helpers against ours,
# each with iperf3 TCP 1 stream and 4 streams, median of RUNS runs of DUR seconds; prints a
# table with ratios to `tunudp -g`, tunnel CPU (cores) and CPU per inner packet (both relays,
# encap + decap together).
#
# Topology: netns sys-a / sys-b, veth sys-va 10.231.0.1/24 <-> sys-vb 10.231.0.2/24 (MTU 1500);
# tunnel devices sys-tua 10.232.0.1/24 <-> sys-tub 10.232.0.2/24 (MTU $MTU, default 1420).
# iperf3 client in sys-a, server in sys-b: a encapsulates, b decapsulates.
#
# Usage: bench/io-ceiling.sh            (RUNS=3 DUR=10 MTU=1420 by default)
#        RUNS=1 DUR=3 bench/io-ceiling.sh   quick look
#        VARIANTS="ours" bench/io-ceiling.sh   subset: veth tunudp plain ours tunrs
#        PERF=1 bench/io-ceiling.sh   also `perf record -g` both relays during the first 1-stream
#                                     run of each tunnel; prints the top symbols (software
#                                     cpu-clock sampling: this VM has no hardware counters)
# Needs root, iperf3, jq, gcc, libssl-dev (for tunudp.c). Tears everything down on exit,
# including Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

RUNS="${RUNS:-3}"
DUR="${DUR:-10}"
MTU="${MTU:-1420}"
VARIANTS="${VARIANTS:-veth tunudp plain ours tunrs}"
ANCHORS="${ANCHORS:-$ROOT/../shared/reference/anchors-harness}"
[ -d "$ANCHORS" ] || ANCHORS=/work/shared/reference/anchors-harness
TMP="${SYS_TMP:-/tmp/sys-io-ceiling}"
NS_A=sys-a
NS_B=sys-b
UL_A=10.231.0.1
UL_B=10.231.0.2
OL_A=10.232.0.1
OL_B=10.232.0.2
PORT=41000
PIDS=()

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

kill_pids() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  PIDS=()
  if [ -f "$TMP/iperf3.pid" ]; then kill "$(cat "$TMP/iperf3.pid")" 2>/dev/null || true; rm -f "$TMP/iperf3.pid"; fi
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
for t in iperf3 jq gcc ip; do command -v "$t" >/dev/null || die "missing $t"; done
mkdir -p "$TMP"

log "building tunrelay (release) and tunudp"
cargo build --release --locked -q -p hitless-bench-tunrelay
RELAY="$ROOT/target/release/tunrelay"
gcc -O2 -Wall -pthread -o "$TMP/tunudp" "$ANCHORS/tunudp.c" -lcrypto || die "cannot build tunudp.c (apt-get install libssl-dev)"

setup_ns() {
  cleanup
  ns_pair "$NS_A" "$NS_B" sys-va sys-vb "$UL_A" "$UL_B"
}
wait_ping() {
  local i
  for i in $(seq 1 50); do
    ip netns exec "$NS_A" ping -c1 -W1 "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "no ping to $1"
}
iperf_server() {
  rm -f "$TMP/iperf3.pid"
  ip netns exec "$NS_B" iperf3 -s -D -B "$1" -p 5201 --pidfile "$TMP/iperf3.pid" >/dev/null 2>&1
  sleep 0.5
}
# encap packets so far, from the A-side relay's SIGUSR1 snapshot
snap_pkts() {
  local kind="$1" pid="$2" out="$3" n i
  n=$(grep -c '^snap\|^endsnap' "$out" || true)
  kill -USR1 "$pid"
  for i in $(seq 1 100); do
    [ "$(grep -c '^snap\|^endsnap' "$out" || true)" -gt "$n" ] && break
    sleep 0.02
  done
  sleep 0.05
  if [ "$kind" = tunudp ]; then
    awk '/^snap .*tun2udp/{last=$3} END{print last+0}' "$out"
  else
    awk '/^snap /{last=$2} END{print last+0}' "$out"
  fi
}

RESULTS="$TMP/results.txt"
: >"$RESULTS"
# measure LABEL STREAMS [KIND PID_A PID_B OUT_A]
measure() {
  local label="$1" streams="$2" kind="${3:-}" pa="${4:-}" pb="${5:-}" out="${6:-}"
  local dst="$OL_B"
  [ "$kind" = veth ] && dst="$UL_B"
  : >"$TMP/series"
  local r
  for r in $(seq 1 "$RUNS"); do
    local c0 c1 p0=0 p1=0 s0 s1 json="$TMP/iperf.json"
    c0=$(cpu_ticks $pa $pb)
    s0=$(busy_cores)
    [ -n "$out" ] && p0=$(snap_pkts "$kind" "$pa" "$out")
    local perf_pid=""
    if [ "${PERF:-0}" = 1 ] && [ -n "$pa" ] && [ "$r" = 1 ] && [ "$streams" = 1 ]; then
      perf record -F 1999 -g -p "$pa,$pb" -o "$TMP/perf-$label.data" -- sleep "$DUR" >/dev/null 2>&1 &
      perf_pid=$!
      PIDS+=("$perf_pid")
    fi
    ip netns exec "$NS_A" iperf3 -c "$dst" -p 5201 -t "$DUR" -P "$streams" -J >"$json" 2>/dev/null || true
    [ -n "$out" ] && p1=$(snap_pkts "$kind" "$pa" "$out")
    if [ -n "$perf_pid" ]; then
      wait "$perf_pid" 2>/dev/null || true
      perf report -i "$TMP/perf-$label.data" --no-children --sort symbol --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | head -25 >"$TMP/perf-$label.top" || true
      log "  perf top symbols ($label, both relays): $TMP/perf-$label.top"
      sed 's/^/      /' "$TMP/perf-$label.top" >&2
    fi
    c1=$(cpu_ticks $pa $pb)
    s1=$(busy_cores)
    local gbps retr
    gbps=$(jq -r '(.end.sum_received.bits_per_second // 0)/1e9' "$json" 2>/dev/null || echo 0)
    retr=$(jq -r '.end.sum_sent.retransmits // 0' "$json" 2>/dev/null || echo 0)
    local hz cores ns machine
    hz=$(getconf CLK_TCK)
    cores=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v d="$DUR" 'BEGIN{printf "%.2f", (b-a)/hz/d}')
    ns=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v p="$((p1 - p0))" 'BEGIN{ if (p>0) printf "%.0f", (b-a)/hz*1e9/p; else print "-"}')
    machine=$(echo "$s0 $s1" | awk '{printf "%.2f", ($3-$1)/($4-$2)*2}')
    log "  $label P$streams run $r: $(printf %.3f "$gbps") Gbit/s retr=$retr tunnel_cores=$cores ns/pkt=$ns machine_busy=$machine"
    echo "$gbps $cores $ns" >>"$TMP/series"
  done
  local med cores ns
  med=$(awk '{print $1}' "$TMP/series" | sort -g | awk '{a[NR]=$1} END{printf "%.3f", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
  cores=$(awk '{print $2}' "$TMP/series" | sort -g | awk '{a[NR]=$1} END{printf "%.2f", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
  ns=$(awk '$3!="-"{print $3}' "$TMP/series" | sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "-"; else printf "%.0f", (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
  [ -z "$pa" ] && cores="-"
  echo "$label $streams $med $cores $ns" >>"$RESULTS"
}

start_pair() { # start_pair KIND ARGS...
  local kind="$1"; shift
  setup_ns
  if [ "$kind" = tunudp ]; then
    ip netns exec "$NS_A" "$TMP/tunudp" -i sys-tua -l "$UL_A" -r "$UL_B" -p "$PORT" "$@" >"$TMP/a.out" 2>&1 &
    PA=$!
    ip netns exec "$NS_B" "$TMP/tunudp" -i sys-tub -l "$UL_B" -r "$UL_A" -p "$PORT" "$@" >"$TMP/b.out" 2>&1 &
    PB=$!
  else
    ip netns exec "$NS_A" "$RELAY" -i sys-tua -l "$UL_A" -r "$UL_B" -p "$PORT" --addr "$OL_A/24" --mtu "$MTU" "$@" >"$TMP/a.out" 2>&1 &
    PA=$!
    ip netns exec "$NS_B" "$RELAY" -i sys-tub -l "$UL_B" -r "$UL_A" -p "$PORT" --addr "$OL_B/24" --mtu "$MTU" "$@" >"$TMP/b.out" 2>&1 &
    PB=$!
  fi
  PIDS+=("$PA" "$PB")
  local i
  for i in $(seq 1 50); do
    grep -q '^ready' "$TMP/a.out" && grep -q '^ready' "$TMP/b.out" && break
    sleep 0.1
  done
  grep -q '^ready' "$TMP/a.out" || die "relay A did not start: $(cat "$TMP/a.out")"
  grep -q '^ready' "$TMP/b.out" || die "relay B did not start: $(cat "$TMP/b.out")"
  log "  $(head -1 "$TMP/a.out")"
  if [ "$kind" = tunudp ]; then
    ip -n "$NS_A" addr add "$OL_A/24" dev sys-tua
    ip -n "$NS_B" addr add "$OL_B/24" dev sys-tub
    ip -n "$NS_A" link set sys-tua mtu "$MTU" up
    ip -n "$NS_B" link set sys-tub mtu "$MTU" up
  fi
  wait_ping "$OL_B"
  iperf_server "$OL_B"
}

echo "== bench/io-ceiling.sh $(date -u +%FT%TZ) RUNS=$RUNS DUR=${DUR}s MTU=$MTU $(nproc) cores, $(uname -r)"
for v in $VARIANTS; do
  case "$v" in
    veth)
      log "(a) plain veth"
      setup_ns; iperf_server "$UL_B"
      measure "veth" 1 veth; measure "veth" 4 veth
      ;;
    tunudp)
      log "(b) tunudp -g (C anchor)"
      start_pair tunudp -g
      measure "tunudp-g" 1 tunudp "$PA" "$PB" "$TMP/a.out"; measure "tunudp-g" 4 tunudp "$PA" "$PB" "$TMP/a.out"
      ;;
    plain)
      log "(c) tunrelay --no-offload"
      start_pair relay --no-offload
      measure "tunrelay-no-offload" 1 relay "$PA" "$PB" "$TMP/a.out"; measure "tunrelay-no-offload" 4 relay "$PA" "$PB" "$TMP/a.out"
      ;;
    ours)
      log "(d) tunrelay (offloads)"
      start_pair relay
      measure "tunrelay" 1 relay "$PA" "$PB" "$TMP/a.out"; measure "tunrelay" 4 relay "$PA" "$PB" "$TMP/a.out"
      ;;
    tunrs)
      log "(e) tunrelay --tun-rs (tun-rs TUN offloads, hitless-sys UDP)"
      start_pair relay --tun-rs
      measure "tunrelay-tun-rs" 1 relay "$PA" "$PB" "$TMP/a.out"; measure "tunrelay-tun-rs" 4 relay "$PA" "$PB" "$TMP/a.out"
      ;;
    *) die "unknown variant $v" ;;
  esac
  kill_pids
done

echo
printf '| %-22s | %-7s | %-14s | %-13s | %-13s | %-15s |\n' "path" "streams" "Gbit/s (median)" "vs tunudp -g" "tunnel cores" "ns CPU / packet"
printf '| %-22s | %-7s | %-14s | %-13s | %-13s | %-15s |\n' "---" "---" "---" "---" "---" "---"
while read -r label streams med cores ns; do
  ref=$(awk -v s="$streams" '$1=="tunudp-g" && $2==s {print $3}' "$RESULTS")
  ratio=$(awk -v a="$med" -v b="${ref:-0}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-"}')
  printf '| %-22s | %-7s | %-14s | %-13s | %-13s | %-15s |\n' "$label" "$streams" "$med" "$ratio" "$cores" "$ns"
done <"$RESULTS"
