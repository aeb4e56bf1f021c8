#!/usr/bin/env bash
# Runs a scenario as N shards on Kubernetes and copies the merged report out. Needs only
# kubectl (with a context that may create Jobs, ConfigMaps, PVCs and pods), an image built from
# deploy/kubernetes/Dockerfile that the cluster can pull, and a ReadWriteMany storage class.
#
#   scripts/k8s-run.sh N SCENARIO IMAGE [OUT]       (OUT defaults to reports/k8s-<run id>)
#
# The scenario file and every file in its folder go into the ConfigMap mounted at /scenario
# (prompt files and traces referenced relative to the scenario keep working). START_DELAY (s,
# default 90) is how far ahead the common start is set: room for every pod to be scheduled and
# pull the image. Exit code: the merge Job's (1 when a threshold fails on the merged run).
set -euo pipefail
cd "$(dirname "$0")/.."

SHARDS=${1:?usage: scripts/k8s-run.sh N SCENARIO IMAGE [OUT]}
SCENARIO=${2:?usage: scripts/k8s-run.sh N SCENARIO IMAGE [OUT]}
IMAGE=${3:?usage: scripts/k8s-run.sh N SCENARIO IMAGE [OUT]}
RUN_ID=${RUN_ID:-$(date -u +%Y%m%dt%H%M%Sz)}
OUT=${4:-reports/k8s-$RUN_ID}
START_AT=$(date -u -d "+${START_DELAY:-90} sec" +%Y-%m-%dT%H:%M:%SZ)
K8S=deploy/kubernetes

fill() {
    sed -e "s|image: reactbench:latest|image: $IMAGE|" \
        -e "s|completions: 4|completions: $SHARDS|" \
        -e "s|parallelism: 4|parallelism: $SHARDS|" \
        -e "/name: SHARDS/{n;s|value: .*|value: \"$SHARDS\"|}" \
        -e "/name: START_AT/{n;s|value: .*|value: \"$START_AT\"|}" \
        -e "/name: RUN_ID/{n;s|value: .*|value: $RUN_ID|}" \
        "$1"
}

echo "k8s-run: $SHARDS shards of $SCENARIO, image $IMAGE, run $RUN_ID, start $START_AT" >&2
dir=$(dirname "$SCENARIO")
files=(--from-file=scenario.toml="$SCENARIO")
for f in "$dir"/*; do
    [[ -f $f && $f != "$SCENARIO" ]] && files+=(--from-file="$f")
done
kubectl create configmap reactbench-scenario "${files[@]}" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f "$K8S/pvc.yaml"
kubectl delete job reactbench-shards reactbench-merge --ignore-not-found
fill "$K8S/job.yaml" | kubectl apply -f -
# Waits for a Job to end (the run's length is the scenario's; Ctrl-C leaves the Job running).
wait_job() {
    while :; do
        status=$(kubectl get job "$1" -o jsonpath='{.status.succeeded} {.status.failed}')
        read -r succeeded failed <<<"$status"
        if [[ ${failed:-0} -gt 0 ]]; then return 1; fi
        if [[ ${succeeded:-0} -ge $2 ]]; then return 0; fi
        sleep 10
    done
}
if ! wait_job reactbench-shards "$SHARDS"; then
    echo "k8s-run: a shard failed; see kubectl logs -l app.kubernetes.io/component=shard" >&2
    exit 2
fi
fill "$K8S/merge-job.yaml" | kubectl apply -f -
wait_job reactbench-merge 1 || true
kubectl logs job/reactbench-merge
code=$(kubectl get pods -l job-name=reactbench-merge \
    -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')

# Copy the merged report out through a short-lived pod that mounts the volume.
kubectl run reactbench-fetch --image="$IMAGE" --restart=Never --overrides="$(cat <<JSON
{"spec":{"securityContext":{"runAsUser":10001},"containers":[{"name":"fetch","image":"$IMAGE",
"command":["sleep","600"],"volumeMounts":[{"name":"reports","mountPath":"/reports"}]}],
"volumes":[{"name":"reports","persistentVolumeClaim":{"claimName":"reactbench-reports"}}]}}
JSON
)"
kubectl wait --for=condition=ready --timeout=5m pod/reactbench-fetch
mkdir -p "$OUT"
kubectl cp "reactbench-fetch:/reports/$RUN_ID/merged" "$OUT"
kubectl delete pod reactbench-fetch --wait=false
echo "k8s-run: merged report in $OUT (merge exit code $code)" >&2
exit "${code:-2}"
