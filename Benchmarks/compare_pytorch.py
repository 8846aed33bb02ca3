#!/usr/bin/env python3
"""LiftCAM against PyTorch on the same machine, in the same run: forward passes and CAM methods.

For each network (torchvision VGG16 and ResNet50, random weights from torch.manual_seed(0), one
seeded 224x224 input), this script times in PyTorch (2 threads, inference mode where no gradient is
needed, warm-up then the median of --repeat runs):

  - the forward pass;
  - LIFT-CAM as the official code computes it: the maps A from the body, Captum's DeepLift on the
    head against a zero baseline, Eq 1, bilinear upsampling;
  - Grad-CAM, Grad-CAM++, XGrad-CAM, Ablation-CAM and Score-CAM from pytorch-grad-cam (one run each
    for the slow two);
  - one SHAP-CAM ordering (Algorithm 1) by batched head evaluation of its K + 1 coalitions;

then exports the same weights and input for LiftCAM and runs `liftcam bench` on them (same methods,
end to end, forward included), and `liftcam explain --method lift` under wait4 for its peak memory.
It writes Benchmarks/PYTORCH.md: every time, the ratio LiftCAM / PyTorch, and the issue's targets.

Usage (needs torch, torchvision, captum and grad-cam; LiftCAM built with `swift build -c release`):

    python3 Benchmarks/compare_pytorch.py                  # both networks, every case (~10 min)
    python3 Benchmarks/compare_pytorch.py --quick          # skip Score-CAM and PyTorch's Ablation-CAM
    python3 Benchmarks/compare_pytorch.py --archs resnet50 --repeat 10
"""
import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIFTCAM = os.path.join(ROOT, ".build", "release", "liftcam")
THREADS = 2


def median_seconds(function, repeat):
    function()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def once_seconds(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def split_model(arch, model):
    """(body, head, target layer) as LiftCAM splits the network at its default layer."""
    if arch.startswith("vgg"):
        body = model.features[:30]                      # up to the last ReLU of features (features.29)
        head = nn.Sequential(model.features[30], model.avgpool, nn.Flatten(), model.classifier)
        return body, head, model.features[29]
    body = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                         model.layer1, model.layer2, model.layer3, model.layer4)
    head = nn.Sequential(model.avgpool, nn.Flatten(), model.fc)
    return body, head, model.layer4[-1]


def no_inplace(model):
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False  # Captum's DeepLift refuses in-place ReLUs
    return model


def lift_cam_official(body, head, x, target):
    """The official LIFT-CAM recipe: DeepLift (Captum) on the head, zero baseline, then Eq 1."""
    from captum.attr import DeepLift
    with torch.no_grad():
        maps = body(x)
    contributions = DeepLift(head).attribute(maps, baselines=torch.zeros_like(maps), target=target)
    alpha = contributions.sum(dim=(2, 3), keepdim=True)
    cam = F.relu((alpha * maps).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return (cam - cam.min()) / (cam.max() - cam.min() + 1e-12)


def shap_cam_one_ordering(head, maps, target, batch=64):
    """Algorithm 1 for one random ordering on maps already computed: F^c of the K + 1 prefixes,
    head only, in batches (as LiftCAM's seconds_per_ordering, which leaves the forward pass out)."""
    with torch.no_grad():
        k = maps.shape[1]
        order = torch.randperm(k, generator=torch.Generator().manual_seed(0))
        values = []
        for start in range(0, k + 1, batch):
            steps = torch.arange(start, min(k + 1, start + batch))
            masks = (torch.arange(k)[None, :] < steps[:, None]).float()      # prefix lengths
            present = torch.zeros_like(masks)
            present[:, order] = masks
            values.append(head(maps * present[:, :, None, None])[:, target])
        v = torch.cat(values)
        alpha = torch.zeros(k)
        alpha[order] = v[1:] - v[:-1]
        return alpha


def time_pytorch(arch, model, x, repeat, quick):
    from pytorch_grad_cam import AblationCAM, GradCAM, GradCAMPlusPlus, ScoreCAM, XGradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    body, head, layer = split_model(arch, model)
    with torch.inference_mode():
        target = int(model(x).argmax())
    results = {}
    with torch.inference_mode():
        results["forward"] = median_seconds(lambda: model(x), repeat)
    results["lift"] = median_seconds(lambda: lift_cam_official(body, head, x, target), repeat)
    targets = [ClassifierOutputTarget(target)]
    for name, kind in [("gradcam", GradCAM), ("gradcampp", GradCAMPlusPlus), ("xgradcam", XGradCAM)]:
        cam = kind(model=model, target_layers=[layer])
        results[name] = median_seconds(lambda: cam(input_tensor=x, targets=targets), repeat)
    with torch.no_grad():
        maps = body(x)
    results["shap_per_ordering"] = median_seconds(lambda: shap_cam_one_ordering(head, maps, target), repeat)
    if not quick:
        # One run each (they take minutes), after the model's other runs above have warmed it up.
        for name, kind in [("ablation", AblationCAM), ("scorecam", ScoreCAM)]:
            cam = kind(model=model, target_layers=[layer])
            results[name] = once_seconds(lambda: cam(input_tensor=x, targets=targets))
    results["peak_rss_mb"] = pytorch_lift_peak_rss(arch)
    return results, target


def export(model, directory):
    for key, value in model.state_dict().items():
        array = value.detach().cpu().numpy()
        np.save(os.path.join(directory, key + ".npy"), array.astype(np.float32) if array.dtype.kind == "f" else array)


def run_liftcam(arguments):
    """Runs liftcam and returns its standard output."""
    process = subprocess.run([LIFTCAM] + arguments, capture_output=True, text=True)
    if process.returncode != 0:
        sys.exit(f"liftcam {' '.join(arguments)} failed: {process.stderr.strip()}")
    return process.stdout


def make_model(arch):
    torch.manual_seed(0)
    model = no_inplace(getattr(torchvision.models, arch)(weights=None).eval())
    x = torch.from_numpy(np.random.default_rng(0).uniform(-2, 2, (1, 3, 224, 224)).astype(np.float32))
    return model, x


def pytorch_lift_peak_rss(arch):
    """Peak memory of a fresh Python process that builds the model and runs LIFT-CAM once."""
    probe = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-probe", arch],
                           capture_output=True, text=True, check=True)
    return float(probe.stdout.strip().splitlines()[-1])


