#!/usr/bin/env bash
# A real Prometheus server scrapes `bench run --metrics-addr` of a running bench, and a PromQL
# query over its HTTP API must return the run's call count as the run's summary.json reports it.
# Also checks both pages (the run's live page and the mock's /metrics) with Prometheus' own
# parser, `promtool check metrics`. docs/observability.md describes what is checked.
#
# Installs Debian's `prometheus` package when it is missing (apt-get; run as root or with sudo),
# builds release binaries, and uses 127.0.0.1 only. The run is bounded (PROM_RUN_SECONDS,
# default 15), Prometheus is stopped on exit, and every wait has a limit.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${PROM_RUN_SECONDS:-15}"
out="${PROM_OUT:-target/prometheus-check}"
rm -rf "$out"
mkdir -p "$out"

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    echo "== installing Debian's prometheus package"
    sudo_=""
    [ "$(id -u)" -ne 0 ] && sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends prometheus
fi
echo "== $(prometheus --version 2>&1 | head -1)"

echo "== building release binaries"
cargo build --release --quiet --bin bench -p reactbench
cargo build --release --quiet -p mock-server

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
bench_port="$(free_port)"
prom_port="$(free_port)"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# promtool parses a page (a parse error fails the check) and lints it; vLLM's own names carry a
# colon, which the linter flags as a style matter, so that one lint is allowed on the mock's page.
check_page() { # file, allowed lint pattern (or "")
    local report
    report="$(promtool check metrics <"$1" 2>&1 || true)"
    if grep -q "error while linting" <<<"$report"; then
        echo "promtool cannot parse $1: $report" >&2
        return 1
    fi
    local rest="$report"
    [ -n "$2" ] && rest="$(grep -v -- "$2" <<<"$report" || true)"
    if [ -n "$rest" ]; then
        echo "promtool lints $1: $rest" >&2
        return 1
    fi
    echo "   parsed: $(grep -c . <"$1") lines, no lint${2:+ but the allowed \"$2\"}"
}

wait_for() { # url, what
    for _ in $(seq 150); do
        curl -fsS "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "$2 did not come up at $1" >&2
    return 1
}

# 1. The mock's page through Prometheus' own parser, after some traffic.
./target/release/mock-server --port 0 >"$out/mock.log" 2>&1 &
pids+=($!)
base=""
for _ in $(seq 100); do
    base="$(grep -o 'http://127.0.0.1:[0-9]*/v1' "$out/mock.log" | head -1 || true)"
    [ -n "$base" ] && break
    sleep 0.1
done
[ -n "$base" ] || { echo "mock-server did not start" >&2; exit 1; }
for stream in true false; do
    curl -fsS "$base/chat/completions" -H 'content-type: application/json' -d "{
      \"model\": \"gpt-4.1\", \"stream\": $stream, \"stream_options\": {\"include_usage\": true},
      \"messages\": [{\"role\": \"user\", \"content\": \"What is 17 * 23?\"}]}" >/dev/null
done
curl -fsS "${base%/v1}/metrics" >"$out/mock-metrics.txt"
echo "== promtool check metrics: the mock's /metrics"
check_page "$out/mock-metrics.txt" "metric names should not contain ':'"

# 2. A bounded run with --metrics-addr, scraped by Prometheus every second.
cat >"$out/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: reactbench
    static_configs:
      - targets: ["127.0.0.1:$bench_port"]
  - job_name: mock
    static_configs:
      - targets: ["$(sed 's|^http://||; s|/v1$||' <<<"$base")"]
EOF
prometheus --config.file="$out/prometheus.yml" --storage.tsdb.path="$out/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$out/prometheus.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$prom_port/-/ready" "prometheus"

cat >"$out/scenario.toml" <<EOF
name = "prometheus-check"
seed = 1
duration = "${seconds}s"
grace = "5s"

[endpoint]
kind = "mock"
metrics_url = "mock"

[mock.models.default]
ttft = "50ms"
per_token = "5ms"

[mock.faults]
rate_limit = 0.02

[load]
users = 20
think_time = "100ms..300ms"

[agent]
model = "gpt-4.1"
fallback = ["gpt-4o-mini"]
stream = true
retry = { max_retries = 2, base_delay = "10ms", max_delay = "100ms" }

[[workload]]
prompts = ["What is 12 times 34?", "Look up order 48213.", "Search for the library's hours."]
EOF
echo "== bench run for ${seconds}s with --metrics-addr 127.0.0.1:$bench_port (held 10s after)"
./target/release/bench run "$out/scenario.toml" --out "$out/run" --quiet \
    --metrics-addr "127.0.0.1:$bench_port" --metrics-hold 10s >"$out/bench.log" 2>&1 &
bench_pid=$!
pids+=($bench_pid)
wait_for "http://127.0.0.1:$bench_port/metrics" "bench --metrics-addr"
sleep 3
curl -fsS "http://127.0.0.1:$bench_port/metrics" >"$out/live-metrics.txt"
echo "== promtool check metrics: bench's live page"
check_page "$out/live-metrics.txt" ""
wait "$bench_pid" || { echo "bench run failed" >&2; cat "$out/bench.log" >&2; exit 1; }

# 3. PromQL over the API: the run's call count. max_over_time, because Prometheus marks the
# series stale once the finished run stops answering.
query='max_over_time(reactbench_llm_calls_total{scenario="prometheus-check"}[10m])'
from_prom="$(curl -fsS -G "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else -1)')"
from_run="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["llm_call"]["count"])' "$out/run/summary.json")"
samples="$(curl -fsS -G "http://127.0.0.1:$prom_port/api/v1/query" \
    --data-urlencode 'query=count_over_time(reactbench_llm_calls_total[10m])' |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')"
echo "== PromQL $query = $from_prom ($samples samples scraped); summary.json llm_call.count = $from_run"
if [ "$from_prom" != "$from_run" ]; then
    echo "MISMATCH: Prometheus saw $from_prom calls, the run reports $from_run" >&2
    exit 1
fi
echo "OK: Prometheus and the run agree on $from_run calls"

# 4. Every query of the shipped Grafana dashboard runs on this Prometheus and finds data.
echo "== deploy/grafana/reactbench.json: each panel's query"
python3 - "$prom_port" deploy/grafana/reactbench.json <<'PY'
import json, sys, time, urllib.parse, urllib.request
port, path = sys.argv[1], sys.argv[2]
dash = json.load(open(path))
end = time.time()
bad = 0
for p in dash["panels"]:
    for t in p.get("targets", []):
        expr = t["expr"].replace("$__rate_interval", "5s").replace('"$scenario"', '".*"')
        q = urllib.parse.urlencode({"query": expr, "start": end - 600, "end": end, "step": "2"})
        r = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query_range?{q}"))
        series = len(r["data"]["result"]) if r["status"] == "success" else -1
        # KV cache use and the failure classes may rightly be absent; everything else has data.
        optional = "cache_usage" in expr or "failures" in expr
        ok = series > 0 or (series == 0 and optional)
        bad += not ok
        print(f"   {'ok ' if ok else 'BAD'} {series:3d} series  {p['title']}: {t['legendFormat']}")
sys.exit(1 if bad else 0)
PY
echo "OK: every dashboard query runs"
