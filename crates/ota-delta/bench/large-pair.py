#!/usr/bin/env python3
# Usage: python3 large-pair.py FIRMWARE_PAIRS_DIR  (writes old.bin and new.bin here)
# Synthetic large firmware pair: 1,000 MB of 1 MiB pieces (random data and copies of real
# binaries), and the new image with 2,000 edits (replace, insert, delete) spread over it.
import os, random
random.seed(7)
import sys
base = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/firmware-pairs"
reals = [open(os.path.join(base, f), "rb").read() for f in sorted(os.listdir(base)) if not f.endswith(".md")]
size = 1000 * 1000 * 1000
out = bytearray()
while len(out) < size:
    if random.random() < 0.5:
        out += os.urandom(1 << 20)
    else:
        r = random.choice(reals)
        off = random.randrange(0, max(1, len(r) - (1 << 20)))
        out += r[off:off + (1 << 20)]
old = bytes(out[:size])
new = bytearray(old)
for _ in range(2000):
    at = random.randrange(0, len(new) - 4096)
    kind = random.randrange(3)
    n = random.randrange(1, 4096)
    if kind == 0:
        new[at:at + n] = os.urandom(n)
    elif kind == 1:
        new[at:at] = os.urandom(n)
    else:
        del new[at:at + n]
open("old.bin", "wb").write(old)
open("new.bin", "wb").write(new)
