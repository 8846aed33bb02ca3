#!/usr/bin/env python3
"""Reference files for the LiftCAMImaging tests (PNG, PNM, zlib, colormaps, overlay, resize).

Run once from anywhere:  python3 Fixtures/images/make_image_fixtures.py
Needs numpy, Pillow, opencv-python-headless (cv2), matplotlib, torch and grad-cam (pytorch_grad_cam).
Every output is a deterministic function of the seeds below.

Conventions the Swift decoder follows (and which the expected .bin files encode):
  * output channels are 1 (gray), 3 (RGB) or 4 (RGBA); gray+alpha becomes RGBA (gray replicated);
  * gray of bit depth 1/2/4 is scaled to 8 bit by v * 255 / (2^depth - 1) (exact);
  * 16-bit samples keep their high byte (what libpng's strip-16 and Pillow's 16-bit RGB reading do);
  * palette images become RGB, or RGBA when a tRNS chunk is present (missing entries are opaque);
  * tRNS colour keys of gray/RGB images are ignored.
PNGs that Pillow can write are written by Pillow; the others (2/4-bit gray, 16-bit RGB, Adam7
interlacing, every filter type, several IDAT chunks, each zlib level) by the small writer below,
and every PNG is read back with Pillow and compared with the expected pixels before it is kept.
"""
import os, struct, zlib
import numpy as np
from PIL import Image
import cv2
import matplotlib
import torch
import torch.nn.functional as F
from pytorch_grad_cam.utils.image import show_cam_on_image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20210611)


