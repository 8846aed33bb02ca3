/// Colour maps for saliency heatmaps, byte-exact with the references they are named after.
public enum Colormap: Sendable, CaseIterable {
    /// OpenCV's `COLORMAP_JET`, as `cv2.applyColorMap(np.uint8(255 * v), cv2.COLORMAP_JET)` (in RGB
    /// order), the colour map of pytorch-grad-cam's `show_cam_on_image`.
    case jet
    /// matplotlib's `viridis`, as `matplotlib.colormaps["viridis"](v, bytes=True)`.
    case viridis

    /// The colour of `value`, clamped to [0, 1] (NaN counts as 0). Each map picks its table entry
    /// the way its reference does: jet uses entry ⌊255 v⌋ (`np.uint8(255 * mask)`), viridis uses
    /// ⌊256 v⌋ with v = 1 mapped to 255 (matplotlib's `Colormap.__call__`), both in Float32.
    public func rgb(_ value: Float) -> (UInt8, UInt8, UInt8) {
        rgb(level: level(value))
    }

    /// The table entry (0...255) `rgb(_:)` uses for `value`.
    public func level(_ value: Float) -> UInt8 {
        let v = value.isNaN ? 0 : min(max(value, 0), 1)
        switch self {
        case .jet: return UInt8(255 * v)
        case .viridis: return UInt8(min(256 * v, 255))
        }
    }

    /// Entry `level` of the 256-entry table.
    public func rgb(level: UInt8) -> (UInt8, UInt8, UInt8) {
        let table = self.table, i = 3 * Int(level)
        return (table[i], table[i + 1], table[i + 2])
    }

    /// The whole map: [256, 3] RGB bytes.
    public var table: [UInt8] {
        switch self {
        case .jet: return Colormap.jetTable
        case .viridis: return Colormap.viridisTable
        }
    }

    /// OpenCV's jet, rebuilt the way OpenCV builds it so every byte agrees.
    ///
    /// OpenCV samples MATLAB's jet at x = i / 255, i = 0...255,
    ///   r = clamp(min(4x − 1.5, −4x + 4.5)),  g = clamp(min(4x − 0.5, −4x + 3.5)),
    ///   b = clamp(min(4x + 0.5, −4x + 2.5)),  clamp to [0, 1],
    /// keeps the samples as Float32, resamples them onto the same 256 points by linear
    /// interpolation in Float32 (`interp1` inside `applyColorMap`), and converts ×255 to bytes with
    /// round-half-to-even. Exactly, 255 × every ramp value is a half-integer (4i ± 127.5, ...), so
    /// the last bit left by that Float32 arithmetic decides between two neighbouring bytes; doing
    /// the same operations in the same order reproduces cv2's table for all 256 entries (checked
    /// against `cv2.applyColorMap` in the tests), where exact arithmetic would differ at i = 159.
    static let jetTable: [UInt8] = {
        func clamp(_ v: Double) -> Double { min(max(v, 0), 1) }
        var samples = [[Float]](repeating: [0, 0, 0], count: 256)   // [256, 3] RGB in [0, 1]
        for i in 0..<256 {
            let x = Double(i) / 255
            samples[i] = [Float(clamp(min(4 * x - 1.5, -4 * x + 4.5))),
                          Float(clamp(min(4 * x - 0.5, -4 * x + 3.5))),
                          Float(clamp(min(4 * x + 0.5, -4 * x + 2.5)))]
        }
        let step: Float = 1 / 255
        let grid = (0..<256).map { Float(0) + Float($0) * step }
        var table = [UInt8](repeating: 0, count: 256 * 3)
        for i in 0..<256 {
            // Point i falls in the interval [i − 1, i] (point 0 in [0, 1], at its left end).
            let low = max(i - 1, 0), high = max(i, 1)
            for c in 0..<3 {
                let y0 = samples[low][c], y1 = samples[high][c]
                let resampled = y0 + ((grid[i] - grid[low]) * (y1 - y0)) / (grid[high] - grid[low])
                table[3 * i + c] = UInt8((resampled * 255).rounded(.toNearestOrEven))
            }
        }
        return table
    }()
}
