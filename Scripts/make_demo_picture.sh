#!/usr/bin/env bash
# Makes docs/demo.png, the README's picture: three fixture images explained by seven methods with
# `liftcam explain --out`, overlays tiled side by side (tiling needs python3 with Pillow).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
swift build -c release --package-path "$root" > /dev/null
for image in 0000 0004 0007; do
  "$root/.build/release/liftcam" explain --arch "$root/Fixtures/models/vgg_digits/arch.json" \
    --weights "$root/Fixtures/models/vgg_digits/weights" --input "$root/Fixtures/data/digits/$image.png" \
    --method lift,shap,ablation,xgradcam,gradcam,gradcampp,scorecam --orderings 1000 --no-metrics \
    --out "$work/$image" > /dev/null
done
python3 - "$root" "$work" <<'PY'
import sys
from PIL import Image, ImageDraw
root, work = sys.argv[1], sys.argv[2]
methods = ["lift", "shap", "ablation", "xgradcam", "gradcam", "gradcampp", "scorecam"]
labels = ["LIFT-CAM", "SHAP-CAM 1000", "Ablation-CAM", "XGrad-CAM", "Grad-CAM", "Grad-CAM++", "Score-CAM"]
images, size, top = ["0000", "0004", "0007"], 128, 18
sheet = Image.new("RGB", ((len(methods) + 1) * size, top + len(images) * size), "white")
draw = ImageDraw.Draw(sheet)
for i, label in enumerate(["input"] + labels):
    draw.text((i * size + 4, 3), label, fill="black")
for row, image in enumerate(images):
    y = top + row * size
    sheet.paste(Image.open(f"{root}/Fixtures/data/digits/{image}.png").convert("RGB").resize((size, size), Image.NEAREST), (0, y))
    for i, method in enumerate(methods):
        sheet.paste(Image.open(f"{work}/{image}/{method}_overlay.png").resize((size, size), Image.NEAREST), ((i + 1) * size, y))
sheet.save(f"{root}/docs/demo.png", optimize=True)
PY
echo "wrote $root/docs/demo.png"
