"""Physics-informed training results: one entry per (problem, method) in ``pinn.json``.

Each method is a shipped training config run through ``ttzo train`` (the same code path a user
takes); runs can be made one at a time and are merged into the result file:

    python benchmarks/pinn.py                      # every (problem, method)
    python benchmarks/pinn.py --only hjb20:bpfree-sparse-grid --max-steps 800
    python benchmarks/pinn.py --only hjb20:bpfree-sparse-grid --resume   # continue a run
    python benchmarks/pinn.py --only hjb20:bpfree-sparse-grid --run-name hjb20-bpfree-3k \
        --epochs 0.3 --set phases.0.schedule.epochs=0.3 --workers 2      # a longer schedule
    python benchmarks/pinn.py --only hjb20:bpfree-sparse-grid-finetune --workers 2 --max-steps 100

Methods: ``firstorder-autodiff`` (exact derivatives and gradients), ``firstorder-sparse-grid``
(back-propagation through the sparse-grid Stein loss), ``bpfree-sparse-grid`` (zeroth-order
optimizer, Stein derivatives: forward evaluations only), ``bpfree-sparse-grid-finetune`` (the same
with 100 points per step, started from the ``bpfree-sparse-grid`` run's parameters; its entry
counts the queries and time of both), ``bpfree-sparse-grid-polish`` (a third phase at a lower
rate, started from the fine-tuning run; its entry counts all three), ``bpfree-sparse-grid-polish2``
(a fourth with 20 directions per step, started from the third; counts all four), and the diagnostic
``zo-autodiff`` (the zeroth-order optimizer on the loss with exact derivatives);
``bpfree-monte-carlo`` is heat-100D's BP-free run (Monte Carlo Stein, heat-form Laplacian).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from common import RESULTS, ROOT, write_result

#: (problem, method) -> (config, target relative L2 error or None)
RUNS = {
    ("poisson2d", "firstorder-autodiff"): ("poisson2d_firstorder", None),
    ("poisson2d", "bpfree-sparse-grid"): ("poisson2d", 5e-2),
    ("hjb20", "firstorder-autodiff"): ("hjb20_firstorder", None),
    ("hjb20", "firstorder-sparse-grid"): ("hjb20_firstorder_stein", None),
    ("hjb20", "bpfree-sparse-grid"): ("hjb20", 1e-3),
    ("hjb20", "zo-autodiff"): ("hjb20_zo_exact", None),
    ("hjb20", "bpfree-sparse-grid-finetune"): ("hjb20_finetune", 1e-3),
    ("hjb20", "bpfree-sparse-grid-polish"): ("hjb20_polish", 1e-3),
    ("hjb20", "bpfree-sparse-grid-polish2"): ("hjb20_polish2", 1e-3),
    ("heat100", "firstorder-autodiff"): ("heat100_firstorder", None),
    ("heat100", "bpfree-monte-carlo"): ("heat100", None),
}
#: fine-tuning runs -> the method whose run (its ``run_dir`` in pinn.json) they start from
STARTS_FROM = {("hjb20", "bpfree-sparse-grid-finetune"): "bpfree-sparse-grid",
               ("hjb20", "bpfree-sparse-grid-polish"): "bpfree-sparse-grid-finetune",
               ("hjb20", "bpfree-sparse-grid-polish2"): "bpfree-sparse-grid-polish"}


def run_one(problem: str, method: str, run_root: Path, extra: list[str],
            run_name: str | None = None, previous: dict | None = None) -> dict:
    config, target = RUNS[(problem, method)]
    run_dir = run_root / (run_name or f"{problem}-{method}")
    cmd = [sys.executable, "-m", "ttzo.cli", "train", problem, "--config",
           f"sw/ttzo/configs/{config}.toml", "--run-dir", str(run_dir), "--no-progress", *extra]
    start = STARTS_FROM.get((problem, method))
    if start is not None:
        source = (previous or {}).get((problem, start))
        if source is None:
            raise SystemExit(f"{problem}:{method} starts from the {problem}:{start} run; "
                             "run that first")
        cmd += ["--init-from", str(Path(source["run_dir"]) / "checkpoint.npz")]
    if "--resume" not in extra:
        cmd.append("--overwrite")
    print("$", shlex.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    result = json.loads((ROOT / run_dir / "result.json").read_text())
    init = result.get("init_from")  # a fine-tuning run counts the work it started from
    entry = {
        "problem": problem, "method": method, "config": config,
        "rel_l2": result["test_rel_l2"],
        "forward_queries": result.get("total_forward_queries", result["forward_queries"]),
        "wall_time_s": result.get("total_wall_time_s", result["wall_time_s"]),
        "forward_only": result["forward_only"],
        "steps": result.get("total_steps", result["steps"]), "finished": result["finished"],
        **({"init_from": init, "finetune_steps": result["steps"],
            "finetune_queries": result["forward_queries"]} if init else {}),
        "derivatives": result["derivatives"], "params_tt": result["params_tt"],
        "params_dense": result["params_dense"], "run_dir": str(run_dir),
        "command": "ttzo " + " ".join(cmd[cmd.index("train"):]),
        "target_rel_l2": target,
    }
    if target is not None:
        entry["met"] = bool(entry["rel_l2"] is not None and entry["rel_l2"] <= target)
    return entry


def chain_records(problem: str, method: str, entries: dict) -> list[dict]:
    """The metrics of a run and of the runs it started from, as one log.

    Steps and queries count from the first run of the chain (a run's ``init_from`` holds the
    totals it started with), so the phases line up on one axis.
    """
    run_dirs, key = [], (problem, method)
    while key is not None:
        run_dirs.append(Path(entries[key]["run_dir"]))
        start = STARTS_FROM.get(key)
        key = None if start is None else (problem, start)
    records = []
    for run_dir in reversed(run_dirs):
        init = json.loads((ROOT / run_dir / "result.json").read_text()).get("init_from") or {}
        for line in (ROOT / run_dir / "metrics.jsonl").read_text().splitlines():
            record = json.loads(line)
            records.append({**record, "step": record["step"] + init.get("steps", 0),
                            "queries": record["queries"] + init.get("queries", 0)})
    return records


def plot_chain(problem: str, method: str, entries: dict) -> Path:
    """Draw the training curve of a chained run, all its phases, to ``docs/img``."""
    from ttzo.train.plot import plot_training_curve

    path = ROOT / "docs" / "img" / f"{problem}_bpfree_curve.png"
    plot_training_curve(chain_records(problem, method, entries), path,
                        title=f"{problem} {method} (all phases)")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", metavar="PROBLEM:METHOD",
                        help=f"run these only (of {', '.join(':'.join(k) for k in RUNS)})")
    # tracked (not under the ignored /runs): a run longer than a session resumes from its
    # checkpoint in the next checkout
    parser.add_argument("--run-root", default="benchmarks/runs/pinn",
                        help="where the run folders go")
    parser.add_argument("--max-steps", type=int, help="stop each run after this many steps")
    parser.add_argument("--resume", action="store_true", help="continue the runs")
    parser.add_argument("--run-name", help="run folder name (one run only; default "
                        "PROBLEM-METHOD)")
    parser.add_argument("--epochs", type=float, help="passed to ttzo train")
    parser.add_argument("--workers", type=int, help="passed to ttzo train")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config overrides passed to ttzo train")
    parser.add_argument("--plot-only", action="store_true",
                        help="only redraw docs/img/PROBLEM_bpfree_curve.png from the recorded "
                        "runs of the --only run and those it started from")
    args = parser.parse_args()
    chosen = [tuple(s.split(":", 1)) for s in args.only] if args.only else list(RUNS)
    unknown = [c for c in chosen if c not in RUNS]
    if unknown:
        parser.error(f"unknown runs {unknown}; known: {list(RUNS)}")
    if args.plot_only and not args.only:
        parser.error("--plot-only draws the runs chosen with --only")
    if args.run_name and len(chosen) != 1:
        parser.error("--run-name names one run: choose it with --only")
    extra = (["--max-steps", str(args.max_steps)] if args.max_steps else []) + (
        ["--resume"] if args.resume else [])
    extra += ["--epochs", str(args.epochs)] if args.epochs is not None else []
    extra += ["--workers", str(args.workers)] if args.workers is not None else []
    for override in args.set:
        extra += ["--set", override]
    path = RESULTS / "pinn.json"

    def recorded() -> dict:
        # re-read each time: runs of other invocations may have finished meanwhile
        previous = json.loads(path.read_text())["entries"] if path.exists() else []
        return {(e["problem"], e["method"]): e for e in previous}

    if args.plot_only:
        for problem, method in chosen:
            print(plot_chain(problem, method, recorded()))
        return 0
    for problem, method in chosen:
        entry = run_one(problem, method, Path(args.run_root), extra, args.run_name, recorded())
        entries = recorded()
        entries[(problem, method)] = entry
        write_result("pinn", {"command": "python benchmarks/pinn.py [--only PROBLEM:METHOD ...]",
                              "entries": [entries[k] for k in RUNS if k in entries]})
        if (problem, method) in STARTS_FROM:
            print("curve:", plot_chain(problem, method, entries), flush=True)
        rel = "not evaluated yet" if entry["rel_l2"] is None else f"{entry['rel_l2']:.3e}"
        print(f"{problem} {method}: relative L2 {rel}, "
              f"{entry['forward_queries']:,} queries, {entry['wall_time_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
