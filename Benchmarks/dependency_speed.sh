#!/usr/bin/env bash
# What a program that takes LiftCAM as a SwiftPM dependency gets (issue 12): Benchmarks/Consumer built
# three ways from the committed HEAD, then run alternately in one session so the ratios compare like
# with like.
#
#   root flags      LiftCAM as a path dependency, compiled exactly as the root build (AVX2 + FMA)
#   dependency      pinned by version from a git repository (checked out under .build/checkouts):
#                   SwiftPM allows no CPU flags there, so the core multiplies and adds separately
#   dependency +    the same pin, the consumer building everything with
#   consumer flags  -Xcc -mavx2 -Xcc -mfma -Xswiftc -DLIFTCAM_FUSED_MULTIPLY_ADD
#
#   Benchmarks/dependency_speed.sh [ROUNDS] [TABLE.md]      defaults: 3, print only
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-3}" table="${2:-}"
work="$(mktemp -d /tmp/liftcam-dependency.XXXXXX)"
trap 'rm -rf "$work"' EXIT
commit="$(git -C "$root" rev-parse --short HEAD)"

# A repository with one version tag: what a consumer pins.
git clone -q --bare "$root" "$work/LiftCAM.git"
git -C "$work/LiftCAM.git" tag 0.1.0 HEAD
cp -R "$root/Benchmarks/Consumer" "$work/consumer"

build() {  # build LABEL [swift build flags…], with the dependency chosen by the environment
    local label="$1"; shift
    (cd "$work/consumer" && swift build -c release --scratch-path "$work/build-$label" "$@" >"$work/build-$label.log" 2>&1) \
        || { echo "build $label failed:" >&2; tail -20 "$work/build-$label.log" >&2; exit 1; }
    echo "$work/build-$label/release/liftcam-consumer"
}
echo "building the consumer three ways from $commit (a few minutes each)…" >&2
root_bin=$(LIFTCAM_PATH="$root" build root) || exit 1
export LIFTCAM_REPOSITORY="file://$work/LiftCAM.git" LIFTCAM_VERSION=0.1.0
plain_bin=$(build plain) || exit 1
flags_bin=$(build flags -Xcc -mavx2 -Xcc -mfma -Xswiftc -DLIFTCAM_FUSED_MULTIPLY_ADD) || exit 1
# The pinned builds really are checkouts (no CPU flags allowed), not the working tree.
test -d "$work/build-plain/checkouts/LiftCAM" || { echo "the dependency was not checked out"; exit 1; }

results="$work/results.tsv"
for round in $(seq "$rounds"); do
    for label in root plain flags; do
        bin_var="${label}_bin"
        "${!bin_var}" | awk -v label="$label" '{ print label "\t" $1 "\t" $2 }' >> "$results"
    done
done

python3 - "$results" "$commit" "$rounds" "$(uname -m)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" <<'PY' | tee ${table:+"$table"}
import collections, statistics, sys
path, commit, rounds, machine, cpu = sys.argv[1:]
values = collections.defaultdict(list)
for line in open(path):
    label, name, value = line.split("\t")
    values[(label, name)].append(float(value))
gemm = {label: statistics.median(values[(label, "gemm-512")]) for label in ("root", "plain", "flags")}
vgg = {label: statistics.median(values[(label, "vgg16-forward")]) for label in ("root", "plain", "flags")}
names = {"root": "root build's settings (path dependency)", "plain": "dependency pinned by version",
         "flags": "dependency pinned by version + consumer flags"}
print(f"| build of LiftCAM {commit} | GEMM 512³ GFLOP/s | × root | VGG16 forward s | × root (time) |")
print("|---|---:|---:|---:|---:|")
for label in ("root", "plain", "flags"):
    print(f"| {names[label]} | {gemm[label]:.1f} | {gemm[label] / gemm['root']:.2f} | {vgg[label]:.3f} | {vgg[label] / vgg['root']:.2f} |")
print(f"\nMedians of {rounds} alternating rounds (GEMM: fastest of 20 runs per round; VGG16: batch 1, "
      f"224×224, median of 7 per round); {machine}, {cpu}, 2 threads.")
PY
