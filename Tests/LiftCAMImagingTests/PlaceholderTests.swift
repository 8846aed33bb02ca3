import XCTest
final class LiftCAMImagingTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