def memory_probe(arch):
    torch.set_num_threads(THREADS)
    model, x = make_model(arch)
    body, head, _ = split_model(arch, model)
    with torch.inference_mode():
        target = int(model(x).argmax())
    lift_cam_official(body, head, x, target)
    # VmHWM, not getrusage: a process started by fork + exec reports in ru_maxrss the peak of the
    # process it was forked from (this script, with PyTorch loaded) if that was higher.
    print(peak_of_this_process_mib())


def peak_of_this_process_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_of(arguments):
    """Peak resident MiB of one liftcam run, as /usr/bin/time reports it: time is a small process,
    so the peak it reads for its child is the child's own (see peak_of_this_process_mib)."""
    report = tempfile.NamedTemporaryFile(suffix=".txt", delete=False).name
    try:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report, LIFTCAM] + arguments,
                       stdout=subprocess.DEVNULL, check=True)
        with open(report) as handle:
            return int(handle.read().split()[-1]) / 1024
    finally:
        os.remove(report)


def time_liftcam(arch, weights, input_path, target, repeat, quick, work):
    methods = "lift,gradcam,gradcampp,xgradcam,ablation,shap"
    common = ["--arch", arch, "--weights", weights, "--input", input_path, "--threads", str(THREADS)]
    timed = common + ["--target", str(target)]
    fast = json.loads(run_liftcam(["bench"] + timed + ["--repeat", str(repeat), "--method", methods,
                                                         "--orderings", "10", "--json", "-"]))
    results = {"forward": fast["forward_seconds"], "bench_peak_rss_mb": fast["peak_rss_mb"]}
    for name, entry in fast["methods"].items():
        results[name] = entry["seconds"]
    results["shap_per_ordering"] = fast["methods"]["shap"]["seconds_per_ordering"]
    if not quick:
        slow = json.loads(run_liftcam(["bench"] + timed + ["--repeat", "1", "--method", "scorecam", "--json", "-"]))
        results["scorecam"] = slow["methods"]["scorecam"]["seconds"]
    results["explain_lift_peak_rss_mb"] = peak_rss_of(["explain"] + common[:6] + [
        "--target", str(target), "--method", "lift", "--json", os.path.join(work, "explain.json")])
    results["maps"] = fast["maps"]
    return results


TARGETS = {  # case: (bound on the ratio, against what), from issue 7
    ("vgg16", "forward"): (0.75, "pytorch"),
    ("resnet50", "forward"): (1.0, "pytorch"),
    ("vgg16", "scorecam"): (0.5, "pytorch"),
}