def out(path, data):
    full = os.path.join(HERE, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- a small PNG writer
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_row(samples, depth):
    """One scanline's samples (ints) as bytes: MSB-first bit packing below 8 bits, big-endian at 16."""
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", int(s)) for s in samples)
    per_byte = 8 // depth
    row = bytearray((len(samples) + per_byte - 1) // per_byte)
    for i, s in enumerate(samples):
        row[i // per_byte] |= int(s) << (8 - depth * (i % per_byte + 1))
    return bytes(row)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_row(kind, row, prev, bpp):
    outb = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        outb[i] = (x - pred) & 0xFF
    return bytes([kind]) + bytes(outb)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def raw_scanlines(samples, depth, filters):
    """samples: [H, W, C] ints -> filtered scanlines; filter type of row y is filters[y % len]."""
    h, w, c = samples.shape
    bpp = max(1, c * depth // 8)
    data, prev = b"", bytes(len(pack_row([0] * (w * c), depth)))
    for y in range(h):
        row = pack_row(samples[y].reshape(-1).tolist(), depth)
        data += filter_row(filters[y % len(filters)], row, prev, bpp)
        prev = row
    return data


def write_png(samples, depth, color_type, palette=None, trns=None, interlace=False,
              filters=(0, 1, 2, 3, 4), level=9, idat_size=None, extra_chunks=()):
    h, w, _ = samples.shape
    if interlace:
        data = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                data += raw_scanlines(sub, depth, filters)
    else:
        data = raw_scanlines(samples, depth, filters)
    z = zlib.compress(data, level)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    for kind, payload in extra_chunks:
        png += chunk(kind, payload)
    if palette is not None:
        png += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        png += chunk(b"tRNS", bytes(trns))
    step = idat_size or len(z)
    for i in range(0, len(z), step):
        png += chunk(b"IDAT", z[i:i + step])
        if idat_size and i == 0:
            png += chunk(b"IDAT", b"")   # an empty IDAT is legal and must be skipped
    return png + chunk(b"IEND", b"")


# ---------------------------------------------------------------- PNG references
manifest = []


def keep_png(name, png_bytes, expected, pillow_view, expected_name=None):
    """Write name.png and expected/<expected_name or name>.bin after checking Pillow decodes the
    file to `expected`. Manifest line: name width height channels expected_name."""
    out(f"png/{name}.png", png_bytes)
    got = pillow_view(Image.open(os.path.join(HERE, f"png/{name}.png")))
    assert np.array_equal(np.asarray(got), expected), f"Pillow disagrees on {name}"
    h, w = expected.shape[:2]
    c = 1 if expected.ndim == 2 else expected.shape[2]
    expected_name = expected_name or name
    out(f"png/expected/{expected_name}.bin", expected.astype(np.uint8).tobytes())
    manifest.append(f"{name} {w} {h} {c} {expected_name}")


def via_pillow(mode, img, **kw):
    import io
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


W, H = 13, 9  # odd sizes so rows do not fill whole bytes and Adam7 passes are uneven
gray8 = rng.integers(0, 256, (H, W), dtype=np.uint8)
keep_png("gray8", via_pillow("L", Image.fromarray(gray8)), gray8, lambda im: im)

gray16 = rng.integers(0, 65536, (H, W)).astype(np.uint16)
keep_png("gray16", via_pillow("I;16", Image.fromarray(gray16)), (gray16 >> 8).astype(np.uint8),
         lambda im: (np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8))

bits = rng.integers(0, 2, (H, W)).astype(bool)
keep_png("gray1", via_pillow("1", Image.fromarray(bits)), bits.astype(np.uint8) * 255, lambda im: im.convert("L"))

gray2 = rng.integers(0, 4, (H, W, 1))
keep_png("gray2_filters", write_png(gray2, 2, 0), (gray2[..., 0] * 85).astype(np.uint8), lambda im: im.convert("L"))

gray4 = rng.integers(0, 16, (11, 10, 1))
keep_png("gray4_interlaced", write_png(gray4, 4, 0, interlace=True), (gray4[..., 0] * 17).astype(np.uint8),
         lambda im: im.convert("L"))

rgb8 = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
keep_png("rgb8", via_pillow("RGB", Image.fromarray(rgb8)), rgb8, lambda im: im)

rgba8 = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
keep_png("rgba8", via_pillow("RGBA", Image.fromarray(rgba8)), rgba8, lambda im: im)

la8 = rng.integers(0, 256, (H, W, 2), dtype=np.uint8)
la_expected = np.stack([la8[..., 0]] * 3 + [la8[..., 1]], axis=-1)
keep_png("gray_alpha8", via_pillow("LA", Image.fromarray(la8)), la_expected, lambda im: im.convert("RGBA"))

palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
indices = rng.integers(0, 16, (H, W), dtype=np.uint8)
pal_img = Image.fromarray(indices)
pal_img.putpalette(palette.reshape(-1).tolist())
keep_png("palette8", via_pillow("P", pal_img), palette[indices], lambda im: im.convert("RGB"))

alphas = rng.integers(0, 256, 10, dtype=np.uint8)   # shorter than the palette: the rest are opaque
rgba_pal = np.concatenate([palette, np.concatenate([alphas, np.full(6, 255, np.uint8)])[:, None]], axis=1)
keep_png("palette4_trns_interlaced", write_png(indices[..., None], 4, 3, palette=palette, trns=alphas, interlace=True),
         rgba_pal[indices], lambda im: im.convert("RGBA"))

# Few distinct values make Paeth's ties frequent (e.g. |a - c| = |a + b - 2c| with b != c): the tie order matters.
paeth_ties = rng.integers(0, 3, (8, 16, 3)).astype(np.uint8)
keep_png("rgb8_paeth_ties", write_png(paeth_ties, 8, 2, filters=(4,)), paeth_ties, lambda im: im)

rgb16 = rng.integers(0, 65536, (7, 6, 3)).astype(np.uint16)
keep_png("rgb16_filters", write_png(rgb16, 16, 2), (rgb16 >> 8).astype(np.uint8), lambda im: im.convert("RGB"))

rgba16 = rng.integers(0, 65536, (5, 4, 4)).astype(np.uint16)
keep_png("rgba16_interlaced", write_png(rgba16, 16, 6, interlace=True, filters=(4, 3, 2, 1, 0)),
         (rgba16 >> 8).astype(np.uint8), lambda im: im.convert("RGBA"))

rgb_i = rng.integers(0, 256, (13, 11, 3)).astype(np.uint8)
keep_png("rgb8_interlaced", write_png(rgb_i, 8, 2, interlace=True), rgb_i, lambda im: im)

tiny = rng.integers(0, 256, (2, 3, 3)).astype(np.uint8)   # most Adam7 passes are empty
keep_png("rgb8_interlaced_3x2", write_png(tiny, 8, 2, interlace=True), tiny, lambda im: im)

multi = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
keep_png("rgb8_multi_idat", write_png(multi, 8, 2, idat_size=40,
                                      extra_chunks=[(b"tEXt", b"Comment\x00fixture"), (b"teSt", b"unknown ancillary")]),
         multi, lambda im: im)

# One image compressed at every zlib level: level 0 gives stored blocks, small inputs fixed Huffman,
# larger ones dynamic Huffman. Block types are checked so the set really covers all three.
yy, xx = np.mgrid[0:40, 0:40]
smooth = np.stack([(xx * 6) % 256, (yy * 6) % 256, ((xx + yy) * 3) % 256], -1)
levels = (smooth + rng.integers(0, 6, smooth.shape)).clip(0, 255).astype(np.uint8)
block_types = set()
for level in range(10):
    png = write_png(levels, 8, 2, filters=(1, 2, 4), level=level)
    idat = png[png.index(b"IDAT") + 4:]
    block_types.add((idat[2] >> 1) & 3)
    keep_png(f"rgb8_zlib_level{level}", png, levels, lambda im: im, expected_name="rgb8_zlib_levels")
    print(f"zlib level {level}: first block type {(idat[2] >> 1) & 3}")
small_samples = rng.integers(0, 4, (2, 2, 1))
small = write_png(small_samples, 8, 0, filters=(0,), level=9)
block_types.add((small[small.index(b"IDAT") + 6] >> 1) & 3)
keep_png("gray8_fixed_huffman", small, small_samples[..., 0].astype(np.uint8), lambda im: im)
assert block_types == {0, 1, 2}, block_types

corrupt = bytearray(open(os.path.join(HERE, "png/rgb8.png"), "rb").read())
corrupt[corrupt.index(b"IDAT") + 10] ^= 0x40
out("png/corrupt_crc.png", bytes(corrupt))
out("png/manifest.txt", ("\n".join(manifest) + "\n").encode())

# Pillow's own conversions, the reference for Image.rgb() and Image.gray().
out("png/expected/rgba8_pillow_RGB.bin", np.asarray(Image.fromarray(rgba8).convert("RGB")).tobytes())
out("png/expected/rgb8_pillow_L.bin", np.asarray(Image.fromarray(rgb8).convert("L")).tobytes())

# ---------------------------------------------------------------- zlib streams from Python's zlib
text = b"".join(b"LIFT-CAM %d: Shapley values by DeepLIFT. " % (i % 37) for i in range(120))
zinput = text + bytes(rng.integers(0, 256, 1500, dtype=np.uint8)) + b"\x00" * 700 + bytes(range(256)) * 4
out("zlib/input.bin", zinput)
for level in range(10):
    out(f"zlib/level{level}.zlib", zlib.compress(zinput, level))

# ---------------------------------------------------------------- PNM
def pnm(magic, w, h, maxval, samples, ascii_=False, comment=b"# made by make_image_fixtures.py\n"):
    head = magic + b"\n" + comment + b"%d %d\n# a second comment\n%d\n" % (w, h, maxval)
    flat = samples.reshape(-1).astype(np.int64)
    if ascii_:
        body = b"\n".join(b" ".join(b"%d" % v for v in flat[i:i + 11]) for i in range(0, len(flat), 11)) + b"\n"
    elif maxval > 255:
        body = flat.astype(">u2").tobytes()
    else:
        body = flat.astype(np.uint8).tobytes()
    return head + body


def scaled(samples, maxval):   # the Swift rule: round(v * 255 / maxval), halves up
    return ((samples.astype(np.int64) * 255 + maxval // 2) // maxval).astype(np.uint8)


pnm_manifest = []
def keep_pnm(name, data, expected):
    out(f"pnm/{name}", data)
    out(f"pnm/expected/{name}.bin", expected.tobytes())
    h, w = expected.shape[:2]
    pnm_manifest.append(f"{name} {w} {h} {1 if expected.ndim == 2 else 3}")

keep_pnm("gray8.pgm", pnm(b"P5", W, H, 255, gray8), gray8)
keep_pnm("rgb8.ppm", pnm(b"P6", W, H, 255, rgb8), rgb8)
keep_pnm("gray16.pgm", pnm(b"P5", W, H, 65535, gray16), scaled(gray16, 65535))
rgb1000 = rng.integers(0, 1001, (H, W, 3))
keep_pnm("rgb_max1000.ppm", pnm(b"P6", W, H, 1000, rgb1000), scaled(rgb1000, 1000))
gray15 = rng.integers(0, 16, (H, W))
keep_pnm("gray_ascii_max15.pgm", pnm(b"P2", W, H, 15, gray15, ascii_=True), scaled(gray15, 15))
keep_pnm("rgb_ascii.ppm", pnm(b"P3", W, H, 255, rgb8, ascii_=True), rgb8)
for name in ("gray8.pgm", "rgb8.ppm", "rgb_ascii.ppm"):   # Pillow agrees on the 8-bit ones
    expected = np.frombuffer(open(os.path.join(HERE, f"pnm/expected/{name}.bin"), "rb").read(), np.uint8)
    assert np.array_equal(np.asarray(Image.open(os.path.join(HERE, f"pnm/{name}"))).reshape(-1), expected), name
out("pnm/manifest.txt", ("\n".join(pnm_manifest) + "\n").encode())

# ---------------------------------------------------------------- colormaps
# Full 256-entry tables as the references produce them: cv2.applyColorMap (BGR, flipped to RGB) and
# matplotlib's viridis with bytes=True. The viridis bytes also become the Swift source
# Sources/LiftCAMImaging/ViridisTable.swift (the only place the Swift code gets them from).
levels256 = np.arange(256, dtype=np.uint8)
jet_table = cv2.applyColorMap(levels256.reshape(1, 256), cv2.COLORMAP_JET)[0][:, ::-1]
viridis = matplotlib.colormaps["viridis"]
viridis_table = viridis(np.arange(256), bytes=True)[:, :3]
out("colormap/jet_table.bin", np.ascontiguousarray(jet_table).tobytes())
out("colormap/viridis_table.bin", np.ascontiguousarray(viridis_table).tobytes())
rows = ["    " + ", ".join("%3d" % v for v in viridis_table[i:i + 5].reshape(-1)) + "," for i in range(0, 256, 5)]
swift = f"""// Generated by Fixtures/images/make_image_fixtures.py with matplotlib {matplotlib.__version__}:
// matplotlib.colormaps["viridis"](np.arange(256), bytes=True)[:, :3], i.e. matplotlib's own
// 256-entry viridis table scaled the way matplotlib makes bytes, (lut * 255).astype(uint8).
// Do not edit by hand; rerun the script.
extension Colormap {{
    /// matplotlib's viridis as bytes: [256, 3] RGB.
    static let viridisTable: [UInt8] = [
{chr(10).join(rows)}
    ]
}}
"""
with open(os.path.join(HERE, "..", "..", "Sources", "LiftCAMImaging", "ViridisTable.swift"), "w") as f:
    f.write(swift)

values = np.array([0, 1, 0.5, 1 / 255, 159 / 255, 0.1, 0.25, 0.3333, 0.62352943, 0.75, 0.875, 0.9999,
                   0.123456, 0.4, 0.6, 0.9, -0.2, 1.5, 0.0039, 0.99609375], dtype=np.float32)
clipped = np.clip(values, 0, 1)
jet20 = cv2.applyColorMap(np.uint8(255 * clipped).reshape(1, -1), cv2.COLORMAP_JET)[0][:, ::-1]
vir20 = viridis(clipped, bytes=True)[:, :3]
lines = ["# float32 bits (hex), jet r g b (cv2.applyColorMap(uint8(255*v))), viridis r g b (matplotlib, bytes=True)"]
for v, j, m in zip(values, jet20, vir20):
    lines.append("%08x %d %d %d %d %d %d" % (v.view(np.uint32), *j, *m))
out("colormap/values20.txt", ("\n".join(lines) + "\n").encode())

# ---------------------------------------------------------------- heatmap and overlay
def ppm(img):
    return b"P6\n%d %d\n255\n" % (img.shape[1], img.shape[0]) + img.astype(np.uint8).tobytes()

OW, OH = 20, 15
sal = rng.random((OH, OW), dtype=np.float32)
sal[0, 0], sal[0, 1], sal[1, 0] = 0.0, 1.0, 0.5
base = rng.integers(0, 256, (OH, OW, 3), dtype=np.uint8)
base_f = base.astype(np.float32) / 255
out("overlay/saliency.f32", sal.astype("<f4").tobytes())
out("overlay/base.ppm", ppm(base))
jet_heat = cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * sal), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
out("overlay/heatmap_jet.ppm", ppm(jet_heat))
out("overlay/overlay_jet_w0.5.ppm", ppm(show_cam_on_image(base_f, sal, use_rgb=True, colormap=cv2.COLORMAP_JET, image_weight=0.5)))
out("overlay/overlay_jet_w0.3.ppm", ppm(show_cam_on_image(base_f, sal, use_rgb=True, colormap=cv2.COLORMAP_JET, image_weight=0.3)))
vir_heat = viridis(sal, bytes=True)[..., :3]
out("overlay/heatmap_viridis.ppm", ppm(vir_heat))
cam = (1 - 0.5) * (np.float32(vir_heat) / 255) + 0.5 * base_f   # show_cam_on_image's formula, viridis heatmap
cam = cam / np.max(cam)
out("overlay/overlay_viridis_w0.5.ppm", ppm(np.uint8(255 * cam)))

# ---------------------------------------------------------------- bilinear resize (PyTorch semantics)
small_in = rng.random((3, 5, 7), dtype=np.float32)   # [C, H, W]
t = torch.from_numpy(small_in)[None]
out("resize/input_3x5x7.f32", small_in.astype("<f4").tobytes())
out("resize/up_3x9x13.f32", F.interpolate(t, size=(9, 13), mode="bilinear", align_corners=False)[0].numpy().astype("<f4").tobytes())
out("resize/down_3x4x3.f32", F.interpolate(t, size=(4, 3), mode="bilinear", align_corners=False)[0].numpy().astype("<f4").tobytes())

total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(HERE) for f in fs)
print(f"fixtures written, {total} bytes in total; zlib block types seen in PNGs: {sorted(block_types)}")
