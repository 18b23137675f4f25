#!/usr/bin/env bash
# Captures real IKEv2 and ESP datagrams between two strongSwan 5.9.8 charons in network
# namespaces, for hitless-wire's tests and fuzz seeds. Needs root. Reuses the helpers of the
# reference harness (../shared/reference/strongswan-harness/lib.sh) but its own namespaces
# (wire-a, wire-b) and run directory, so it never touches the harness's sw* namespaces.
#
#   crates/wire/testdata/capture.sh [OUT_DIR]     (default: crates/wire/testdata/strongswan)
#
# Two runs: "plain" (two IKE proposals, IKE_AUTH in one SK payload, a ping through the tunnel,
# then a Child SA rekey and an IKE SA delete) and "frag" (fragmentation = force with a small
# fragment_size, so IKE_AUTH travels in SKF fragments, RFC 7383). Each UDP payload becomes one
# file <run>/NN-<port>-<dir>.bin (the non-ESP marker on port 4500 is kept, as on the wire);
# charon a's one-line description of each IKE message is kept in <run>.log. The plaintext of
# every SK payload either charon generated goes to inner/<run>-<node>-NN-<first type>.bin, with
# charon's description in inner/inner.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/strongswan}"
harness="${HARNESS:-/work/shared/reference/strongswan-harness}"
export SWH_RUN=/tmp/wire-swh
# Level 4 makes charon dump the plaintext of every SK payload it generates (extract_plaintext.py).
export SWH_LOGLEVEL=4
# shellcheck source=/dev/null
. "$harness/lib.sh"
NS_A=wire-a
NS_B=wire-b

stop() {
	stop_charon a || true
	stop_charon b || true
	[ -n "${dump_pid:-}" ] && kill "$dump_pid" 2>/dev/null || true
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_B" 2>/dev/null || true
}
trap stop EXIT

gen_swanctl() { # NODE LOCAL REMOTE LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS FRAGMENTATION
	cat >"$(swanctl_dir "$1")/swanctl.conf" <<CONF
connections {
	tun {
		version = 2
		local_addrs = $2
		remote_addrs = $3
		proposals = aes128gcm16-prfsha256-x25519, aes256-sha384-prfsha384-ecp256
		encap = yes
		dpd_delay = 0
		fragmentation = $8
		local {
			auth = psk
			id = $4
		}
		remote {
			auth = psk
			id = $5
		}
		children {
			net {
				mode = tunnel
				local_ts = $6
				remote_ts = $7
				esp_proposals = aes128gcm16, aes256-sha256-x25519-esn
				start_action = none
				close_action = none
				dpd_action = none
			}
		}
	}
}
secrets {
	ike-ab {
		id-a = a.wire.test
		id-b = b.wire.test
		secret = $PSK
	}
}
CONF
}

run() { # NAME FRAGMENTATION CHARON_EXTRA
	local name=$1
	stop
	rm -rf "$SWH_RUN"
	mkdir -p "$SWH_RUN/a" "$SWH_RUN/b"
	mk_ns "$NS_A"
	mk_ns "$NS_B"
	ip link add wire-va netns "$NS_A" type veth peer name wire-vb netns "$NS_B"
	ip -n "$NS_A" addr add "$OUTER_A/24" dev wire-va
	ip -n "$NS_B" addr add "$OUTER_B/24" dev wire-vb
	ip -n "$NS_A" link set wire-va up
	ip -n "$NS_B" link set wire-vb up
	ip -n "$NS_A" addr add "$INNER_A/32" dev lo
	ip -n "$NS_B" addr add "$INNER_B/32" dev lo
	ip -n "$NS_A" addr add 10.211.3.1/32 dev lo
	ip -n "$NS_B" addr add 10.211.4.1/32 dev lo
	gen_swanctl a "$OUTER_A" "$OUTER_B" a.wire.test b.wire.test \
		"10.211.1.0/24, 10.211.3.0/24[udp/53]" "10.211.2.0/24, 10.211.4.0/24[udp/53]" "$2"
	gen_swanctl b "$OUTER_B" "$OUTER_A" b.wire.test a.wire.test \
		"10.211.2.0/24, 10.211.4.0/24[udp/53]" "10.211.1.0/24, 10.211.3.0/24[udp/53]" "$2"
	gen_strongswan_conf a "$3"
	gen_strongswan_conf b "$3"
	ip netns exec "$NS_A" tcpdump -i wire-va -U -w "$SWH_RUN/$name.pcap" udp 2>/dev/null &
	dump_pid=$!
	sleep 1
	start_charon a "$NS_A"
	start_charon b "$NS_B"
	load_conf a
	load_conf b
	ip -n "$NS_A" route replace 10.211.2.0/24 dev ipsec0 src "$INNER_A" metric 1000
	swc a --initiate --child net --timeout 15 >/dev/null
	ip netns exec "$NS_A" ping -c 2 -i 0.2 -W 2 -I "$INNER_A" "$INNER_B" >/dev/null
	swc a --rekey --child net >/dev/null
	sleep 1
	swc a --terminate --ike tun --timeout 5 >/dev/null
	sleep 1
	kill "$dump_pid"
	wait "$dump_pid" 2>/dev/null || true
	dump_pid=
	grep -hE "(parsed|generating) [A-Z_]+ (request|response)" "$SWH_RUN/a/charon.log" \
		| sed -E 's/^[0-9:.]+ [0-9]+\[[A-Z]+\] //' >"$out/$name.log"
	python3 "$here/split_pcap.py" "$SWH_RUN/$name.pcap" "$out/$name"
	python3 "$here/extract_plaintext.py" "$SWH_RUN/a/charon.log" "$out/inner" "$name-a"
	python3 "$here/extract_plaintext.py" "$SWH_RUN/b/charon.log" "$out/inner" "$name-b"
}

rm -rf "$out/plain" "$out/frag" "$out/inner"
mkdir -p "$out"
run plain no ""
run frag force "fragment_size = 300"
echo "captured into $out"
