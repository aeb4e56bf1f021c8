#!/usr/bin/env bash
# What observability costs the harness (docs/observability.md): the capacity benchmark
# (scenarios/bench/capacity.toml against a zero-latency standalone mock-server) run plain and
# with both features on: scraping the server's /metrics at the default 1 s interval, and
# --metrics-addr scraped once a second as Prometheus would. Interleaved rounds, medians of the
# call rate and of bench's CPU time per call (user + system, from its rusage).
#
# Builds release binaries, uses 127.0.0.1 only, bounded: OBS_ROUNDS (default 5) rounds of
# OBS_DURATION (default 10s) each way.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${OBS_ROUNDS:-5}"
duration="${OBS_DURATION:-10s}"
out="${OBS_OUT:-target/observe-overhead}"
rm -rf "$out"
mkdir -p "$out"

echo "== building release binaries"
cargo build --release --quiet --bin bench -p reactbench
cargo build --release --quiet -p mock-server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mock_port="$(free_port)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

./target/release/mock-server --port "$mock_port" --config scripts/bench/mock-zero.toml \
    >"$out/mock.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$mock_port/health" >/dev/null 2>&1 && break
    sleep 0.1
done

plain="$out/plain.toml"
observed="$out/observed.toml"
cp scenarios/bench/capacity.toml "$plain"
sed "s|^timeout = \"10s\"|timeout = \"10s\"\nmetrics_url = \"http://127.0.0.1:$mock_port/metrics\"|" \
    scenarios/bench/capacity.toml >"$observed"
grep -q metrics_url "$observed"

# Runs bench and prints "calls_per_s cpu_us_per_call"; with a port, scrapes it every second.
one() { # scenario, dir, [metrics port]
    local args=(run "$1" --out "$2" --quiet --duration "$duration"
        --endpoint-url "http://127.0.0.1:$mock_port/v1")
    [ -n "${3:-}" ] && args+=(--metrics-addr "127.0.0.1:$3")
    python3 - "${3:-}" ./target/release/bench "${args[@]}" <<'PY'
import resource, subprocess, sys, threading, time, urllib.request
port, cmd = sys.argv[1], sys.argv[2:]
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
scrapes = 0
def scrape():
    global scrapes
    while p.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read()
            scrapes += 1
        except Exception:
            pass
        time.sleep(1)
if port:
    threading.Thread(target=scrape, daemon=True).start()
p.wait()
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime, scrapes)
PY
}

printf 'round,mode,calls_per_s,cpu_us_per_call,scrapes_of_export,server_scrapes\n' >"$out/rounds.csv"
for r in $(seq "$rounds"); do
    for mode in plain observed; do
        dir="$out/r$r-$mode"
        port=""
        [ "$mode" = observed ] && port="$(free_port)"
        read -r cpu scrapes < <(one "$out/$mode.toml" "$dir" "$port")
        python3 - "$dir/summary.json" "$r" "$mode" "$cpu" "$scrapes" >>"$out/rounds.csv" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
calls = s["llm_call"]["count"]
server = s.get("server", {}).get("scrapes", {}).get("ok", 0)
print(f'{sys.argv[2]},{sys.argv[3]},{s["llm_call"]["per_second"]:.0f},{float(sys.argv[4]) * 1e6 / max(calls, 1):.2f},{sys.argv[5]},{server}')
PY
        tail -1 "$out/rounds.csv"
    done
done

python3 - "$out/rounds.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = lambda m, k: [float(r[k]) for r in rows if r["mode"] == m]
rate = [float(o["calls_per_s"]) / float(p["calls_per_s"])
        for p, o in zip([r for r in rows if r["mode"] == "plain"], [r for r in rows if r["mode"] == "observed"])]
cpu = [float(o["cpu_us_per_call"]) / float(p["cpu_us_per_call"])
       for p, o in zip([r for r in rows if r["mode"] == "plain"], [r for r in rows if r["mode"] == "observed"])]
print(f"plain:    {statistics.median(by('plain', 'calls_per_s')):.0f} calls/s, {statistics.median(by('plain', 'cpu_us_per_call')):.2f} µs CPU per call")
print(f"observed: {statistics.median(by('observed', 'calls_per_s')):.0f} calls/s, {statistics.median(by('observed', 'cpu_us_per_call')):.2f} µs CPU per call")
print(f"observed/plain: calls/s x{statistics.median(rate):.3f} (rounds {min(rate):.3f}-{max(rate):.3f}), "
      f"CPU per call x{statistics.median(cpu):.3f} (rounds {min(cpu):.3f}-{max(cpu):.3f})")
PY
