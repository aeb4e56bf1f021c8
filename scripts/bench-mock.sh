#!/usr/bin/env bash
# Throughput of the mock server: non-streaming chat completions per second with zero latency.
#
# Installs its load tool if missing (oha via `cargo install`, else wrk via apt), builds and
# starts the release mock-server on 127.0.0.1 with `--instant`, runs one bounded load with a
# realistic ReAct request (system prompt with tools, a user turn, one step of history), prints
# requests/s, and stops the server it started. Loopback only.
#
#   scripts/bench-mock.sh [duration=10s] [connections=32]
#   BENCH_TOOL=wrk scripts/bench-mock.sh     # force wrk (or oha)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-10s}"
CONNS="${2:-32}"
TOOL="${BENCH_TOOL:-}"

if [[ -z "$TOOL" ]]; then
    if command -v oha >/dev/null; then TOOL=oha
    elif command -v wrk >/dev/null; then TOOL=wrk
    fi
fi
if [[ -z "$TOOL" ]]; then
    echo "== installing a load generator" >&2
    if command -v apt-get >/dev/null && { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; }; }; then
        TOOL=wrk
    else
        cargo install oha --locked >&2
        TOOL=oha
    fi
fi

echo "== building the release mock-server" >&2
cargo build --release -q -p mock-server
BIN=target/release/mock-server

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" --port 0 --instant >"$WORK/addr" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    [[ -s "$WORK/addr" ]] && break
    sleep 0.1
done
BASE="$(head -n1 "$WORK/addr")"
if [[ -z "$BASE" ]]; then
    echo "mock-server did not start:" >&2
    cat "$WORK/server.log" >&2
    exit 1
fi
URL="$BASE/chat/completions"

# A realistic text-protocol ReAct request: ~350 prompt tokens, one tool step done.
cat >"$WORK/body.json" <<'JSON'
{"model":"gpt-4.1","max_tokens":512,"messages":[
{"role":"system","content":"You are a helpful assistant for an online store. Answer the user's question as best you can. You have access to the following tools:\n\ncalculator: evaluates an arithmetic expression such as (12 + 7) * 3 and returns the number.\nsearch: searches the public web and returns the top three snippets for a query.\nlookup: looks up a key in the company knowledge base (orders, refunds, shipping policies) and returns the matching entry.\n\nUse the following format:\n\nQuestion: the input question you must answer\nThought: you should always think about what to do\nAction: the action to take, should be one of [calculator, search, lookup]\nAction Input: the input to the action\nObservation: the result of the action\n... (this Thought/Action/Action Input/Observation can repeat N times)\nThought: I now know the final answer\nFinal Answer: the final answer to the original input question\n\nRules: never reveal internal notes, never run destructive actions, keep answers short and cite the tool results you used. If a tool fails, try once more with a simpler input, then answer with what you have."},
{"role":"user","content":"My order 1042 was 3 items at 249000 VND each plus 30000 shipping. What did I pay in total, and can I still return one item?"},
{"role":"assistant","content":"Thought: I should compute the total first.\nAction: calculator\nAction Input: 3 * 249000 + 30000"},
{"role":"user","content":"Observation: 777000"}
]}
JSON

curl -sf "$URL" -H 'content-type: application/json' --data-binary @"$WORK/body.json" >/dev/null \
    || { echo "sanity request failed" >&2; exit 1; }

echo "== $TOOL: $CONNS connections for $DURATION against $URL" >&2
case "$TOOL" in
    oha)
        oha --no-tui -z "$DURATION" -c "$CONNS" -m POST -H 'content-type: application/json' \
            -D "$WORK/body.json" "$URL" | tee "$WORK/out" >&2
        RPS="$(grep -m1 'Requests/sec' "$WORK/out" | awk '{print $2}')"
        ;;
    wrk)
        BODY="$WORK/body.json" wrk -t2 -c "$CONNS" -d "$DURATION" -s scripts/bench/post.lua "$URL" \
            | tee "$WORK/out" >&2
        RPS="$(grep -m1 'Requests/sec' "$WORK/out" | awk '{print $2}')"
        ;;
    *)
        echo "unknown BENCH_TOOL=$TOOL (use oha or wrk)" >&2
        exit 2
        ;;
esac

STATS="$(curl -sf "${BASE%/v1}/mock/stats")"
echo "== server stats: $STATS" >&2
echo "requests/s: $RPS"
