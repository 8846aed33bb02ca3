#!/usr/bin/env bash
# Links the core and a small LIFT-CAM program (Platforms/BareMetal/Main.swift) on the fixture
# network tiny_vgg into a bare-metal ELF for a microcontroller-class target, with Embedded Swift,
# the toolchain's clang and ld.lld, and a linker script of ours. Prints the section sizes.
#
#   Scripts/build_baremetal.sh armv7em|riscv32|aarch64 [OUTPUT.elf]   (default .build/baremetal/<target>.elf)
#   qemu-system-arm -M mps2-an500 -nographic -semihosting -kernel .build/baremetal/armv7em.elf
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:?target: armv7em, riscv32 or aarch64}"
output="$(realpath -m "${2:-$root/.build/baremetal/$target.elf}")"
work="$output.objects"
mkdir -p "$work"
bin="$(dirname "$(readlink -f "$(command -v swiftc)")")"

# Hardware floating point everywhere (a soft-float build would call a library for every operation):
# Cortex-M7's FPv5 (single and double precision, fused multiply-add), RISC-V's F and D extensions.
case "$target" in
    armv7em) triple=armv7em-none-none-eabi
             cpu=(-mcpu=cortex-m7 -mfpu=fpv5-d16 -mfloat-abi=softfp -mthumb -mno-unaligned-access)
             clang_target=armv7em-none-eabi ;;
    riscv32) triple=riscv32-none-none-eabi
             cpu=(-march=rv32gc -mabi=ilp32 -mno-relax)
             clang_target=riscv32-none-elf ;;
    aarch64) triple=aarch64-none-none-elf
             cpu=()
             clang_target=aarch64-none-elf ;;
    *) echo "unknown target '$target' (armv7em, riscv32 or aarch64)" >&2; exit 2 ;;
esac
xcc=()
for flag in "${cpu[@]}"; do xcc+=(-Xcc "$flag"); done
swift_flags=(-target "$triple" "${xcc[@]}" -enable-experimental-feature Embedded
             -enable-experimental-feature Extern -wmo -Osize -parse-as-library
             -Xfrontend -disable-stack-protector -Xfrontend -function-sections -I "$work")
core_sources=$(find "$root/Sources/LiftCAMCore" -name '*.swift' | sort)

"$bin/swiftc" "${swift_flags[@]}" -module-name LiftCAMCore -emit-module -emit-module-path "$work/LiftCAMCore.swiftmodule" \
    -c -o "$work/core.o" $core_sources
"$bin/swiftc" "${swift_flags[@]}" -module-name liftcam -c -o "$work/main.o" \
    "$root/Platforms/BareMetal/Main.swift" "$root/Platforms/Common/Allocator.swift" "$root/Platforms/Common/TextToNumber.swift"
python3 "$root/Scripts/pack_files.py" "$work/fixture.c" liftcam_fixture \
    "tiny_vgg/arch.json=$root/Fixtures/models/tiny_vgg/arch.json" \
    "tiny_vgg/weights/=$root/Fixtures/models/tiny_vgg/weights/" \
    "input.npy=$root/Fixtures/reference/tiny_vgg/case0/input.npy"
for c in "$root/Platforms/Common/runtime.c" "$root/Platforms/BareMetal/board.c" "$root/Platforms/BareMetal/libcalls.c" "$work/fixture.c"; do
    "$bin/clang" --target="$clang_target" "${cpu[@]}" -O2 -ffreestanding -fno-builtin -fno-math-errno -ffunction-sections \
        -c -o "$work/$(basename "$c" .c).o" "$c"
done
"$bin/ld.lld" -T "$root/Platforms/BareMetal/$target.ld" --gc-sections -o "$output" \
    "$work/main.o" "$work/core.o" "$work/board.o" "$work/runtime.o" "$work/libcalls.o" "$work/fixture.o" \
    "$bin/../lib/swift/embedded/$triple/libswiftUnicodeDataTables.a"
"$bin/llvm-objdump" --section-headers "$output" | grep -E "^ *[0-9]+ \.(text|data|bss|ARM)"
echo "$output"
