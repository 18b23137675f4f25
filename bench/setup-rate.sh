#!/usr/bin/env bash
# Issue 7 item 9: IKE setup rate. N IKE SAs, each with one Child SA (IKEv2, PSK,
# aes128gcm16-prfsha256-x25519, ESP aes128gcm16, the same traffic selectors for all), initiated
# by hitless from one address, in one run against
#   hitlessd     a hitlessd responder (userspace data plane, one worker), its half-open limits
#                raised: [ike] cookie_threshold, block_threshold, init_limit_half_open = 1000000
#   strongswan   a strongSwan 5.9 charon responder with kernel-libipsec, its DoS limits relaxed
#                as in ../shared/reference/strongswan-harness/bench-setup-rate.sh
#                (dos_protection = no, cookie/block thresholds 1000000, unique = never,
#                reuse_ikesa = no, ikesa_table_size up)
# and, as the anchor issue 7 quotes, strongSwan initiating to that same strongSwan responder
# with the harness's vici_rate.py (async vici `initiate`, the same window):
#   sw-sw        charon -> charon
# and a diagnostic that splits hitlessd's figure into the engine and the SA installation:
#   engine       bench/setup-rate --respond: hitlessd's engine and crypto answering with no data
#                plane (SA commands dropped)
# The hitless initiator is bench/setup-rate (hitless_ike::Endpoint with the production crypto
# provider over UDP sockets on ports 500/4500, no INITIAL_CONTACT, no DPD, at most WINDOW
# handshakes in flight; a handshake counts when its Child SA is installed). It has no data plane:
# the SA commands of its engine are dropped. Every measurement starts on fresh daemons in fresh
# namespaces. Prints a table with setups/s, the CPU of the responder and of the initiator (cores
# of the machine's $(nproc)), and the ratio hitlessd / strongSwan responder (target >= 3).
#
# Topology: netns sr-a (initiator) / sr-b (responder), veth sr-va 10.251.0.1/24 <-> sr-vb
# 10.251.0.2/24; traffic selectors 10.253.1.0/24 (a) <-> 10.253.2.0/24 (b), 10.253.1.1 and
# 10.253.2.1 on lo.
#
# Usage: bench/setup-rate.sh                       N="1000 10000" WINDOW=64, all variants
#        N=1000 VARIANTS="hitlessd strongswan" bench/setup-rate.sh
#        PERF=5 bench/setup-rate.sh                perf-record each responder for 5 s of its
#                                                  run and print its top symbols
# Needs root. Records nothing by itself; tears everything down on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

COUNTS="${N:-1000 10000}"
WINDOW="${WINDOW:-64}"
VARIANTS="${VARIANTS:-hitlessd engine strongswan sw-sw}"
TIMEOUT="${TIMEOUT:-300}"
PERF="${PERF:-0}"
HARNESS="${HARNESS:-$ROOT/../shared/reference/strongswan-harness}"
[ -d "$HARNESS" ] || HARNESS=/work/shared/reference/strongswan-harness
TMP="${SR_TMP:-/tmp/hitless-setup-rate}"
CHARON="${CHARON:-/usr/lib/ipsec/charon}"
NS_A=sr-a
NS_B=sr-b
UL_A=10.251.0.1
UL_B=10.251.0.2
IN_A=10.253.1.1
IN_B=10.253.2.1
NET_A=10.253.1.0/24
NET_B=10.253.2.0/24
PIDS=()
HZ=$(getconf CLK_TCK)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

kill_pids() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  PIDS=()
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
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends jq >/dev/null
./scripts/install-deps.sh
[ -x "$CHARON" ] || die "$CHARON is missing (strongswan-charon)"
[ -f "$HARNESS/vici_rate.py" ] || case " $VARIANTS " in *" sw-sw "*) die "no $HARNESS/vici_rate.py (set HARNESS)" ;; esac

log "building hitlessd, hitlessctl and setup-rate (release)"
cargo build --release --locked -q -p hitlessd -p hitlessctl -p hitless-bench-setup-rate
HITLESSD="$ROOT/target/release/hitlessd"
HITLESSCTL="$ROOT/target/release/hitlessctl"
SETUP_RATE="$ROOT/target/release/setup-rate"

setup_ns() {
  cleanup
  # An address inside each side's selectors: strongSwan's SPD install (its route's source)
  # needs one.
  ns_pair "$NS_A" "$NS_B" sr-va sr-vb "$UL_A" "$UL_B" "$IN_A" "$IN_B"
}
new_psk() { (umask 077; printf '0s%s\n' "$(head -c 32 /dev/urandom | base64)" >"$TMP/psk"); }

