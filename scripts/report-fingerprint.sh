#!/usr/bin/env bash
# Prints the deterministic content of a report made by a fixed-seed, fixed-size run on the
# embedded mock: file names, CSV headers, summary.json keys, and every count, outcome, token
# and dollar figure (not timings, which vary from run to run). Two builds whose fingerprints
# are equal write the same reports; used to check that a restructuring changed no output.
#
#   scripts/report-fingerprint.sh [path/to/bench] [scenario.toml] > fingerprint.txt
set -euo pipefail
cd "$(dirname "$0")/.."
bench="${1:-target/release/bench}"
scenario="${2:-scenarios/smoke.toml}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$bench" run "$scenario" --quiet --seed 11 --conversations-per-user 5 --out "$out/r" >/dev/null
python3 - "$out/r" <<'PY'
import csv, json, os, re, sys
d = sys.argv[1]
print("# files")
for f in sorted(os.listdir(d)):
    print(f)
print("# csv headers")
for f in sorted(os.listdir(d)):
    if f.endswith(".csv"):
        with open(os.path.join(d, f), newline="") as fh:
            print(f, next(csv.reader(fh), []))
print("# csv row counts")
for f in sorted(os.listdir(d)):
    if f.endswith(".csv") and f not in ("timeline.csv",):
        with open(os.path.join(d, f), newline="") as fh:
            print(f, sum(1 for _ in fh) - 1)
print("# rows of calls.csv and conversations.csv without their timing columns, sorted, hashed")
import hashlib
for f in ("calls.csv", "conversations.csv"):
    with open(os.path.join(d, f), newline="") as fh:
        rows = list(csv.reader(fh))
    keep = [i for i, h in enumerate(rows[0]) if not re.search(r"(_ms|_per_s)$", h)]
    lines = sorted(",".join(r[i] for i in keep) for r in rows[1:])
    print(f, [rows[0][i] for i in keep], hashlib.sha256("\n".join(lines).encode()).hexdigest())
s = json.load(open(os.path.join(d, "summary.json")))
timing = re.compile(r"(_ms|_us|per_second|_per_s|_s|started_at)(\.|$)")
print("# summary.json keys and deterministic values")
def walk(v, path):
    if isinstance(v, dict):
        for k in sorted(v):
            walk(v[k], f"{path}.{k}" if path else k)
    elif isinstance(v, list):
        print(path, "[list of", len(v), "]")
        for i, x in enumerate(v):
            walk(x, f"{path}[{i}]")
    else:
        varies = timing.search(path)
        print(path, "~" if varies else json.dumps(v))
walk(s, "")
PY
