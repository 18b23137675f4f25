#!/usr/bin/env bash
# Layering check (docs/design/ARCHITECTURE §2.3): the sans-IO crates' normal dependency trees must
# not contain an I/O runtime, an OS interface, an OS random source or a crypto provider crate.
set -euo pipefail
cd "$(dirname "$0")/.."
sans_io=(hitless-wire hitless-crypto hitless-sadb hitless-ike hitless-esp hitless-ha)
banned='^(tokio|mio|socket2|libc|nix|getrandom|aws-lc-rs|aws-lc-sys|ring|hitless-crypto-awslc|hitless-crypto-insecure|hitless-sys|hitless-xfrm) '
status=0
for crate in "${sans_io[@]}"; do
    tree=$(cargo tree --locked -e normal -p "$crate" --prefix none --format '{p}' | sort -u)
    if hits=$(grep -E "$banned" <<<"$tree"); then
        echo "layering: $crate depends on a forbidden crate:" >&2
        sed 's/^/  /' <<<"$hits" >&2
        status=1
    else
        echo "layering: $crate ok ($(wc -l <<<"$tree") crates in its normal tree)"
    fi
done
exit $status
