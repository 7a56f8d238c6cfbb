#!/usr/bin/python3
"""Writes a seed corpus for the TTLV fuzz targets into DIR.

Seeds: each KMIP 1.4 section 9.1.2 example wrapped in a Request Message structure, and a few whole request
messages. The first byte of every seed is the fuzz target's split selector.
Usage: test/fuzz/seed-corpus.py DIR [VECTORS]
"""
import os
import struct
import sys


def item(tag, typ, value):
    pad = (8 - len(value) % 8) % 8
    return struct.pack(">I", tag)[1:] + bytes([typ]) + struct.pack(">I", len(value)) + value + b"\0" * pad


def structure(tag, *children):
    return item(tag, 0x01, b"".join(children))


def integer(tag, v):
    return item(tag, 0x02, struct.pack(">i", v))


def enum(tag, v):
    return item(tag, 0x05, struct.pack(">I", v))


def text(tag, s):
    return item(tag, 0x07, s.encode())


def request(major, minor, *batch_items):
    header = structure(0x420077, structure(0x420069, integer(0x42006A, major), integer(0x42006B, minor)),
                       integer(0x42000D, len(batch_items)))
    return structure(0x420078, header, *batch_items)


def main():
    out = sys.argv[1]
    vectors = sys.argv[2] if len(sys.argv) > 2 else "../shared/kmip-vectors"
    os.makedirs(out, exist_ok=True)
    path = os.path.join(vectors, "ttlv-hex", "spec-v1.4-section-9.1.2-examples.tsv")
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, _, compact = line.rstrip("\n").split("\t")
            with open(os.path.join(out, "spec-" + name), "wb") as w:
                w.write(b"\x07" + structure(0x420078, bytes.fromhex(compact)))
    seeds = {
        "get-1.4": request(1, 4, structure(0x42000F, enum(0x42005C, 0x0A),
                                           structure(0x420079, text(0x420094, "1")))),
        "locate-2.1": request(2, 1, structure(0x42000F, enum(0x42005C, 0x08), structure(
            0x420079, structure(0x420125, structure(0x420053, text(0x420055, "veeam-key"),
                                                    enum(0x420054, 1)))))),
        "discover-1.0": request(1, 0, structure(0x42000F, enum(0x42005C, 0x1E), structure(0x420079))),
    }
    for name, msg in seeds.items():
        for split in (0, 3, 255):
            with open(os.path.join(out, "%s-split%d" % (name, split)), "wb") as w:
                w.write(bytes([split]) + msg)


if __name__ == "__main__":
    main()
