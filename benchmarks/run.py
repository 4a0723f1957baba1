"""Training speed: mlpkit against other ways to train one MLP on a CPU (`make bench`).

Every trainer trains the workload in ``workload.py`` for one epoch in a fresh subprocess (so that
imports, thread settings and peak memory do not leak between trainers); trainers and batch sizes
are interleaved over several repetitions and the median is reported. The matmul bound is measured
in the same run: the raw matrix products of one training step (3 forward, 3 weight gradients,
2 input gradients) at the same batch size, timed alone.

    python benchmarks/run.py                       # full run, updates benchmarks/RESULTS.md
    python benchmarks/run.py --quick               # a smoke run: fewer samples and repetitions
    python benchmarks/run.py --batch-sizes 32 --peers careful,mlpkit_step --reps 3
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The workload and peers beside this file; mlpkit from this working tree, installed or not.
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from peers import PEERS  # noqa: E402
from workload import IN_FEATURES, Workload, flops_per_sample  # noqa: E402

BOUND = "bound"
MARK = "BENCH-RESULT "
# Targets from the performance issue: (share of the matmul bound, multiple of the best peer).
TARGETS = {32: (0.50, 2.0), 256: (0.70, 1.5)}
PACKAGES = ["torch", "numpy", "scikit-learn", "lightning", "skorch", "keras"]


def main() -> None:
    args = parse_args()
    if args.worker:
        return worker(args.worker, args.batch_size, args.samples)
    peers = [p for p in PEERS if p in args.peers.split(",")] if args.peers else list(PEERS)
    results = measure(peers, args)
    report = render(results, peers, args)
    print(report)
    if args.write:
        Path(args.write).write_text(with_other_sections(Path(args.write), report))
        print(f"wrote {args.write}")


def with_other_sections(path: Path, report: str) -> str:
    """``report`` in place of this script's part of ``path`` (its top, up to the end of its
    "## Method" section), the sections other benchmarks wrote below it kept as they are."""
    if not path.exists():
        return report
    existing = path.read_text()
    method = existing.find("\n## Method")
    rest = existing.find("\n## ", method + 1) if method >= 0 else -1
    return report if rest < 0 else report.rstrip("\n") + "\n" + existing[rest:]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 samples, 1 repetition")
    parser.add_argument("--batch-sizes", default="32,256", help="comma-separated, e.g. 32,256")
    parser.add_argument("--samples", type=int, default=None, help="samples per epoch (55,000)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (5; 1 with --quick)")
    parser.add_argument("--peers", default="", help=f"a subset of: {','.join(PEERS)}")
    parser.add_argument("--write", default=None, help="results file (full runs: RESULTS.md)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.samples = args.samples or (5_000 if args.quick else 55_000)
    args.reps = args.reps or (1 if args.quick else 5)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.write is None and not args.quick and not args.worker and not args.peers:
        args.write = str(HERE / "RESULTS.md")  # a full run: its figures replace the last
    return args


# ---------------------------------------------------------------- in the worker subprocess


def worker(peer: str, batch_size: int, samples: int) -> None:
    """Train one epoch with one trainer and print one result line."""
    try:
        if peer == BOUND:
            result = {"samples_per_s": matmul_bound(batch_size, samples)}
        else:
            result = time_epoch(peer, batch_size, samples)
    except (ImportError, AttributeError) as exc:  # a missing package, or mlpkit.fit not there yet
        result = {"skipped": f"{type(exc).__name__}: {exc}"}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(MARK + json.dumps(result), flush=True)


def time_epoch(peer: str, batch_size: int, samples: int) -> dict:
    import torch

    module = importlib.import_module(f"peers.{peer}")
    for name in module.REQUIRES:
        importlib.import_module(name)
    data = Workload.make(samples)
    epoch = module.make_epoch(batch_size)
    epoch(data.first(min(samples, max(2_000, 10 * batch_size))))  # warm-up, not timed
    start = time.perf_counter()
    loss = epoch(data)
    seconds = time.perf_counter() - start
    return {
        "samples_per_s": samples / seconds,
        "seconds": seconds,
        "loss": loss,
        "threads": torch.get_num_threads(),
    }


def matmul_bound(batch_size: int, samples: int) -> float:
    """Samples per second if a step were only its 8 matrix products (preallocated, no bias)."""
    import torch

    widths = [IN_FEATURES, *Workload.make(1).widths]
    gen = torch.Generator().manual_seed(0)
    acts = [torch.rand(batch_size, w, generator=gen) for w in widths]
    grads = [torch.rand(batch_size, w, generator=gen) for w in widths]
    weights = [torch.rand(n, m, generator=gen) for m, n in zip(widths, widths[1:], strict=False)]
    weight_grads = [torch.empty_like(w) for w in weights]

    def step() -> None:
        for i, w in enumerate(weights):
            torch.mm(acts[i], w.t(), out=acts[i + 1])
        for i in reversed(range(len(weights))):
            torch.mm(grads[i + 1].t(), acts[i], out=weight_grads[i])
            if i > 0:
                torch.mm(grads[i + 1], weights[i], out=grads[i])

    steps = max(1, samples // batch_size)
    for _ in range(min(steps, 50)):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


# ---------------------------------------------------------------- in the parent


def measure(peers: list[str], args: argparse.Namespace) -> dict:
    """{(trainer, batch size): [result, ...]}, trainers interleaved, the order rotated per rep."""
    results: dict[tuple[str, int], list[dict]] = {}
    order = [*peers, BOUND]
    for rep in range(args.reps):
        shift = rep % len(order)
        for batch_size in args.batch_sizes:
            for peer in order[shift:] + order[:shift]:
                runs = results.setdefault((peer, batch_size), [])
                if runs and "skipped" in runs[0]:
                    continue
                result = run_worker(peer, batch_size, args.samples)
                runs.append(result)
                print(progress(rep, peer, batch_size, result), flush=True)
    return results


def run_worker(peer: str, batch_size: int, samples: int, tries: int = 5) -> dict:
    """Run one worker; rerun it (up to ``tries``) when other processes took CPU meanwhile."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", peer]
    command += ["--batch-size", str(batch_size), "--samples", str(samples)]
    for attempt in range(tries):
        before = busy_cpu_seconds(), children_cpu_seconds(), time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=3_600)
        wall = time.perf_counter() - before[2]
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith(MARK)]
        if done.returncode != 0 or not lines:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"skipped": "failed: " + " | ".join(tail)}
        result = json.loads(lines[-1][len(MARK) :])
        other = busy_cpu_seconds() - before[0] - (children_cpu_seconds() - before[1])
        result["other_load"] = max(0.0, other / (wall * (os.cpu_count() or 1)))
        if "skipped" in result or result["other_load"] < 0.10 or attempt == tries - 1:
            return result
        time.sleep(10)  # someone else is using the CPU: wait, then measure again
    raise AssertionError("unreachable")


def busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (from /proc/stat), 0 where there is none."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, idle, iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def progress(rep: int, peer: str, batch_size: int, result: dict) -> str:
    if "skipped" in result:
        return f"rep {rep + 1} B={batch_size} {peer}: skipped ({result['skipped']})"
    return (
        f"rep {rep + 1} B={batch_size} {peer}: {result['samples_per_s']:,.0f} samples/s"
        f" (other load {result['other_load']:.0%})"
    )


def render(results: dict, peers: list[str], args: argparse.Namespace) -> str:
    labels = {p: importlib.import_module(f"peers.{p}").LABEL for p in peers}
    labels[BOUND] = "matmul bound (raw GEMMs of a step)"
    flops = flops_per_sample()
    lines = ["# Training speed: one epoch of a 784-300-100-10 MLP on a CPU", ""]
    lines += machine_lines(args) + [""]
    for batch_size in args.batch_sizes:
        rows, skipped = summarise(results, [*peers, BOUND], batch_size)
        bound = rows.get(BOUND, {}).get("median")
        mlpkit = next((rows[p]["median"] for p in ("mlpkit_fit", "mlpkit_step") if p in rows), None)
        lines += [f"## Batch size {batch_size}", ""]
        lines += [
            "| trainer | samples/s (median) | min - max | mlpkit is | GFLOP/s | % of bound "
            "| peak RSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for peer, row in rows.items():
            ratio = f"{mlpkit / row['median']:.2f}x" if mlpkit and peer != BOUND else ""
            share = f"{row['median'] / bound:.0%}" if bound else ""
            lines.append(
                f"| {labels[peer]} | {row['median']:,.0f} | {row['min']:,.0f} - {row['max']:,.0f}"
                f" | {ratio} | {row['median'] * flops / 1e9:.1f} | {share}"
                f" | {row['rss']:,.0f} |"
            )
        lines += [f"- {labels[p]}: skipped ({why})" for p, why in skipped.items()]
        lines += target_lines(rows, batch_size, mlpkit, bound) + [""]
    lines += method_lines(args)
    return "\n".join(lines) + "\n"


def summarise(results: dict, names: list[str], batch_size: int) -> tuple[dict, dict]:
    rows, skipped = {}, {}
    for name in names:
        runs = results.get((name, batch_size), [])
        done = [r for r in runs if "skipped" not in r]
        if not done:
            if runs:
                skipped[name] = runs[0]["skipped"]
            continue
        speeds = [r["samples_per_s"] for r in done]
        rows[name] = {
            "median": statistics.median(speeds),
            "min": min(speeds),
            "max": max(speeds),
            "rss": statistics.median(r["peak_rss_mb"] for r in done),
            "contended": sum(r["other_load"] >= 0.10 for r in done),
        }
    return rows, skipped


def target_lines(rows: dict, batch_size: int, mlpkit: float | None, bound: float | None):
    peers = [r["median"] for p, r in rows.items() if not p.startswith("mlpkit") and p != BOUND]
    if not (mlpkit and bound and peers):
        return []
    share, multiple = TARGETS.get(batch_size, (None, None))
    best = max(peers)
    text = f"mlpkit reaches {mlpkit / bound:.0%} of the matmul bound and {mlpkit / best:.2f}x"
    text += " the fastest other trainer"
    if share is not None:
        met = mlpkit / bound >= share and mlpkit / best >= multiple
        text += f" (target: {share:.0%} and {multiple}x: {'met' if met else 'not met'})"
    contended = sum(r["contended"] for r in rows.values())
    lines = ["", text + "."]
    if contended:
        lines.append(f"{contended} run(s) shared the CPU with other processes (>10% load).")
    return lines


def machine_lines(args: argparse.Namespace) -> list[str]:
    import torch

    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; torch uses "
        f"{torch.get_num_threads()} threads by default",
        f"- Python {platform.python_version()}; " + ", ".join(versions),
        f"- mlpkit commit {git_commit()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- `{' '.join(['python benchmarks/run.py', *sys.argv[1:]])}`: {args.samples:,} samples, "
        f"{args.reps} repetitions, trainers interleaved, medians",
    ]


