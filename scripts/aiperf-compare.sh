#!/usr/bin/env bash
# Runs aiperf and `bench run` against the same fixed-latency mock-server and prints their TTFT,
# time per output token and end-to-end latency percentiles side by side (docs/aiperf-comparison.md).
#
# Installs aiperf into a virtualenv under target/ (PyPI; `--tokenizer builtin` needs no network
# beyond the package index), builds release binaries, runs on 127.0.0.1 only, bounded by a
# request count. AIPERF_REQUESTS (default 640) and AIPERF_CONCURRENCY (default 32) narrow it.
set -euo pipefail
cd "$(dirname "$0")/.."

requests="${AIPERF_REQUESTS:-640}"
concurrency="${AIPERF_CONCURRENCY:-32}"
out="${AIPERF_OUT:-target/aiperf-compare}"
venv="target/aiperf-venv"
rm -rf "$out"
mkdir -p "$out"

if [ ! -x "$venv/bin/aiperf" ]; then
    echo "== installing aiperf into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet aiperf
fi
echo "== aiperf $("$venv/bin/aiperf" --version 2>/dev/null | tail -1)"

echo "== building release binaries"
cargo build --release --quiet --bin bench -p reactbench
cargo build --release --quiet -p mock-server

# aiperf's builtin tokenizer is tiktoken's o200k, which tiktoken downloads on first use. The
# same file ships inside the tiktoken-rs crate this project builds with (tiktoken checks its
# SHA-256), so it is put where tiktoken looks first: no network needed.
cache="$PWD/target/tiktoken-cache"
mkdir -p "$cache"
for enc in o200k_base cl100k_base; do
    src="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/tiktoken-rs-*/assets/$enc.tiktoken 2>/dev/null | head -1)"
    key="$(python3 -c "import hashlib,sys; print(hashlib.sha1(sys.argv[1].encode()).hexdigest())" \
        "https://openaipublic.blob.core.windows.net/encodings/$enc.tiktoken")"
    [ -n "$src" ] && cp "$src" "$cache/$key"
done
export TIKTOKEN_CACHE_DIR="$cache"

./target/release/mock-server --port 0 --config scripts/aiperf/mock.toml >"$out/mock.log" 2>&1 &
mock_pid=$!
trap 'kill $mock_pid 2>/dev/null || true' EXIT
base=""
for _ in $(seq 100); do
    base="$(grep -o 'http://127.0.0.1:[0-9]*/v1' "$out/mock.log" | head -1 || true)"
    [ -n "$base" ] && break
    sleep 0.1
done
[ -n "$base" ] || { echo "mock-server did not start" >&2; cat "$out/mock.log" >&2; exit 1; }
echo "== mock-server at $base (ttft 100 ms, 10 ms per token, 64 tokens, no jitter)"

echo "== aiperf: $requests streamed requests at concurrency $concurrency"
"$venv/bin/aiperf" profile --model gpt-4.1 --url "${base%/v1}" --endpoint-type chat --streaming \
    --tokenizer builtin --concurrency "$concurrency" --request-count "$requests" \
    --warmup-request-count "$concurrency" --isl 100 --ui-type none \
    --artifact-dir "$out/aiperf" >"$out/aiperf.log" 2>&1 || {
    echo "aiperf failed:" >&2
    tail -30 "$out/aiperf.log" >&2
    exit 1
}

echo "== bench run: the same mock, $concurrency users"
./target/release/bench run scripts/aiperf/bench.toml --endpoint-url "$base" \
    --users "$concurrency" --conversations-per-user $((requests / concurrency)) \
    --quiet --out "$out/bench" >"$out/bench.log" 2>&1 || {
    echo "bench run failed:" >&2
    tail -30 "$out/bench.log" >&2
    exit 1
}

python3 - "$out" <<'PY'
import json, sys, glob, os
out = sys.argv[1]
path = glob.glob(os.path.join(out, "aiperf", "**", "*aiperf*.json"), recursive=True)
path = [p for p in path if "profile_export" in os.path.basename(p)] or path
a = json.load(open(sorted(path)[0]))
def aiperf(metric):
    m = a.get(metric) or a.get("records", {}).get(metric)
    if m is None:
        for v in a.values():
            if isinstance(v, dict) and metric in v:
                m = v[metric]
    return m
b = json.load(open(os.path.join(out, "bench", "summary.json")))
c = b["llm_call"]
# What the mock is configured to take (scripts/aiperf/mock.toml): 100 ms, 10 ms, 100 + 63 x 10.
rows = [
    ("time to first token", 100.0, aiperf("time_to_first_token"), c["ttft_ms"]),
    ("time per output token", 10.0, aiperf("inter_token_latency"), c["tpot_ms"]),
    ("end-to-end latency", 730.0, aiperf("request_latency"), c["latency_ms"]),
]
print(f"| metric (ms) | percentile | configured | aiperf | bench run | difference |")
print(f"|---|---|---:|---:|---:|---:|")
worst = 0.0
for name, want, am, bm in rows:
    for p in ("p50", "p90", "p99"):
        av = float(am[p]); bv = float(bm[p])
        diff = (bv - av) / av * 100 if av else 0.0
        worst = max(worst, abs(diff))
        print(f"| {name} | {p} | {want:.0f} | {av:.2f} | {bv:.2f} | {diff:+.1f}% |")
print()
print(f"requests: aiperf {aiperf('request_count')['avg'] if isinstance(aiperf('request_count'), dict) else aiperf('request_count')}, "
      f"bench run {c['count']} calls ({c['errors']} errors); largest difference {worst:.1f}%")
PY
