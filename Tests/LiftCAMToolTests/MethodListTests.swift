import LiftCAM
import LiftCAMCommandLine
import XCTest

/// `--method` lists, as every command parses them (LiftCAMCommandLine).
final class MethodListTests: XCTestCase {
    func testMethodListParsing() throws {
        XCTAssertEqual(try CAMMethod.parseList("lift,gradcam, shap-exact"), [.lift, .gradcam, .shapExact])
        XCTAssertEqual(try CAMMethod.parseList("all"), CAMMethod.allCases)
        XCTAssertEqual(try CAMMethod.parseList("lift,lift"), [.lift])
        XCTAssertThrowsError(try CAMMethod.parseList("lift,gradcam3")) { error in
            XCTAssertTrue("\(error)".contains("unknown method 'gradcam3'"))
        }
    }
}