hitless_config() { # FILE SIDE LOCAL REMOTE LOCAL_NET REMOTE_NET
  cat >"$1" <<EOF
[daemon]
control_socket = "$TMP/hl-$2/hitlessd.sock"
log_level = "warn"

[data_plane]
workers = 1
tun_name = "hitless0"

[ike]
# One initiator address opens WINDOW IKE SAs at once: lift the DoS limits (RFC 8019) that
# would make it return cookies or drop it past 5 half-open SAs.
cookie_threshold = 1000000
block_threshold = 1000000
init_limit_half_open = 1000000

[connections.bench]
local_addrs = ["$3"]
remote_addrs = ["$4"]
local_id = "$3"
remote_id = "$4"
psk_file = "$TMP/psk"
proposals = ["aes128gcm16-prfsha256-x25519"]
dpd_delay = 0

[connections.bench.children.net]
local_ts = ["$5"]
remote_ts = ["$6"]
esp_proposals = ["aes128gcm16"]
EOF
}

start_hitlessd() {
  mkdir -p "$TMP/hl-b"
  hitless_config "$TMP/hl-b/hitless.toml" b "$UL_B" "$UL_A" "$NET_B" "$NET_A"
  ip netns exec "$NS_B" "$HITLESSD" --config "$TMP/hl-b/hitless.toml" >"$TMP/hl-b/log" 2>&1 &
  RESPONDER=$!
  disown
  PIDS+=("$RESPONDER")
  local i
  for i in $(seq 1 100); do
    "$HITLESSCTL" --socket "$TMP/hl-b/hitlessd.sock" status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "hitlessd did not start: $(tail -5 "$TMP/hl-b/log")"
}

start_engine_responder() { # N
  mkdir -p "$TMP/hl-b"
  hitless_config "$TMP/hl-b/hitless.toml" b "$UL_B" "$UL_A" "$NET_B" "$NET_A"
  ip netns exec "$NS_B" "$SETUP_RATE" --respond --config "$TMP/hl-b/hitless.toml" \
    --connection bench --count "$1" >"$TMP/engine-$1.out" 2>&1 &
  RESPONDER=$!
  disown
  PIDS+=("$RESPONDER")
  local i
  for i in $(seq 1 50); do
    ip netns exec "$NS_B" ss -Hlun 'sport = :4500' | grep -q . && return 0
    sleep 0.1
  done
  die "setup-rate --respond did not start: $(cat "$TMP/engine-$1.out")"
}

# The reference harness's "tuned" responder: DoS protection off, the IKE SA table sized for
# 10,000 SAs.
SW_TUNED='threads = 16
  reuse_ikesa = no
  ikesa_table_size = 16384
  ikesa_table_segments = 16
  dos_protection = no
  cookie_threshold = 1000000
  cookie_threshold_ip = 1000000
  block_threshold = 1000000
  half_open_timeout = 60'
strongswan_config() { # SIDE LOCAL REMOTE LOCAL_NET REMOTE_NET CONN_EXTRA
  swanctl_files "$TMP/sw-$1" "$2" "$3" "$4" "$5" "$(cat "$TMP/psk")" "$6" "$SW_TUNED"
}
start_charon() { # SIDE NS; sets CHARON_PID
  charon_start "$TMP/sw-$1" "$2"
  PIDS+=("$CHARON_PID")
}
start_strongswan_responder() {
  strongswan_config b "$UL_B" "$UL_A" "$NET_B" "$NET_A" "unique = never"
  start_charon b "$NS_B"
  RESPONDER=$CHARON_PID
}

perf_responder() { # LABEL: PERF seconds of the responder, in the background
  [ "$PERF" != 0 ] || return 0
  perf record -F 999 -p "$RESPONDER" -o "$TMP/perf-$1.data" -- sleep "$PERF" >/dev/null 2>&1 &
  PERF_PID=$!
}
perf_report() { # LABEL
  [ "$PERF" != 0 ] || return 0
  wait "$PERF_PID" 2>/dev/null || true
  perf report -i "$TMP/perf-$1.data" --sort dso,symbol --stdio 2>/dev/null \
    | grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+$//' | cut -c1-150 | head -15 \
    >"$TMP/perf-$1.top" || true
  log "  perf top symbols of the responder ($1): $TMP/perf-$1.top"
  sed 's/^/      /' "$TMP/perf-$1.top" >&2
}

