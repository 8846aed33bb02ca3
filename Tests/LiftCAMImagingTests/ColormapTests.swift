import LiftCAMImaging
import XCTest

/// Colour maps against cv2.applyColorMap and matplotlib, heatmap and overlay against
/// pytorch-grad-cam's show_cam_on_image. All comparisons are exact (tolerance 0 on bytes).
final class ColormapTests: XCTestCase {
    func testFullTablesMatchReferences() throws {
        XCTAssertEqual(Colormap.jet.table, try Fixture.bytes("colormap/jet_table.bin"), "jet vs cv2.applyColorMap")
        XCTAssertEqual(Colormap.viridis.table, try Fixture.bytes("colormap/viridis_table.bin"), "viridis vs matplotlib")
        // Anchors of OpenCV's jet read off its definition: dark blue, blue, cyan-ish, yellow, dark red.
        XCTAssertTrue(Colormap.jet.rgb(level: 0) == (0, 0, 128))
        XCTAssertTrue(Colormap.jet.rgb(level: 32) == (0, 0, 255))
        XCTAssertTrue(Colormap.jet.rgb(level: 223) == (255, 0, 0))
        XCTAssertTrue(Colormap.jet.rgb(level: 255) == (128, 0, 0))
    }

    func testTwentyValuesMatchReferences() throws {
        let rows = try Fixture.table("colormap/values20.txt")
        XCTAssertEqual(rows.count, 20)
        for row in rows {
            let value = Float(bitPattern: UInt32(row[0], radix: 16)!)
            let numbers = row[1...].map { UInt8($0)! }
            let jet = Colormap.jet.rgb(value), viridis = Colormap.viridis.rgb(value)
            XCTAssertEqual([jet.0, jet.1, jet.2], Array(numbers[0..<3]), "jet(\(value))")
            XCTAssertEqual([viridis.0, viridis.1, viridis.2], Array(numbers[3..<6]), "viridis(\(value))")
        }
        XCTAssertTrue(Colormap.jet.rgb(.nan) == Colormap.jet.rgb(0))
        XCTAssertTrue(Colormap.viridis.rgb(.infinity) == Colormap.viridis.rgb(1))
    }

    func testHeatmapAndOverlayMatchPytorchGradCam() throws {
        let saliency = try Fixture.floats("overlay/saliency.f32")   // [15, 20]
        let base = try PNM.decode(try Fixture.bytes("overlay/base.ppm"))
        XCTAssertEqual([base.width, base.height, saliency.count], [20, 15, 300])
        let cases: [(String, Colormap, Float?)] = [("heatmap_jet", .jet, nil), ("heatmap_viridis", .viridis, nil),
                                                   ("overlay_jet_w0.5", .jet, 0.5), ("overlay_jet_w0.3", .jet, 0.3),
                                                   ("overlay_viridis_w0.5", .viridis, 0.5)]
        for (name, colormap, weight) in cases {
            let expected = try PNM.decode(try Fixture.bytes("overlay/\(name).ppm"))
            let result = try weight.map { try overlay(saliency, on: base, colormap: colormap, imageWeight: $0) }
                ?? heatmapImage(saliency, width: 20, height: 15, colormap: colormap)
            XCTAssertEqual(result, expected, name)
        }
        // A gray base is replicated first, so it overlays like its RGB twin.
        let gray = base.gray()
        XCTAssertEqual(try overlay(saliency, on: gray, colormap: .jet), try overlay(saliency, on: gray.rgb(), colormap: .jet))
    }

    func testRefusesMismatchedInput() throws {
        let base = try Image(width: 4, height: 3, channels: 3, repeating: 0)
        XCTAssertThrowsError(try heatmapImage([0.5], width: 2, height: 2, colormap: .jet))
        XCTAssertThrowsError(try heatmapImage([], width: 0, height: 0, colormap: .jet))
        XCTAssertThrowsError(try overlay([Float](repeating: 0, count: 11), on: base, colormap: .jet))
        XCTAssertThrowsError(try overlay([Float](repeating: 0, count: 12), on: base, colormap: .jet, imageWeight: 1.5))
        XCTAssertThrowsError(try overlay([Float](repeating: 0, count: 12), on: base, colormap: .jet, imageWeight: .nan))
        // Weight 1 on a black image: cam is all zero; black, not a division by zero.
        XCTAssertEqual(try overlay([Float](repeating: 0.5, count: 12), on: base, colormap: .jet, imageWeight: 1).pixels,
                       [UInt8](repeating: 0, count: 36))
    }
}
