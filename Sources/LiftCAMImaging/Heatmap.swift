/// A saliency map drawn through a colour map: pixel i gets `colormap.rgb(saliency[i])`.
///
/// `saliency` is [height, width], values expected in [0, 1] (clamped; NaN draws as 0). For jet
/// this equals pytorch-grad-cam's `cv2.applyColorMap(np.uint8(255 * mask), COLORMAP_JET)` in RGB.
public func heatmapImage(_ saliency: [Float], width: Int, height: Int, colormap: Colormap) throws -> Image {
    try Image.checkGeometry(width: width, height: height, channels: 3, context: "heatmap")
    guard saliency.count == width * height else {
        throw ImageError("heatmap: \(saliency.count) saliency values for a \(width)x\(height) map")
    }
    let table = colormap.table
    var pixels = [UInt8](repeating: 0, count: width * height * 3)   // [H, W, 3]
    for (i, value) in saliency.enumerated() {
        let entry = 3 * Int(colormap.level(value))
        pixels[3 * i] = table[entry]; pixels[3 * i + 1] = table[entry + 1]; pixels[3 * i + 2] = table[entry + 2]
    }
    return Image(trusted: width, height, 3, pixels)
}

/// The heatmap blended over the image, exactly as pytorch-grad-cam's
/// `show_cam_on_image(img, mask, use_rgb=True, colormap, image_weight)` with `img = rgb / 255`:
///
///   cam = (1 − w) · heatmap / 255 + w · img,   out = uint8(255 · cam / max(cam)),
///
/// in Float32 with the same operation order, so the bytes match (truncation, not rounding, as
/// `np.uint8` does). `image` is converted with `rgb()` first (gray replicated, alpha dropped);
/// `saliency` is [image.height, image.width]. If every value of cam is 0 (only possible with w = 1
/// on a black image) the output is black instead of the reference's division by zero.
public func overlay(_ saliency: [Float], on image: Image, colormap: Colormap, imageWeight: Float = 0.5) throws -> Image {
    guard imageWeight >= 0 && imageWeight <= 1 else {
        throw ImageError("overlay: image weight \(imageWeight) is outside [0, 1]")
    }
    guard saliency.count == image.width * image.height else {
        throw ImageError("overlay: \(saliency.count) saliency values for a \(image.width)x\(image.height) image")
    }
    let heatmap = try heatmapImage(saliency, width: image.width, height: image.height, colormap: colormap)
    let base = image.rgb()
    let heatWeight = 1 - imageWeight
    var cam = [Float](repeating: 0, count: base.pixels.count)   // [H, W, 3]
    var largest: Float = 0
    for i in 0..<cam.count {
        let blended = heatWeight * (Float(heatmap.pixels[i]) / 255) + imageWeight * (Float(base.pixels[i]) / 255)
        cam[i] = blended
        largest = max(largest, blended)
    }
    var pixels = [UInt8](repeating: 0, count: cam.count)
    if largest > 0 {
        for i in 0..<cam.count { pixels[i] = UInt8(255 * (cam[i] / largest)) }
    }
    return Image(trusted: image.width, image.height, 3, pixels)
}
