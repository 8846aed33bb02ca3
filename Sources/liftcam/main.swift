import LiftCAM
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

keepFreedMemoryInHeap()
exit(Tool.run(Array(CommandLine.arguments.dropFirst())))