def method_lines(args: argparse.Namespace) -> list[str]:
    return [
        "## Method",
        "",
        f"Each number is one epoch over {args.samples:,} random MNIST-shaped samples, timed around",
        "the trainer's own epoch call (for Lightning, skorch, Keras, scikit-learn and mlpkit.fit",
        "the whole `fit` call) after a warm-up epoch on 2,000 samples, in a fresh process per run.",
        "GFLOP/s counts only the matrix products (1.13 MFLOP per sample, forward and backward).",
        "The bound times those products alone, preallocated, at the same batch size and threads.",
        "A run during which other processes used over 10% of the CPU is measured again (5 tries).",
        "Peak RSS is the worker process's maximum resident memory, data set included.",
        "On a shared virtual machine the same run can vary by 1.5x from one repetition to the",
        "next (see min - max) even when no other process in the machine uses the CPU.",
    ]


def cpu_model() -> str:
    """lscpu's model name, with the family and whether it has AVX-512 (which BLAS kernels use)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return platform.processor() or "unknown CPU"
    info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    info = {key.strip(): value.strip() for key, value in info.items()}
    model = info.get("Model name", platform.processor() or "unknown CPU")
    family = f", family {info['CPU family']}" if "CPU family" in info else ""
    avx512 = ", AVX-512" if "avx512f" in info.get("Flags", "").split() else ""
    return model + family + avx512


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=HERE
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
