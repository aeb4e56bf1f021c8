#!/usr/bin/env bash
# Benchmark of `bench merge` (docs/distributed.md): 8 shards of a ~100,000-call run
# (scenarios/bench/merge.toml, embedded mock at zero latency), run one after the other, then
# merged under GNU time: wall time and peak memory of the merge, and the merged call count.
#
#   scripts/merge-bench.sh [SHARDS] [OUT]      (defaults: 8, target/merge-bench)
set -euo pipefail
cd "$(dirname "$0")/.."

SHARDS=${1:-8}
OUT=${2:-target/merge-bench}
BENCH=target/release/bench
cargo build --release --bin bench
rm -rf "$OUT"
mkdir -p "$OUT/shards"
for ((i = 0; i < SHARDS; i++)); do
    "$BENCH" run scenarios/bench/merge.toml --shard "$i/$SHARDS" --quiet \
        --out "$OUT/shards/shard-$i" >/dev/null
done
/usr/bin/time -v "$BENCH" merge "$OUT/merged" "$OUT/shards" >/dev/null 2>"$OUT/time.txt"
python3 - "$OUT" "$SHARDS" <<'PY'
import json, re, sys, os
out, shards = sys.argv[1], sys.argv[2]
s = json.load(open(f"{out}/merged/summary.json"))
t = open(f"{out}/time.txt").read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", t).group(1)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
state = sum(os.path.getsize(f"{out}/shards/shard-{i}/shard_state.json") for i in range(int(shards)))
csv = sum(os.path.getsize(f"{out}/shards/shard-{i}/calls.csv") for i in range(int(shards)))
print(f"merged {shards} shards: {s['llm_call']['count']} calls, {s['conversation']['count']} conversations")
print(f"merge wall time {wall}, peak RSS {rss / 1024:.1f} MB")
print(f"inputs: shard_state.json {state / 1e6:.2f} MB in all, calls.csv {csv / 1e6:.1f} MB in all")
PY
