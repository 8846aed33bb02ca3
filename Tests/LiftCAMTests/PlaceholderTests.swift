import XCTest
final class LiftCAMTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
