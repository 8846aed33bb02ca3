import XCTest
final class LiftCAMToolTestsPlaceholder: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
