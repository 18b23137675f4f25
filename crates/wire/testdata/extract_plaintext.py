#!/usr/bin/env python3
"""Extracts the plaintext of every SK payload a charon generated, from its level-4 ENC log.

usage: extract_plaintext.py CHARON_LOG OUT_DIR NODE

charon logs "generating <EXCHANGE> <request|response> <mid> [ <payloads> ]" and then, for an
encrypted message, "generated content in encrypted payload" followed by a hex dump of the
inner payload chain. Each dump is written as OUT_DIR/<NODE>-NN-<first payload type>.bin, and
the summary line is appended to OUT_DIR/inner.log as "<file> <summary>". Standard library only.
"""
import os
import re
import sys

# strongSwan's short payload names (encoding/payloads/payload.c) to IKEv2 payload type numbers.
TYPES = {"SA": 33, "KE": 34, "IDi": 35, "IDr": 36, "CERT": 37, "CERTREQ": 38, "AUTH": 39,
         "No": 40, "N": 41, "D": 42, "V": 43, "TSi": 44, "TSr": 45, "CPRQ": 47, "CPRP": 47,
         "CPS": 47, "CPA": 47, "EAP": 48}
SUMMARY = re.compile(r"\[ENC\] generating (\S+ (?:request|response) \d+ \[ (.*)\])")
DUMP = re.compile(r"\[ENC\] (generated data of this generator|plain) => \d+ bytes")
HEX = re.compile(r"\[ENC\]\s+\d+: ((?:[0-9A-F]{2} )+)")


def main():
    log, out, node = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out, exist_ok=True)
    summary, first, count = None, None, 0
    lines = open(log, encoding="utf-8", errors="replace").read().splitlines()
    index = 0
    with open(os.path.join(out, "inner.log"), "a") as inner_log:
        while index < len(lines):
            line = lines[index]
            match = SUMMARY.search(line)
            if match and not match.group(2).startswith("EF("):
                summary = match.group(1)
                names = match.group(2).split()
                first = TYPES.get(re.sub(r"\(.*", "", names[0])) if names else None
            if "generated content in encrypted payload" in line and first is not None:
                # Either the generator's dump of the inner chain follows, or (when the message
                # is encrypted at once) the encryption's dump of "plain" (the padding and pad
                # length octet are dumped separately after it).
                index += 1
                while index < len(lines) and not DUMP.search(lines[index]):
                    index += 1
                index += 1
                data = bytearray()
                while index < len(lines) and HEX.search(lines[index]):
                    data += bytes.fromhex(HEX.search(lines[index]).group(1))
                    index += 1
                name = f"{node}-{count:02d}-{first}.bin"
                with open(os.path.join(out, name), "wb") as f:
                    f.write(data)
                inner_log.write(f"{name} {summary}\n")
                count += 1
                first = None
                continue
            index += 1
    print(f"{log}: {count} plaintexts")


if __name__ == "__main__":
    main()
