import LiftCAM
import XCTest

/// The test cases' base: installs the platform's threads, clock and locks before any test runs,
/// so the kernels are tested on several threads as the tool runs them.
class PlatformTestCase: XCTestCase {
    override class func setUp() {
        super.setUp()
        usePlatformServices()
    }
}
