// swift-tools-version:5.9
// LiftCAM: a pure-Swift reference implementation of LIFT-CAM (Jung & Oh, ICCV 2021).
// No package dependencies, by design.
import PackageDescription
#if os(Linux)
import Foundation
#endif

// Speed: without CPU feature flags, SIMD16<Float>.addingProduct lowers to sixteen calls of fmaf
// (about 100x slower). The flags below turn it into vfmadd. SwiftPM refuses `unsafeFlags` in a
// package that is consumed as a version-pinned dependency, so they are added only when this package
// is the root of the build (a dependency is checked out under `.../checkouts/`), only on x86-64,
// and never when LIFTCAM_PORTABLE is set (for machines without AVX2/FMA).
//
// Where the flags cannot be used on x86-64, the core gets a plain define instead, which SwiftPM
// allows anywhere: LIFTCAM_SEPARATE_MULTIPLY_ADD makes the kernels multiply and add separately
// (vectorised SSE, never an fmaf call) and use register tiles sized for SSE. A consumer that builds
// its whole graph with `-Xcc -mavx2 -Xcc -mfma -Xswiftc -DLIFTCAM_FUSED_MULTIPLY_ADD` gets the root
// build's kernels back (README, "As a library"; Benchmarks/DEPENDENCY.md).
//
// On a build machine whose processor reports AVX-512 (F, VL, BW, DQ in /proc/cpuinfo), the root
// build also enables those: every SIMD16<Float> becomes one 512-bit register instead of two 256-bit
// ones, half the instructions for the same arithmetic (GEMM's micro-kernel: 6 vfmadd per depth step
// instead of 12). The flags follow what the machine that builds reports, never an assumption, and a
// machine without AVX-512 gets the AVX2 build; LIFTCAM_NO_AVX512 asks for the AVX2 build anyway (to
// compare the two, Benchmarks/README.md). SwiftPM builds on the machine it runs on; a binary copied
// to a machine without AVX-512 would stop at its first 512-bit instruction.
let isCheckedOutDependency = Context.packageDirectory.contains("/checkouts/")
let portableRequested = Context.environment["LIFTCAM_PORTABLE"] != nil
var fastMath: [SwiftSetting] = []
var coreMath: [SwiftSetting] = []

/// The AVX-512 subsets the build machine's processor reports, as clang flags (empty when not all four).
func hostAVX512Flags() -> [String] {
    #if os(Linux)
    guard Context.environment["LIFTCAM_NO_AVX512"] == nil,
          let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    let reported = Set(flagsLine.split(separator: " ").map(String.init))
    let subsets = ["avx512f", "avx512vl", "avx512bw", "avx512dq"]
    guard subsets.allSatisfy(reported.contains) else { return [] }
    return subsets.flatMap { ["-Xcc", "-m" + $0] }
    #else
    return []
    #endif
}

#if arch(x86_64)
if !isCheckedOutDependency && !portableRequested {
    let avx512 = hostAVX512Flags()
    // LIFTCAM_AVX512 tells the kernels they have 32 vector registers (GEMM's 8-row tile).
    fastMath = [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma"] + avx512)] + (avx512.isEmpty ? [] : [.define("LIFTCAM_AVX512")])
    coreMath = fastMath
} else {
    coreMath = [.define("LIFTCAM_SEPARATE_MULTIPLY_ADD")]
}
#endif

let package = Package(
    name: "LiftCAM",
    products: [
        .library(name: "LiftCAM", targets: ["LiftCAM"]),
        .library(name: "LiftCAMCore", targets: ["LiftCAMCore"]),
        .library(name: "LiftCAMImaging", targets: ["LiftCAMImaging"]),
        .executable(name: "liftcam", targets: ["liftcam"]),
        .executable(name: "liftcam-bench", targets: ["liftcam-bench"]),
        .executable(name: "liftcam-fuzz", targets: ["liftcam-fuzz"]),
    ],
    targets: [
        // The engine and the paper, importing nothing: builds as Embedded Swift too (ARCHITECTURE.md).
        .target(name: "LiftCAMCore", swiftSettings: coreMath),
        // The platform layer: files, threads, clock (the C library and Dispatch); re-exports the core.
        .target(name: "LiftCAM", dependencies: ["LiftCAMCore"], swiftSettings: fastMath),
        // Image codecs (PNG with its own inflate/deflate, PPM), colormaps: standard library only.
        .target(name: "LiftCAMImaging", swiftSettings: fastMath),
        // What `forward` and `explain` share on every platform (options, JSON): imports only the core,
        // so the WebAssembly build compiles it too.
        .target(name: "LiftCAMCommandLine", dependencies: ["LiftCAMCore"], swiftSettings: fastMath),
        // The command-line tool as a library, so tests can run it in-process.
        .target(name: "LiftCAMTool", dependencies: ["LiftCAM", "LiftCAMCommandLine", "LiftCAMImaging"], swiftSettings: fastMath),
        .executableTarget(name: "liftcam", dependencies: ["LiftCAMTool"], swiftSettings: fastMath),
        .executableTarget(name: "liftcam-bench", dependencies: ["LiftCAM"], swiftSettings: fastMath),
        // The library as a user's program takes it (README's "As a library" snippet, made to run).
        .executableTarget(name: "explain-image", dependencies: ["LiftCAM", "LiftCAMImaging"], path: "Examples/ExplainImage",
                          swiftSettings: fastMath),
        // Seeded mutations of valid files fed to every parser (see README, "Robustness").
        .target(name: "LiftCAMFuzzing", dependencies: ["LiftCAM", "LiftCAMImaging", "LiftCAMTool"], swiftSettings: fastMath),
        .executableTarget(name: "liftcam-fuzz", dependencies: ["LiftCAMFuzzing"], swiftSettings: fastMath),
        .testTarget(name: "LiftCAMTests", dependencies: ["LiftCAM", "LiftCAMImaging"], swiftSettings: fastMath),
        .testTarget(name: "LiftCAMImagingTests", dependencies: ["LiftCAMImaging"], swiftSettings: fastMath),
        .testTarget(name: "LiftCAMToolTests", dependencies: ["LiftCAMTool", "liftcam", "explain-image"], swiftSettings: fastMath),
        // The core built for other platforms (WebAssembly, microcontrollers) and run against the native tool.
        .testTarget(name: "LiftCAMPlatformTests", dependencies: ["LiftCAM", "LiftCAMTool"]),
        .testTarget(name: "LiftCAMFuzzingTests", dependencies: ["LiftCAMFuzzing", "LiftCAMTool", "liftcam"], swiftSettings: fastMath),
    ]
)
