#!/usr/bin/env bash
# Installs the system packages the tests and the demo need, only if one is missing.
set -euo pipefail
packages=(
    strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins
    libstrongswan-standard-plugins strongswan-pki openssl iperf3 iproute2 iputils-ping keepalived
    tshark
)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages ${missing[*]}; run as root to install them" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
fi
