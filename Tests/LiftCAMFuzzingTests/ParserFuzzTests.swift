import LiftCAMFuzzing
import XCTest

/// Placeholder replaced below.
final class ParserFuzzTests: XCTestCase {}
