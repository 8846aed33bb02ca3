#!/usr/bin/env bash
# Builds liftcam.wasm, a WASI command, from the core (Sources/LiftCAMCore), the shared command line
# (Sources/LiftCAMCommandLine) and the WASI platform layer (Platforms/WASI with Platforms/Common),
# with Embedded Swift and the toolchain's wasm-ld. No SDK or C library is needed.
#
#   Scripts/build_wasm.sh [OUTPUT]          (default .build/wasm/liftcam.wasm; about a minute on 2 cores)
#   wasmkit run --dir . .build/wasm/liftcam.wasm explain --arch A.json --weights DIR --input x.npy --json -
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
output="$(realpath -m "${1:-$root/.build/wasm/liftcam.wasm}")"
work="$output.objects"
mkdir -p "$work"
bin="$(dirname "$(readlink -f "$(command -v swiftc)")")"
embedded="$bin/../lib/swift/embedded/wasm32-unknown-none-wasm"

# -Osize: wasmkit interprets the module, where smaller code is also faster code. The kernels keep
# their fused multiply-adds: wasm has no such instruction, so each is a call of runtime.c's fmaf,
# computed in double; slower than a multiply and an add, but the coefficients then agree with the
# native build's to rounding (a separate multiply and add moved Score-CAM's by 2e-5 on resnet_digits).
swift_flags=(-target wasm32-unknown-none-wasm -enable-experimental-feature Embedded
             -enable-experimental-feature Extern -wmo -Osize -parse-as-library
             -Xfrontend -disable-stack-protector -I "$work")
core_sources=$(find "$root/Sources/LiftCAMCore" -name '*.swift' | sort)
swiftc() { "$bin/swiftc" "${swift_flags[@]}" "$@"; }

# The module interfaces first (fast), then the three objects, two at a time.
swiftc -module-name LiftCAMCore -emit-module -emit-module-path "$work/LiftCAMCore.swiftmodule" $core_sources
swiftc -module-name LiftCAMCore -c -o "$work/core.o" $core_sources &
core=$!
swiftc -module-name LiftCAMCommandLine -emit-module -emit-module-path "$work/LiftCAMCommandLine.swiftmodule" \
    -c -o "$work/commandline.o" "$root"/Sources/LiftCAMCommandLine/*.swift
swiftc -module-name liftcam -c -o "$work/main.o" "$root"/Platforms/WASI/*.swift "$root"/Platforms/Common/*.swift
for c in "$root/Platforms/Common/runtime.c" "$root/Platforms/WASI/memory.c"; do
    "$bin/clang" --target=wasm32-unknown-none -O2 -ffreestanding -fno-builtin -c -o "$work/$(basename "$c" .c).o" "$c"
done
wait $core

"$bin/wasm-ld" --no-entry --export=_start --gc-sections --strip-all -z stack-size=1048576 \
    -o "$output" "$work/main.o" "$work/commandline.o" "$work/core.o" "$work/runtime.o" "$work/memory.o" \
    "$embedded/libswiftUnicodeDataTables.a"
echo "$output ($(wc -c < "$output") bytes)"
