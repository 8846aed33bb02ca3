#!/usr/bin/env python3
"""PyTorch's side of `liftcam-bench forward`: torchvision VGG16 and ResNet50 forward passes on this CPU.

Same protocol as the Swift rows: 2 threads, untrained weights (torchvision's seeded initialisation),
batch 1 and 8 of 224x224 inputs, inference mode, one warm-up pass, then the median of 11 (batch 1)
or 5 (batch 8) timed passes. Prints the load average at the end (the machine may be shared).

    python3 Scripts/bench_torch_forward.py [vgg16 resnet50]
"""
import os
import statistics
import sys
import time

import torch
import torchvision


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    print("| network | batch | torch median ms | fastest ms | runs |")
    print("|---|---:|---:|---:|---:|")
    for name in sys.argv[1:] or ["vgg16", "resnet50"]:
        model = getattr(torchvision.models, name)(weights=None).eval()
        for batch in [1, 8]:
            x = torch.randn(batch, 3, 224, 224)
            runs = 11 if batch == 1 else 5
            with torch.inference_mode():
                model(x)
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    model(x)
                    times.append(time.perf_counter() - start)
            print(f"| {name} (torch {torch.__version__}) | {batch} | {statistics.median(times) * 1e3:.1f} | "
                  f"{min(times) * 1e3:.1f} | {runs} |", flush=True)
    print("load average", os.getloadavg())


if __name__ == "__main__":
    main()
