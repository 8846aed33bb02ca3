#!/usr/bin/env bash
# Native speed of two commits in one run: builds each in release (a git worktree per commit, under
# .build-compare/) and times them alternately on the same machine, so the ratios compare like with
# like. Used for the core/platform split (issue 12): the speed must not drop.
#
#   Benchmarks/compare_builds.sh BEFORE AFTER [ROUNDS]      e.g. 5aae5e1 HEAD 3
#
# Rows: `liftcam bench` (forward, LIFT-CAM, Grad-CAM, Ablation-CAM, SHAP-CAM with 10 orderings) on
# vgg16 and resnet50 at 224×224 with random weights, and liftcam-bench's kernel table (GEMM,
# convolutions, linear). Each figure is the median of the rounds; AFTER/BEFORE below 1 is faster.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
before="${1:?BEFORE commit}" after="${2:?AFTER commit}" rounds="${3:-3}"
work="$root/.build-compare"
mkdir -p "$work"
for label in before after; do
    commit=$([ $label = before ] && echo "$before" || echo "$after")
    rm -rf "$work/$label"
    git -C "$root" worktree prune
    git -C "$root" worktree add --detach "$work/$label" "$commit" >/dev/null
    (cd "$work/$label" && swift build -c release --product liftcam >/dev/null && swift build -c release --product liftcam-bench >/dev/null)
done
results="$work/results.tsv"
: > "$results"
for round in $(seq "$rounds"); do
    for label in before after; do
        bin="$work/$label/.build/release"
        for arch in vgg16 resnet50; do
            "$bin/liftcam" bench --arch "$arch" --method lift,gradcam,ablation,shap --repeat 3 --json - | python3 -c '
import json, sys
label, arch = sys.argv[1], sys.argv[2]
data = json.load(sys.stdin)
forward = data["forward_seconds"]
print(f"{label}\tliftcam bench {arch} forward\t{forward}")
for name, row in data["methods"].items():
    seconds = row["seconds"]
    print(f"{label}\tliftcam bench {arch} {name}\t{seconds}")
' "$label" "$arch" >> "$results"
        done
        "$bin/liftcam-bench" | python3 -c '
import sys
label = sys.argv[1]
for line in sys.stdin:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) >= 3 and cells[2].replace(".", "", 1).isdigit():
        print(f"{label}\tliftcam-bench {cells[0]} {cells[1]}\t{float(cells[2]) / 1000}")
' "$label" >> "$results"
    done
done
python3 - "$results" "$before" "$after" "$rounds" <<'PY'
import statistics, sys, collections
path, before, after, rounds = sys.argv[1:]
times = collections.defaultdict(list)
order = []
for line in open(path):
    label, row, seconds = line.rstrip("\n").split("\t")
    if row not in order: order.append(row)
    times[(label, row)].append(float(seconds))
print(f"| row | {before} (s) | {after} (s) | after/before |")
print("|---|---:|---:|---:|")
ratios = []
for row in order:
    b, a = times[("before", row)], times[("after", row)]
    if not b or not a: continue
    mb, ma = statistics.median(b), statistics.median(a)
    ratios.append(ma / mb)
    print(f"| {row} | {mb:.4g} | {ma:.4g} | {ma / mb:.2f} |")
print(f"\nmedian of ratios: {statistics.median(ratios):.3f} over {len(ratios)} rows, {rounds} rounds alternating")
PY
