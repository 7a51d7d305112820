#!/usr/bin/env python3
"""tests/cli/craft_snapshot.py — write a hand-made, uncompressed snapshot
file (format 1.1, laid out as the top of src/snapfile.c says), for tests
that need what no real run produces: absurd sizes, control characters in
names, a compressed body that declares more than it may.

  craft_snapshot.py OUT [--size N] [--count N] [--function NAME] [--file NAME] [--depth N]
                       [--total N]
  craft_snapshot.py OUT --bomb RAW ZSTD_FRAME   (compressed body, declared RAW)
"""
import argparse
import struct
import zlib


def section(tag, payload):
    return tag.encode() + struct.pack("<IQ", 0, len(payload)) + payload


def write(path, body, nsec, flags=0):
    head = b"RCYTRACE" + struct.pack("<HHIQII", 1, 1, flags, len(body),
                                     zlib.crc32(body) & 0xFFFFFFFF, nsec)
    with open(path, "wb") as f:
        f.write(head + body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--function", default="make_thing")
    ap.add_argument("--file", default="thing.c")
    ap.add_argument("--bomb", nargs=2, metavar=("RAW", "FRAME"))
    ap.add_argument("--depth", type=int, default=1, help="frames in the one call stack")
    ap.add_argument("--total", type=int, help="frames the stack had (default: --depth)")
    a = ap.parse_args()
    if a.bomb:
        with open(a.bomb[1], "rb") as f:
            frame = f.read()
        write(a.out, struct.pack("<Q", int(a.bomb[0])) + frame, 5, flags=1)
        return
    strs = [a.file.encode(), a.function.encode()]
    strs += [b"f%d" % i for i in range(1, a.depth)]
    body = section("STRS", struct.pack("<I", len(strs)) +
                   b"".join(struct.pack("<I", len(s)) + s for s in strs))
    frames = [struct.pack("<IIIIQ", 0, 12 + i, 1 + i, 0xFFFFFFFF, 0) for i in range(a.depth)]
    body += section("FRMS", struct.pack("<I", a.depth) + b"".join(frames))
    body += section("TBCK", struct.pack("<I", 1) + struct.pack("<II", a.depth, a.total or a.depth) +
                    struct.pack("<%dI" % a.depth, *range(a.depth)))
    peak = min(a.size, 2**64 - 1)
    body += section("META", struct.pack("<iIQQQQ", 16, 0, a.count, 0, peak, peak))
    body += section("TRAC", struct.pack("<Q", 1) + struct.pack("<IIQQ", 0, 0, a.size, a.count))
    write(a.out, body, 5)


main()
