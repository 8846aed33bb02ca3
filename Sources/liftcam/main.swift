import LiftCAMTool
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A file-size limit (ulimit -f) would otherwise kill the process with SIGXFSZ in the middle of a
// write, leaving its temporary file behind; ignored, the write fails with EFBIG and the tool
// removes the temporary and reports "cannot write: File too large" like any other full disk.
signal(SIGXFSZ, SIG_IGN)

#if canImport(Glibc)
// Every layer returns a fresh tensor, and glibc serves large blocks with mmap and gives them back on
// free, so each forward pass page-faults its activations in anew (a fifth of Score-CAM's time went
// to the kernel). Served from the heap and kept there, freed blocks are reused by the next layer.
// mallopt is not in Swift's Glibc module (malloc.h), so it is looked up by name; the option numbers
// are malloc.h's M_MMAP_MAX (-4) and M_TRIM_THRESHOLD (-1).
if let symbol = dlsym(nil, "mallopt") {
    let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    _ = mallopt(-4, 0)
    _ = mallopt(-1, Int32.max)
}
#endif
exit(Tool.run(Array(CommandLine.arguments.dropFirst())))