RESULTS="$TMP/results.txt"
: >"$RESULTS"
# record LABEL N RATE ESTABLISHED RESPONDER_TICKS INITIATOR_SECONDS WALL_SECONDS BUSY0 BUSY1 NOTE
record() {
  local cores_r cores_i us_r us_i machine
  cores_r=$(awk -v t="$5" -v hz="$HZ" -v w="$7" 'BEGIN{printf "%.2f", t/hz/w}')
  cores_i=$(awk -v s="$6" -v w="$7" 'BEGIN{printf "%.2f", s/w}')
  us_r=$(awk -v t="$5" -v hz="$HZ" -v n="$4" 'BEGIN{ if (n>0) printf "%.0f", t/hz/n*1e6; else print "-"}')
  us_i=$(awk -v s="$6" -v n="$4" 'BEGIN{ if (n>0) printf "%.0f", s/n*1e6; else print "-"}')
  machine=$(echo "$8 $9" | awk '{printf "%.2f", ($3-$1)/($4-$2)*'"$(nproc)"'}')
  log "  $1 N=$2: $3 setups/s, $4 established; responder $cores_r cores ($us_r us/setup), initiator $cores_i ($us_i us/setup), machine busy $machine cores; ${10}"
  echo "$1 $2 $3 $4 $cores_r $us_r $cores_i $us_i $machine" >>"$RESULTS"
}

# run_hitless_initiator LABEL N: bench/setup-rate in sr-a against the responder in $RESPONDER
run_hitless_initiator() {
  local label=$1 n=$2 out="$TMP/initiator-$1-$2.out"
  mkdir -p "$TMP/hl-a"
  hitless_config "$TMP/hl-a/hitless.toml" a "$UL_A" "$UL_B" "$NET_A" "$NET_B"
  local r0 r1 b0 b1 t0 t1 times
  r0=$(cpu_ticks "$RESPONDER"); b0=$(busy_cores); t0=$(date +%s.%N)
  perf_responder "$label-$n"
  # `time` gives the initiator's own CPU (user + system seconds).
  times=$( { TIMEFORMAT='%U %S'; time ip netns exec "$NS_A" "$SETUP_RATE" --config "$TMP/hl-a/hitless.toml" \
      --connection bench --count "$n" --window "$WINDOW" --timeout "$TIMEOUT" >"$out" 2>&1 || true; } 2>&1 )
  t1=$(date +%s.%N); b1=$(busy_cores); r1=$(cpu_ticks "$RESPONDER")
  perf_report "$label-$n"
  log "  initiator: $(cat "$out")"
  local rate est elapsed cpu
  rate=$(grep -o 'rate=[0-9.]*' "$out" | cut -d= -f2 || true)
  est=$(grep -o 'established=[0-9]*' "$out" | cut -d= -f2 || true)
  elapsed=$(echo "$t0 $t1" | awk '{print $2-$1}')
  cpu=$(echo "$times" | tail -1 | awk '{print $1+$2}')
  RATE_NOTE="initiator: $(grep -oE 'extra_sent=[0-9]+|failed=[0-9]+' "$out" | tr '\n' ' ')"
  record "$label" "$n" "${rate:-0}" "${est:-0}" "$((r1 - r0))" "$cpu" "$elapsed" "$b0" "$b1" "$RATE_NOTE"
}

check_hitlessd_kept() { # N: the responder holds N IKE SAs and N Child SAs
  local status ike child failed
  status=$("$HITLESSCTL" --socket "$TMP/hl-b/hitlessd.sock" --json status)
  ike=$(jq -r '.ike_sas // "?"' <<<"$status" 2>/dev/null || echo "?")
  child=$(jq -r '.child_sas // "?"' <<<"$status" 2>/dev/null || echo "?")
  failed=$(grep -c "refused\|cannot add route" "$TMP/hl-b/log" || true)
  log "  hitlessd responder holds $ike IKE SAs and $child Child SAs (expected $1); backend refusals logged: $failed"
  echo "held hitlessd $1 $ike $child Child SAs, $failed backend refusals" >>"$RESULTS"
}
check_strongswan_kept() { # LABEL N
  local line
  line=$(swc "$TMP/sw-b" --stats | grep -E 'IKE_SAs' | sed 's/^ *//')
  log "  strongSwan responder: $line (expected $2); $(swc "$TMP/sw-b" --counters 2>/dev/null | awk '/ike-init-in-req|ike-auth-in-req/ {printf "%s=%s ", $1, $3}')"
  echo "held $1 $2 $(echo "$line" | grep -oE '[0-9]+ total' | cut -d' ' -f1)" >>"$RESULTS"
}
check_engine_kept() { # N
  log "  engine responder: $(cat "$TMP/engine-$1.out")"
  echo "held engine $1 $(grep -o 'established=[0-9]*' "$TMP/engine-$1.out" | cut -d= -f2)" >>"$RESULTS"
}