def write_table(rows, notes, path, quick):
    load = os.getloadavg()
    lines = [
        "# LiftCAM against PyTorch",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python3 Benchmarks/compare_pytorch.py"
        f"{' --quick' if quick else ''}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"{THREADS} threads on both sides; torch {torch.__version__}; load average at the end "
        f"{load[0]:.2f}. Random weights (torch.manual_seed(0)), one seeded 224×224 input, batch 1. "
        "Times are medians after a warm-up (Ablation-CAM and Score-CAM in PyTorch: one run; "
        "Score-CAM in LiftCAM: one run after a warm-up). Every LiftCAM method time is end to end, the "
        "forward pass included. PyTorch's CAM methods are pytorch-grad-cam's; its LIFT-CAM is the "
        "official recipe (Captum DeepLift on the head). Both sides explain PyTorch's predicted class. "
        "SHAP-CAM's time per ordering leaves the forward pass out on both sides.",
        "",
    ] + notes + [
        "",
        "",
        "| network | case | PyTorch s | LiftCAM s | LiftCAM / PyTorch | target | met |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(row) + " |")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archs", default="vgg16,resnet50")
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="skip Score-CAM and PyTorch's Ablation-CAM")
    parser.add_argument("--out", default=os.path.join(ROOT, "Benchmarks", "PYTORCH.md"))
    parser.add_argument("--memory-probe", metavar="ARCH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        return memory_probe(args.memory_probe)
    if not os.path.exists(LIFTCAM):
        sys.exit(f"{LIFTCAM}: not built; run `swift build -c release` first")
    torch.set_num_threads(THREADS)
    rows, notes = [], []
    for arch in args.archs.split(","):
        model, x = make_model(arch)
        with torch.inference_mode():
            target = int(model(x).argmax())   # both sides explain PyTorch's predicted class
        with tempfile.TemporaryDirectory() as work:
            weights = os.path.join(work, "weights")
            os.makedirs(weights)
            export(model, weights)
            input_path = os.path.join(work, "x.npy")
            np.save(input_path, x.numpy()[0])
            ours = time_liftcam(arch, weights, input_path, target, args.repeat, args.quick, work)
        theirs, their_target = time_pytorch(arch, model, x, args.repeat, args.quick)
        assert their_target == target
        print(arch, "pytorch", json.dumps(theirs), "\n", arch, "liftcam", json.dumps(ours), flush=True)

        def fmt(value):
            return f"{value:.3f}" if value is not None else "–"

        for case in ["forward", "lift", "gradcam", "gradcampp", "xgradcam", "ablation", "scorecam", "shap_per_ordering"]:
            if case not in ours:
                continue
            mine, other = ours[case], theirs.get(case)
            ratio = f"{mine / other:.2f}×" if other else "–"
            bound = TARGETS.get((arch, case))
            target, met = "", ""
            if bound:
                target = f"≤ {bound[0]}× PyTorch"
                met = "yes" if other and mine / other <= bound[0] else "no"
            if case == "lift":
                target = "≤ 1.1× our forward"
                met = f"{'yes' if mine <= 1.1 * ours['forward'] else 'no'} ({mine / ours['forward']:.2f}×)"
            if arch == "vgg16" and case == "ablation":
                target, met = "≤ 1 s", "yes" if mine <= 1 else "no"
            if arch == "vgg16" and case == "shap_per_ordering":
                target, met = "≤ 0.1 s", "yes" if mine <= 0.1 else "no"
            name = "SHAP-CAM, one ordering (forward pass left out)" if case == "shap_per_ordering" else case
            rows.append([arch, name, fmt(other), fmt(mine), ratio, target, met])
        maps = ours["maps"]
        notes.append(f"- {arch}: K = {maps['count']:.0f} maps at the default layer, {maps['all_zero']:.0f} of them "
                     f"zero everywhere (null players: LiftCAM's SHAP-CAM does not evaluate their steps) and "
                     f"{maps['constant']:.0f} constant (LiftCAM's Score-CAM skips them, as its authors' code "
                     f"does; pytorch-grad-cam runs all K).")
        peak = ours["explain_lift_peak_rss_mb"]
        budget = "≤ 650 MB" if arch == "vgg16" else ""
        rows.append([arch, "peak memory of one LIFT-CAM run, MiB (a fresh process each)",
                     f"{theirs['peak_rss_mb']:.0f}", f"{peak:.0f}", f"{peak / theirs['peak_rss_mb']:.2f}×",
                     budget, ("yes" if peak <= 650 else "no") if budget else ""])
    write_table(rows, notes, args.out, args.quick)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
