import LiftCAMImaging
import XCTest

/// Bilinear resize against torch.nn.functional.interpolate(mode="bilinear", align_corners=False).
final class ResizeTests: XCTestCase {
    func testMatchesPyTorch() throws {
        let input = try Fixture.floats("resize/input_3x5x7.f32")   // [3, 5, 7]
        for (file, h, w) in [("resize/up_3x9x13.f32", 9, 13), ("resize/down_3x4x3.f32", 4, 3)] {
            let expected = try Fixture.floats(file)
            let result = try resizeBilinear(input, channels: 3, height: 5, width: 7, toHeight: h, toWidth: w)
            XCTAssertEqual(result.count, expected.count)
            let worst = zip(result, expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(worst, 1e-6, "\(file): largest difference \(worst)")
        }
        XCTAssertEqual(try resizeBilinear(input, channels: 3, height: 5, width: 7, toHeight: 5, toWidth: 7), input)
    }

    func testImageResizeByHand() throws {
        // Source x for output x: (x + 0.5) · 2/4 − 0.5 = −0.25 → 0, 0.25, 0.75, 1.25 → clamped neighbour.
        let row = try Image(width: 2, height: 1, channels: 1, pixels: [0, 255])
        XCTAssertEqual(try row.resized(width: 4, height: 1).pixels, [0, 64, 191, 255])   // 63.75, 191.25 rounded
        let rgb = try Image(width: 2, height: 1, channels: 3, pixels: [0, 100, 200, 100, 200, 0])
        XCTAssertEqual(try rgb.resized(width: 4, height: 1).pixels,
                       [0, 100, 200, 25, 125, 150, 75, 175, 50, 100, 200, 0])
        XCTAssertEqual(try rgb.resized(width: 2, height: 1), rgb)
        XCTAssertThrowsError(try rgb.resized(width: 0, height: 1))
        XCTAssertThrowsError(try resizeBilinear([1, 2], channels: 1, height: 1, width: 3, toHeight: 2, toWidth: 2))
    }
}