run_sw_sw() { # N
  local n=$1 out="$TMP/vici-$1.out"
  strongswan_config a "$UL_A" "$UL_B" "$NET_A" "$NET_B" ""
  start_charon a "$NS_A"
  local initiator=$CHARON_PID r0 r1 i0 i1 b0 b1 t0 t1
  r0=$(cpu_ticks "$RESPONDER"); i0=$(cpu_ticks "$initiator"); b0=$(busy_cores); t0=$(date +%s.%N)
  perf_responder "sw-sw-$n"
  python3 "$HARNESS/vici_rate.py" "$TMP/sw-a/charon.vici" "$n" "$WINDOW" child "$TIMEOUT" >"$out" 2>&1 || true
  t1=$(date +%s.%N); b1=$(busy_cores); r1=$(cpu_ticks "$RESPONDER"); i1=$(cpu_ticks "$initiator")
  perf_report "sw-sw-$n"
  log "  vici_rate: $(head -1 "$out")"
  local rate est elapsed
  rate=$(grep -o 'rate=[0-9.]*' "$out" | cut -d= -f2 || true)
  est=$(grep -o 'established=[0-9]*' "$out" | cut -d= -f2 || true)
  elapsed=$(echo "$t0 $t1" | awk '{print $2-$1}')
  record sw-sw "$n" "${rate:-0}" "${est:-0}" "$((r1 - r0))" \
    "$(awk -v t="$((i1 - i0))" -v hz="$HZ" 'BEGIN{print t/hz}')" "$elapsed" "$b0" "$b1" ""
}

echo "== bench/setup-rate.sh $(date -u +%FT%TZ) N=\"$COUNTS\" WINDOW=$WINDOW $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for n in $COUNTS; do
  for v in $VARIANTS; do
    setup_ns
    new_psk
    case "$v" in
      hitlessd)
        log "hitless -> hitlessd, N=$n"
        start_hitlessd
        run_hitless_initiator hitlessd "$n"
        check_hitlessd_kept "$n"
        ;;
      strongswan)
        log "hitless -> strongSwan (kernel-libipsec, DoS limits relaxed), N=$n"
        start_strongswan_responder
        run_hitless_initiator strongswan "$n"
        check_strongswan_kept strongswan "$n"
        ;;
      sw-sw)
        log "strongSwan -> strongSwan (vici initiate, window $WINDOW), N=$n"
        start_strongswan_responder
        run_sw_sw "$n"
        check_strongswan_kept sw-sw "$n"
        ;;
      engine)
        log "hitless -> hitless engine without a data plane (diagnostic), N=$n"
        start_engine_responder "$n"
        run_hitless_initiator engine "$n"
        check_engine_kept "$n"
        ;;
      *) die "unknown variant $v" ;;
    esac
    kill_pids
  done
done

rate_of() { awk -v l="$1" -v n="$2" '$1==l && $2==n {print $3}' "$RESULTS"; }
echo
row() { printf '| %-42s | %6s | %9s | %11s | %-20s | %-20s | %12s |\n' "$@"; }
row "initiator -> responder" "N" "setups/s" "established" "responder CPU" "initiator CPU" "machine busy"
row "---" "---:" "---:" "---:" "---" "---" "---:"
for n in $COUNTS; do
  for v in $VARIANTS; do
    case "$v" in
      hitlessd) name="hitless -> hitlessd" ;;
      strongswan) name="hitless -> strongSwan" ;;
      sw-sw) name="strongSwan -> strongSwan (anchor)" ;;
      engine) name="hitless -> hitless engine, no data plane" ;;
    esac
    read -r _ _ rate est cr ur ci ui busy < <(awk -v l="$v" -v n="$n" '$1==l && $2==n' "$RESULTS") || continue
    row "$name" "$n" "$rate" "$est" "$cr c, $ur us/SA" "$ci c, $ui us/SA" "$busy c"
  done
done
echo
echo "CPU: c = cores (CPU time over the run's wall time, of $(nproc)), us/SA = CPU microseconds per"
echo "IKE SA set up. machine busy: all processes on the machine over the run. Window: $WINDOW."
for n in $COUNTS; do
  h=$(rate_of hitlessd "$n"); s=$(rate_of strongswan "$n")
  [ -n "$h" ] && [ -n "$s" ] || continue
  echo "N=$n: hitlessd / strongSwan responder = $(awk -v a="$h" -v b="$s" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-"}')x (target >= 3)"
done
while read -r tag label n ike rest; do
  [ "$tag" = held ] || continue
  echo "N=$n: the $label responder held $ike IKE SAs${rest:+ ($rest)}"
done <"$RESULTS"
