#!/usr/bin/env python3
"""Check the result of a sharded `dphubert extract` run and merge its per-shard manifests (standard library only).

    python3 tools/corpus/verify_manifests.py --input IN --output OUT --shards N [--format npy|soft-pt]
        [--merge OUT/manifest.jsonl] OUT/manifest-0.jsonl ... OUT/manifest-{N-1}.jsonl

The manifests are given in shard order (the K-th file is shard K). Fails (exit 1, every problem listed) unless:
every .wav/.wave under IN has exactly one line in exactly one manifest, in the shard its path hashes to
(first 8 bytes of SHA-256 of the UTF-8 relative path, big-endian, mod N); each line's output is the expected file
name, exists, has the stated size and SHA-256 and (for .npy) the stated shape; and no temporary file (.*.tmp) of a
killed run is left under OUT. With --merge, writes every line, sorted by input, to one manifest.
"""
import argparse
import hashlib
import json
import os
import re
import sys


def shard_of(rel, n):
    return int.from_bytes(hashlib.sha256(rel.encode("utf-8")).digest()[:8], "big") % n


def output_name(rel, fmt):
    return rel + ".soft.pt" if fmt == "soft-pt" else os.path.splitext(rel)[0] + ".npy"


def npy_shape(path):
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:6] != b"\x93NUMPY":
            return None
        size = int.from_bytes(head[8:10], "little") if head[6] == 1 else int.from_bytes(head[8:12], "little")
        f.seek(10 if head[6] == 1 else 12)
        header = f.read(size).decode("latin1")
    m = re.search(r"'shape':\s*\(([^)]*)\)", header)
    return [int(x) for x in m.group(1).replace(" ", "").split(",") if x] if m else None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--shards", type=int, required=True)
    p.add_argument("--format", choices=["npy", "soft-pt"], default="npy")
    p.add_argument("--merge")
    p.add_argument("manifests", nargs="+")
    a = p.parse_args()
    if len(a.manifests) != a.shards:
        sys.exit(f"expected {a.shards} manifests (one per shard, in shard order), got {len(a.manifests)}")

    inputs = set()
    for root, _dirs, files in os.walk(a.input):
        for name in files:
            if name.lower().endswith((".wav", ".wave")):
                inputs.add(os.path.relpath(os.path.join(root, name), a.input).replace(os.sep, "/"))

    problems, lines, owner = [], [], {}
    for k, manifest in enumerate(a.manifests):
        with open(manifest, "rb") as f:
            data = f.read().decode("utf-8")
        if data and not data.endswith("\n"):
            problems.append(f"{manifest}: the last line is torn (no newline)")
        for number, line in enumerate(data.splitlines(), 1):
            where = f"{manifest}:{number}"
            try:
                e = json.loads(line)
                rel, out = e["input"], e["output"]
            except (ValueError, KeyError, TypeError) as err:
                problems.append(f"{where}: not a manifest line ({err})")
                continue
            if rel in owner:
                problems.append(f"{where}: {rel} is listed again (first in {owner[rel]})")
            owner[rel] = where
            if rel not in inputs:
                problems.append(f"{where}: {rel} is not an input under {a.input}")
            if shard_of(rel, a.shards) != k:
                problems.append(f"{where}: {rel} belongs to shard {shard_of(rel, a.shards)}, not {k}")
            if out != output_name(rel, a.format):
                problems.append(f"{where}: output {out}, expected {output_name(rel, a.format)}")
            path = os.path.join(a.output, out)
            if not os.path.isfile(path):
                problems.append(f"{where}: {path} does not exist")
                continue
            if os.path.getsize(path) != e.get("bytes"):
                problems.append(f"{where}: {path} has {os.path.getsize(path)} bytes, the line says {e.get('bytes')}")
            if sha256(path) != e.get("sha256"):
                problems.append(f"{where}: the SHA-256 of {path} differs from the line")
            if a.format == "npy" and npy_shape(path) != e.get("shape"):
                problems.append(f"{where}: {path} has shape {npy_shape(path)}, the line says {e.get('shape')}")
            lines.append(e)
    for rel in sorted(inputs - set(owner)):
        problems.append(f"{rel}: no manifest line")
    for root, _dirs, files in os.walk(a.output):
        for name in files:
            if name.startswith(".") and name.endswith(".tmp"):
                problems.append(f"{os.path.join(root, name)}: a temporary file of a killed run is left")

    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"verify: {len(problems)} problem(s)", file=sys.stderr)
        sys.exit(1)
    if a.merge:
        temp = a.merge + ".partial"
        with open(temp, "w", encoding="utf-8") as f:
            for e in sorted(lines, key=lambda e: e["input"]):
                f.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")
        os.replace(temp, a.merge)
    seconds = sum(e.get("seconds", 0) for e in lines)
    print(f"verify: {len(lines)} outputs in {a.shards} shard(s), every input once, {seconds:.1f} s of audio"
          + (f"; merged into {a.merge}" if a.merge else ""))


if __name__ == "__main__":
    main()
