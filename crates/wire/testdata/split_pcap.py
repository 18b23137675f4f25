#!/usr/bin/env python3
"""Splits a pcap of UDP datagrams (Ethernet, IPv4) into one file per UDP payload.

usage: split_pcap.py CAPTURE.pcap OUT_PREFIX

Writes OUT_PREFIX/NN-<port>-<ab|ba>.bin, where <port> is the lower of the two UDP ports and
<ab> means from 10.201.0.1 (charon a, the initiator) to 10.201.0.2. Standard library only.
"""
import os
import struct
import sys


def main():
    capture, prefix = sys.argv[1], sys.argv[2]
    os.makedirs(prefix, exist_ok=True)
    with open(capture, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    offset, count = 24, 0
    while offset + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + incl]
        offset += 16 + incl
        if len(frame) < 14 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            continue
        total = struct.unpack(">H", ip[2:4])[0]
        src = ".".join(str(b) for b in ip[12:16])
        udp = ip[ihl:total]
        sport, dport, ulen = struct.unpack(">HHH", udp[:6])
        payload = udp[8:ulen]
        direction = "ab" if src == "10.201.0.1" else "ba"
        name = f"{count:02d}-{min(sport, dport)}-{direction}.bin"
        with open(os.path.join(prefix, name), "wb") as out:
            out.write(payload)
        count += 1
    print(f"{capture}: {count} datagrams")


if __name__ == "__main__":
    main()
