import LiftCAM
import XCTest

/// Writing JSON text: number formatting (integral without ".0", shortest round-trip digits for
/// Double and Float, non-finite as null), string escapes, key order, the pretty layout, and
/// parse(serialize(x)) == x.
final class JSONSerializationTests: PlatformTestCase {
    func testDoublesPrintIntegralWithoutPointAndOthersShortest() {
        let numbers: [Double] = [1, -0.0, 0, 1e-7, 1.5e300, 0.1, 123456789, 1e15, 1e16, 2.5, -1234.5,
                                 .leastNonzeroMagnitude, .nan, .infinity, -.infinity]
        XCTAssertEqual(JSONValue.array(numbers.map(JSONValue.number)).serialized(),
                       "[1,-0,0,1e-07,1.5e+300,0.1,123456789,1000000000000000,1e+16,2.5,-1234.5,5e-324,null,null,null]")
    }

    func testFloatsPrintWithFloatsShortestDigits() {
        let floats: [Float] = [0.1, 1.0 / 3.0, 16777216, 3e10, -0.0, .leastNonzeroMagnitude, 0.5, .nan, -.infinity]
        XCTAssertEqual(JSONValue.floats(floats).serialized(),
                       "[0.1,0.33333334,16777216,3e+10,-0,1e-45,0.5,null,null]")
        // The same Float widened to Double needs 17 digits: the reason `.float` exists.
        XCTAssertEqual(JSONValue.number(Double(Float(0.1))).serialized(), "0.10000000149011612")
    }

    func testShortestDigitsReadBackToTheSameBits() throws {
        // Deterministic pseudo-random bit patterns (a 64-bit LCG) over the whole range.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
        var doubles: [Double] = []
        var floats: [Float] = []
        while doubles.count < 2000 {
            let d = Double(bitPattern: next())
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: next() >> 17))
            if d.isFinite { doubles.append(d) }
            if f.isFinite { floats.append(f) }
        }
        let parsedDoubles = try JSONValue.parse(JSONValue.array(doubles.map(JSONValue.number)).serialized())
        XCTAssertEqual(parsedDoubles.arrayValue?.compactMap(\.doubleValue).map(\.bitPattern), doubles.map(\.bitPattern))
        let parsedFloats = try JSONValue.parse(JSONValue.floats(floats).serialized())
        XCTAssertEqual(parsedFloats.floatArrayValue?.map(\.bitPattern), floats.map(\.bitPattern))
    }

    func testStringsEscapeQuotesBackslashesAndControlCharacters() throws {
        let text = "q\"b\\s/\n\r\t\u{8}\u{C}\u{0}\u{1F} é😀\u{7F}"
        let serialized = JSONValue.string(text).serialized()
        XCTAssertEqual(serialized, #""q\"b\\s/\n\r\t\b\f\u0000\u001F é😀"# + "\u{7F}\"")
        XCTAssertEqual(try JSONValue.parse(serialized).stringValue, text)
    }

    func testCompactOutputKeepsKeyOrder() {
        let value: JSONValue = ["z": 1, "a": [true, nil, "x"], "m": ["k": 2.5], "e": [], "o": .object([])]
        XCTAssertEqual(value.serialized(), #"{"z":1,"a":[true,null,"x"],"m":{"k":2.5},"e":[],"o":{}}"#)
    }

    func testPrettyLayout() {
        let value: JSONValue = [
            "name": "vgg16",
            "input": [1, 3, 224, 224],
            "layers": [["type": "conv", "empty": []], [:], [1, [2]]],
            "ok": true,
        ]
        let expected = """
            {
              "name": "vgg16",
              "input": [1, 3, 224, 224],
              "layers": [
                {
                  "type": "conv",
                  "empty": []
                },
                {},
                [
                  1,
                  [2]
                ]
              ],
              "ok": true
            }
            """
        XCTAssertEqual(value.serialized(pretty: true), expected)
    }

    func testParseOfSerializedIsTheSameValue() throws {
        let value: JSONValue = [
            "numbers": [0, -0.0, 1e-7, 1.5e300, -2.5, 4294967296],
            "text": "tab\t, quote \", emoji 😀, nul \u{0}",
            "nested": [[[["deep": [nil, false]]]]],
            "": "empty key",
        ]
        for pretty in [false, true] {
            XCTAssertEqual(try JSONValue.parse(value.serialized(pretty: pretty)), value, "pretty: \(pretty)")
        }
    }

    func testEqualityIsStructuralAndOrderSensitive() {
        XCTAssertEqual(JSONValue.object([("a", 1), ("b", 2)]), ["a": 1, "b": 2])
        XCTAssertNotEqual(JSONValue.object([("a", 1), ("b", 2)]), ["b": 2, "a": 1])
        XCTAssertNotEqual(JSONValue.object([("a", 1)]), ["a": 1, "b": 2])
        XCTAssertNotEqual(JSONValue.float(1), JSONValue.number(1))
        XCTAssertNotEqual(JSONValue.array([1]), JSONValue.array([1, 1]))
        XCTAssertNotEqual(JSONValue.string("1"), JSONValue.number(1))
        XCTAssertEqual(JSONValue.floats([1, 2]), .array([.float(1), .float(2)]))
    }
}
