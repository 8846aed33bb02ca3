import LiftCAM
import XCTest

/// Parsing JSON text (RFC 8259): values, escapes, numbers, nesting, and every error's exact line,
/// column and wording.
final class JSONTests: PlatformTestCase {
    func testParsesEveryKindOfValueKeepingKeyOrder() throws {
        let text = """
            {"z": [1, 2.5, true, false, null, "x", [], {}], "a": {"nested": {"deep": -3}}, "m": ""}
            """
        let expected = JSONValue.object([
            ("z", .array([.number(1), .number(2.5), .bool(true), .bool(false), .null, .string("x"), .array([]), .object([])])),
            ("a", .object([("nested", .object([("deep", .number(-3))]))])),
            ("m", .string("")),
        ])
        let value = try JSONValue.parse(text)
        XCTAssertEqual(value, expected)
        XCTAssertEqual(value.objectValue?.map(\.0), ["z", "a", "m"])
        XCTAssertEqual(try JSONValue.parse(" \t\r\n 7 \r\n"), .number(7))
    }

    func testNumbersReadAsTheNearestDouble() throws {
        let cases: [(String, Double)] = [
            ("0", 0), ("1e-7", 1e-7), ("1.5e300", 1.5e300), ("0.1", 0.1), ("-2.5E+2", -250), ("1E2", 100),
            ("123456789012345678901234567890", 1.2345678901234568e29), ("5e-324", .leastNonzeroMagnitude),
            ("1.7976931348623157e308", .greatestFiniteMagnitude), ("1e-400", 0), ("9007199254740993", 9007199254740992),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try JSONValue.parse(text).doubleValue, expected, text)
        }
        let negativeZero = try XCTUnwrap(JSONValue.parse("-0").doubleValue)
        XCTAssertEqual(negativeZero, 0)
        XCTAssertEqual(negativeZero.sign, .minus)
        XCTAssertEqual(try JSONValue.parse("-0.0e5").doubleValue?.sign, .minus)
    }

    func testStringEscapesAndUnicode() throws {
        let text = #""q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u20AC \uD83D\uDE00\ud83d\ude00 \u0000 raw: héllo 😀""#
        XCTAssertEqual(try JSONValue.parse(text).stringValue,
                       "q\" b\\ s/ \u{8}\u{C}\n\r\t Aé€ 😀😀 \u{0} raw: héllo 😀")
        // A key with escapes is compared after decoding.
        XCTAssertEqual(try JSONValue.parse(#"{"\u0061b": 1}"#)["ab"], .number(1))
    }

    func testNestingUpToTheLimitIsAcceptedAndDeeperIsRefused() throws {
        let limit = JSONValue.maximumNestingDepth
        XCTAssertEqual(limit, 512)
        var value = try JSONValue.parse(String(repeating: "[", count: limit) + String(repeating: "]", count: limit))
        var depth = 0
        while let items = value.arrayValue, let first = items.first {
            value = first
            depth += 1
        }
        XCTAssertEqual(depth, limit - 1)  // the innermost array is empty
        XCTAssertEqual(value, .array([]))
        assertFails(String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1),
                    "line 1, column 513: nesting deeper than 512 levels")
        assertFails(String(repeating: #"{"a":"#, count: limit + 1), "line 1, column 2561: nesting deeper than 512 levels")
    }

    func testErrorsSayLineColumnAndProblem() {
        let cases: [(String, String)] = [
            ("", "line 1, column 1: unexpected end of input, expected a value"),
            ("   ", "line 1, column 4: unexpected end of input, expected a value"),
            ("[1, 2", "line 1, column 6: expected ',' or ']' in an array, found end of input"),
            ("{\n  \"a\": tru\n}", "line 2, column 8: invalid literal, expected 'true'"),
            ("nul", "line 1, column 1: invalid literal, expected 'null'"),
            ("[1,]", "line 1, column 4: trailing comma before ']'"),
            ("{\"a\":1,}", "line 1, column 8: trailing comma before '}'"),
            ("{\"a\" 1}", "line 1, column 6: expected ':' after key \"a\", found '1'"),
            ("{1:2}", "line 1, column 2: expected a string key in an object, found '1'"),
            ("{\"a\":1,\"a\":2}", "line 1, column 8: duplicate key \"a\""),
            (#"{"a\nb":1,"a\nb":2}"#, "line 1, column 11: duplicate key \"a?b\""),  // still one line
            ("{\"a\":1 \"b\":2}", "line 1, column 8: expected ',' or '}' in an object, found '\"'"),
            ("[\"a\" \"b\"]", "line 1, column 6: expected ',' or ']' in an array, found '\"'"),
            ("  \"abc", "line 1, column 3: unterminated string"),
            ("\"a\\", "line 1, column 1: unterminated string"),
            ("\"a\nb\"", "line 1, column 3: control character U+000A in a string must be escaped"),
            ("\"a\\x\"", "line 1, column 3: invalid escape: backslash followed by 'x' in a string"),
            ("\"\\uD800\"", "line 1, column 2: unpaired surrogate \\uD800 in a string"),
            ("\"\\uDC00\"", "line 1, column 2: unpaired surrogate \\uDC00 in a string"),
            ("\"\\uD83D\\u0041\"", "line 1, column 2: unpaired surrogate \\uD83D in a string"),
            ("\"\\u12G4\"", "line 1, column 6: expected four hexadecimal digits after \\u"),
            ("01", "line 1, column 2: leading zero in a number"),
            ("-", "line 1, column 2: expected a digit after '-'"),
            ("-a", "line 1, column 2: expected a digit after '-'"),
            ("1.", "line 1, column 3: expected a digit after the decimal point"),
            ("1.e5", "line 1, column 3: expected a digit after the decimal point"),
            ("1e", "line 1, column 3: expected a digit in the exponent"),
            ("1e+", "line 1, column 4: expected a digit in the exponent"),
            ("[0, -1e400]", "line 1, column 5: number -1e400 is out of range for a 64-bit float"),
            ("+1", "line 1, column 1: unexpected '+', expected a value"),
            (".5", "line 1, column 1: unexpected '.', expected a value"),
            ("NaN", "line 1, column 1: unexpected 'N', expected a value"),
            ("'single'", "line 1, column 1: unexpected ''', expected a value"),
            ("[1] 2", "line 1, column 5: unexpected '2' after the JSON value"),
            ("{} {}", "line 1, column 4: unexpected '{' after the JSON value"),
            ("[\"é😀\", x]", "line 1, column 8: unexpected 'x', expected a value"),  // columns count characters
            ("\n\n  @", "line 3, column 3: unexpected '@', expected a value"),
            ("[€]", "line 1, column 2: unexpected '€', expected a value"),
            ("\u{1}", "line 1, column 1: unexpected control character U+0001, expected a value"),
        ]
        for (text, message) in cases { assertFails(text, message) }
    }

    /// Every proper prefix of a document throws a one-line "JSON: line 1, column C: ..." error,
    /// and random damage parses or throws one; nothing traps.
    func testEveryTruncationFailsCleanly() throws {
        let text = #"{"a": [1, -2.5e-3, true, null, "x\u00e9\ud83d\ude00y"], "b": {"c": false}}"#
        let bytes = Array(text.utf8)
        for end in 0..<bytes.count {
            let prefix = String(decoding: bytes[..<end], as: UTF8.self)
            XCTAssertThrowsError(try JSONValue.parse(prefix), prefix) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("JSON: line 1, column ") && !message.contains("\n"), message)
            }
        }
        XCTAssertEqual(try JSONValue.parse(text)["a"]?[4], .string("xé😀y"))

        // Seeded random substitutions of JSON's significant characters: parse or a one-line error.
        let alphabet = Array(#"{}[]:,"\u0e-+.tfn "#.utf8) + [0x0A]
        var state: UInt64 = 7
        for _ in 0..<5000 {
            var mutated = bytes
            for _ in 0..<2 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                mutated[Int(state >> 33) % mutated.count] = alphabet[Int(state >> 20) % alphabet.count]
            }
            do {
                _ = try JSONValue.parse(String(decoding: mutated, as: UTF8.self))
            } catch {
                XCTAssertTrue("\(error)".hasPrefix("JSON: line ") && !"\(error)".contains("\n"), "\(error)")
            }
        }
    }

    func testAccessors() throws {
        let value = try JSONValue.parse(#"{"n": 2.0, "f": 2.5, "big": 1e300, "s": "x", "b": false, "a": [1, 0.5, -2], "mixed": [1, "x"], "z": null}"#)
        XCTAssertEqual(value["n"]?.intValue, 2)
        XCTAssertNil(value["f"]?.intValue)
        XCTAssertNil(value["big"]?.intValue)
        XCTAssertEqual(value["f"]?.doubleValue, 2.5)
        XCTAssertEqual(value["s"]?.stringValue, "x")
        XCTAssertEqual(value["b"]?.boolValue, false)
        XCTAssertEqual(value["a"]?.floatArrayValue, [1, 0.5, -2])
        XCTAssertNil(value["mixed"]?.floatArrayValue)
        XCTAssertEqual(value["a"]?[2], .number(-2))
        XCTAssertNil(value["a"]?[3])
        XCTAssertNil(value["a"]?[-1])
        XCTAssertEqual(value["z"]?.isNull, true)
        XCTAssertNil(value["missing"])
        XCTAssertNil(value["s"]?.doubleValue)
        XCTAssertNil(value["n"]?.stringValue)
        XCTAssertNil(value["a"]?["key"])
        XCTAssertNil(value[0])
        XCTAssertEqual(value.objectValue?.count, 8)
        XCTAssertEqual(value["a"]?.arrayValue?.count, 3)
    }

    private func assertFails(_ text: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try JSONValue.parse(text), "\(text.debugDescription)", file: file, line: line) { error in
            XCTAssertEqual("\(error)", "JSON: " + message, text.debugDescription, file: file, line: line)
        }
    }
}
