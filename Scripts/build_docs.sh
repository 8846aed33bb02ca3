#!/usr/bin/env bash
# The API documentation as DocC archives, built with the toolchain's own `docc` (no package plugin,
# no dependency): the compiler extracts the symbol graph of each module's public API, docc turns it
# into an archive that any static file server can serve.
#
#   Scripts/build_docs.sh [OUT [--no-build]]       default OUT: out/docs
#
# Then: python3 -m http.server --directory OUT/LiftCAMCore.doccarchive 8000
#       and open http://localhost:8000/documentation/liftcamcore
# (likewise LiftCAM, LiftCAMImaging). The LiftCAMCore archive starts from the landing page in
# Documentation/LiftCAMCore.docc.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/out/docs}"
docc="$(dirname "$(readlink -f "$(command -v swift)")")/docc"
[ -x "$docc" ] || docc="$(command -v docc)"

# The symbol graphs come from the release build's modules (swift-symbolgraph-extract, which is what
# `swift package dump-symbol-graph` runs too). --no-build uses the modules as they are: the tests
# call it from inside `swift test`, which holds the build folder's lock.
modules="$root/.build/release/Modules"
if [ "${2:-}" != "--no-build" ]; then
    (cd "$root" && swift build -c release >/dev/null) || { echo "build_docs: swift build -c release failed" >&2; exit 1; }
fi
[ -f "$modules/LiftCAMCore.swiftmodule" ] || { echo "build_docs: no release build in $modules" >&2; exit 1; }
triple="$("$(dirname "$docc")/swiftc" -print-target-info | sed -n 's/^ *"triple": "\(.*\)",*$/\1/p' | head -1)"
graphs="$(mktemp -d)"
trap 'rm -rf "$graphs"' EXIT
mkdir -p "$out"
for module in LiftCAMCore LiftCAM LiftCAMImaging; do
    module_graphs="$graphs/$module"
    mkdir -p "$module_graphs"
    "$(dirname "$docc")/swift-symbolgraph-extract" -module-name "$module" -I "$modules" -target "$triple" \
        -minimum-access-level public -output-dir "$module_graphs" \
        || { echo "build_docs: no symbol graph for $module" >&2; exit 1; }
    catalog=()
    [ -d "$root/Documentation/$module.docc" ] && catalog=("$root/Documentation/$module.docc")
    rm -rf "$out/$module.doccarchive"
    "$docc" convert "${catalog[@]}" --additional-symbol-graph-dir "$module_graphs" \
        --fallback-display-name "$module" --fallback-bundle-identifier "org.liftcam.$module" \
        --output-dir "$out/$module.doccarchive" --transform-for-static-hosting >/dev/null
    echo "$out/$module.doccarchive"
done
