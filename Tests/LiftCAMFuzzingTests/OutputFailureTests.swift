import Foundation
import LiftCAM
import LiftCAMImaging
import XCTest

/// Writes that fail midway (a file-size limit, a full disk, a read-only folder) and runs killed
/// midway: the tool exits 1 with one line, and no output file is ever half-written.
final class OutputFailureTests: PlatformTestCase {
    private var workspace: CLIWorkspace!

    override func setUpWithError() throws { workspace = try CLIWorkspace() }
    override func tearDown() { workspace.remove() }

    private var explain: [String] {
        [liftcamExecutable, "explain", "--arch", workspace.arch, "--weights", workspace.weights, "--input", workspace.png]
    }

    /// Every file in `directory` is complete: PNGs decode, .npy files read, HTML ends with </html>.
    private func assertComplete(_ directory: String, _ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for name in try listDirectory(directory) {
            let path = directory + "/" + name
            XCTAssertFalse(name.contains(".tmp-"), "temporary left: \(name) (\(context))", file: file, line: line)
            if name.hasSuffix(".png") { XCTAssertNoThrow(try PNG.decode(readFileBytes(path)), "\(name) (\(context))", file: file, line: line) }
            if name.hasSuffix(".npy") { XCTAssertNoThrow(try readNPY(path: path), "\(name) (\(context))", file: file, line: line) }
            if name.hasSuffix(".html") {
                XCTAssertTrue(String(decoding: try readFileBytes(path), as: UTF8.self).hasSuffix("</html>\n"), "\(name) (\(context))", file: file, line: line)
            }
            if name.hasSuffix(".json") {
                XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(readFileBytes(path))), "\(name) (\(context))", file: file, line: line)
            }
        }
    }

    private func lastLine(_ text: String) -> String { text.split(separator: "\n").last.map(String.init) ?? "" }

    /// ulimit -f: write(2) fails with EFBIG partway through the file (SIGXFSZ is ignored by the tool).
    func testFileSizeLimitFailsCleanly() throws {
        let json = workspace.root + "/out.json", folder = workspace.root + "/maps"
        let limited = ["-c", "ulimit -f 2; exec \"$@\"", "sh"]   // 2 blocks: 1 KiB in dash, 2 KiB in bash
        let run = try runProcess("/bin/sh", limited + explain + ["--method", "lift,gradcam", "--json", json])
        XCTAssertEqual(run.status, 1, run.error)
        XCTAssertEqual(run.error, "liftcam explain: \(json): cannot write: File too large\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: json))
        let maps = try runProcess("/bin/sh", limited + explain + ["--method", "all", "--out", folder])
        XCTAssertEqual(maps.status, 1, maps.error)
        // Progress lines of the long methods come first; the error is the one last line.
        let last = lastLine(maps.error)
        XCTAssertTrue(last.hasPrefix("liftcam explain: \(folder)/") && last.hasSuffix(": cannot write: File too large"), maps.error)
        try assertComplete(folder, "ulimit")
        XCTAssertEqual(workspace.temporaries(), [])
    }

    /// A 12 KiB tmpfs (a real ENOSPC) and a read-only one, mounted in a private user and mount
    /// namespace; skipped where unprivileged namespaces are not allowed.
    func testFullDiskAndReadOnlyFolder() throws {
        let probe = try runProcess("/usr/bin/unshare", ["--user", "--map-root-user", "--mount", "true"])
        try XCTSkipUnless(probe.status == 0, "unshare is not available: \(probe.error)")
        for (options, problem) in [("size=12k", "No space left on device"), ("ro", "Read-only file system")] {
            let mount = workspace.root + "/mnt", copy = workspace.root + "/copy-\(options)"
            try makeDirectory(mount)
            try makeDirectory(copy)
            // Inside the namespace: mount, run the tool, copy what it left out before the mount vanishes.
            let script = "mount -t tmpfs -o \(options) tmpfs \"$1\" && shift && copy=\"$1\" && shift && \"$@\"; status=$?; cp -a \"${MNT}/.\" \"$copy\"; exit $status"
            let run = try runProcess("/usr/bin/unshare", ["--user", "--map-root-user", "--mount", "/bin/sh", "-c", script.replacingOccurrences(of: "${MNT}", with: mount),
                                                          "sh", mount, copy] + explain + ["--method", "all", "--out", mount + "/maps"])
            XCTAssertEqual(run.status, 1, run.error)
            XCTAssertTrue(lastLine(run.error).hasPrefix("liftcam explain: \(mount)/maps") && lastLine(run.error).contains(problem), run.error)
            XCTAssertEqual(run.error.split(separator: "\n").filter { $0.hasPrefix("liftcam") }.count, 1, run.error)
            if isDirectory(copy + "/maps") { try assertComplete(copy + "/maps", options) }
            XCTAssertEqual(workspace.temporaries(), [], options)
        }
    }

    /// SIGKILL at 12 moments of a run that writes 41 files: whatever exists is complete. (A kill
    /// cannot clean up, so a "<name>.tmp-<pid>-<n>" may remain; the outputs never are partial.)
    func testKilledRunsLeaveOnlyCompleteOutputs() throws {
        for trial in 0..<12 {
            let folder = workspace.root + "/killed\(trial)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: explain[0])
            process.arguments = Array(explain.dropFirst()) + ["--method", "all", "--out", folder]
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(useconds_t(15_000 * (trial + 1)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            guard isDirectory(folder) else { continue }
            for name in try listDirectory(folder) where name.contains(".tmp-") {
                XCTAssertNotNil(name.range(of: #"\.tmp-[0-9]+-[0-9]+$"#, options: .regularExpression), name)
                try FileManager.default.removeItem(atPath: folder + "/" + name)
            }
            try assertComplete(folder, "killed after \(15 * (trial + 1)) ms")
        }
    }
}
