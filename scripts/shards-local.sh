#!/usr/bin/env bash
# Runs a scenario as N shards on this machine, each with the command line a pod of the
# Kubernetes Indexed Job runs (deploy/kubernetes/job.yaml; a test pins the two together), with a
# common start a few seconds ahead, then merges them into one report.
#
#   scripts/shards-local.sh N SCENARIO [OUT]      (OUT defaults to reports/shards-local)
#
# The shards' reports land in OUT/shard-I, the merged one in OUT/merged; the exit code is
# `bench merge`'s (1 when a threshold fails on the merged run). BENCH picks the binary
# (default: target/release/bench, built if missing); START_DELAY the seconds to the start (5).
set -euo pipefail
cd "$(dirname "$0")/.."

SHARDS=${1:?usage: scripts/shards-local.sh N SCENARIO [OUT]}
SCENARIO=${2:?usage: scripts/shards-local.sh N SCENARIO [OUT]}
REPORTS=${3:-reports/shards-local}
BENCH=${BENCH:-target/release/bench}
if [[ ! -x $BENCH ]]; then
    cargo build --release --bin bench
fi
START_AT=$(date -u -d "+${START_DELAY:-5} sec" +%Y-%m-%dT%H:%M:%SZ)

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
echo "shards-local: $SHARDS shards of $SCENARIO, common start $START_AT, reports in $REPORTS" >&2
pids=()
for ((JOB_COMPLETION_INDEX = 0; JOB_COMPLETION_INDEX < SHARDS; JOB_COMPLETION_INDEX++)); do
    export JOB_COMPLETION_INDEX
    POD_ARGS=(run "$SCENARIO" --shards "$SHARDS" --start-at "$START_AT" --quiet --out "$REPORTS/shard-$JOB_COMPLETION_INDEX")
    "$BENCH" "${POD_ARGS[@]}" >"$REPORTS/shard-$JOB_COMPLETION_INDEX.log" 2>&1 &
    pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
    # A shard exits 0, or 3 when it was interrupted; its thresholds are judged after the merge.
    code=0
    wait "${pids[$i]}" || code=$?
    if [[ $code -ne 0 && $code -ne 3 ]]; then
        echo "shards-local: shard $i exited $code; see $REPORTS/shard-$i.log" >&2
        failed=1
    fi
done
if [[ $failed -ne 0 ]]; then
    exit 2
fi
"$BENCH" merge "$REPORTS/merged" "$REPORTS" --junit "$REPORTS/merged.xml"
