"""Render docs/results.md from the JSON files in benchmarks/results/.

Usage: python benchmarks/report.py

Every number in the page comes from a result file; each table says which command produced it,
when, and on what machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ttzo.bitstream.report import BuildReport, sweep_summary
from ttzo.train.result import TrainingResult

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "results.md"

#: MNIST targets from the issue tracker (fractions) and the paper's numbers.
TARGETS = {
    "mnist_bpfree": ("BP-free, hybrid signRGE -> CGE", 0.966, 7200.0),
    "mnist_firstorder": ("first-order (back-propagation)", 0.971, None),
    "mnist_quick": ("BP-free, quick (`--quick`)", 0.90, 300.0),
    # every forward pass on the accelerator (its bit-exact emulator): no target yet
    "mnist_device_quick": ("BP-free on the device, quick (`--device auto --quick`)", None, None),
}


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _machine(result: dict[str, Any]) -> str:
    m = result.get("machine")
    if not m:
        return "not recorded"
    return f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, " \
           f"NumPy {m['numpy']}"


def _verdict(value: float, target: float, lower_is_better: bool = False) -> str:
    ok = value <= target if lower_is_better else value >= target
    return "met" if ok else "**missed**"


def mnist_section() -> list[str]:
    lines = ["## MNIST, the paper's TT model (784-1024-10, rank 6)", ""]
    rows, notes = [], []
    for name, (label, acc_target, time_target) in TARGETS.items():
        r = _load(name)
        if r is None:
            rows.append(f"| {label} | not run yet | | | | | |")
            continue
        t = TrainingResult.from_dict(r)
        acc = t.test_accuracy
        acc_text = f"{100 * acc:.2f} %" + (
            f" ({_verdict(acc, acc_target)}: >= {100 * acc_target:.1f} %)" if acc_target else "")
        wall = t.wall_time_s
        time_text = f"{wall / 60:.1f} min"
        if time_target is not None:
            time_text += f" ({_verdict(wall, time_target, True)}: <= {time_target / 60:.0f} min)"
        rows.append(
            f"| {label} | {acc_text} | {t.params_tt:,} | {t.params_dense:,} "
            f"({t.params_dense / t.params_tt:.0f}x) | {t.forward_queries:,} | "
            f"{time_text} | {'yes' if t.forward_only else 'no'} |"
        )
        extra = f" Note: {r['note']}." if r.get("note") else ""
        notes.append(f"- {label}: `{t.command}` ({t.date or 'date not recorded'}; "
                     f"{t.epochs} epochs, {t.steps:,} steps; {_machine(r)}).{extra}")
    lines += [
        "| run | test accuracy | trainable params (biases incl.) | dense params | "
        "forward queries | wall time | forward only |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows, "", "Commands:", "", *notes, "",
        "Paper (arXiv 2308.09858): 96.64 % BP-free, 97.16 % first-order.", "",
        "BP-free training curve (signRGE until the validation loss plateaued at epoch 1.75, "
        "then CGE); `docs/img/mnist_bpfree_curve.png`, copied from the run folder:", "",
        "![BP-free MNIST training curve](img/mnist_bpfree_curve.png)", "",
    ]
    return lines


def speed_section() -> list[str]:
    r = _load("mnist_query_speed")
    if r is None:
        return []
    return [
        "## Forward-query speed (paper's MNIST model)", "",
        "One coordinate query = the training-batch loss with one parameter changed. Both paths "
        "timed in the same run on the same batch (medians); their losses agree to "
        f"{r['max_abs_loss_difference']:.1e}.", "",
        "| path | forward queries / s | CGE step, all 3,962 coordinates |",
        "| --- | --- | --- |",
        f"| straightforward (one full forward per query) | {r['naive_queries_per_s']:,.0f} | "
        f"{r['params'] / r['naive_queries_per_s']:.1f} s (extrapolated) |",
        f"| incremental (`CoordinateQueries`) | {r['incremental_queries_per_s']:,.0f} | "
        f"{r['cge_step_all_coordinates_s']:.2f} s |",
        f"| speed-up | **{r['speedup']:.0f}x** | |", "",
        f"signRGE step (N = 10, forward; 11 queries): {1000 * r['signrge_step_s']:.0f} ms. "
        f"Batch {r['batch']}, mu {r['mu']}.", "",
        f"Command: `{r['command']}` ({r['date']}; {_machine(r)})", "",
    ]


def kernels_section() -> list[str]:
    r = _load("forward_kernels")
    if r is None:
        return []
    lines = [
        "## Float forward kernels for TT layers", "",
        "`x @ W.T` for a batch of rows: core-by-core contraction, the train's two halves "
        "multiplied out at the cheapest split (`tt_forward_split`, what the PINN networks use) "
        "and the dense product with the rebuilt weight; medians in one run, "
        f"{r.get('blas_threads') or 'default'} BLAS thread(s). MACs per row in brackets.", "",
        "| model, layer (in -> out modes, ranks) | batch | contract | split | dense |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for k in r["kernels"]:
        cells = []
        for method in ("contract", "split", "dense"):
            seconds, macs = k["seconds"].get(method), k["macs"][method]
            if seconds is None:
                cells.append("-")
                continue
            text = f"{1e3 * seconds:.2f} ms ({macs:,})"
            cells.append(f"**{text}**" if method == k["fastest"] else text)
        lines.append(f"| {k['model']} {k['layer']} ({k['in_modes']} -> {k['out_modes']}, "
                     f"{k['ranks']}) | {k['batch']:,} | " + " | ".join(cells) + " |")
    q = r["hjb_query"]
    lines += ["", f"One HJB fine-tuning query ({q['points']} points x sparse grid = "
              f"{q['evaluations']:,} network evaluations): "
              f"{q['default_chunk']['seconds']:.2f} s in blocks of "
              f"{q['default_chunk']['rows']:,} rows, {q['chunk_32768']['seconds']:.2f} s in "
              "blocks of 32,768.", "",
              f"Command: `{r['command']}` ({r['date']}; {_machine(r)})", ""]
    return lines


def engine_section() -> list[str]:
    r = _load("engine")
    if r is None:
        return []
    lines = [
        "## TT-contraction engine (gateware vs golden model)", "",
        f"{r['vectors_checked']:,} output vectors checked over {r['randomized_cases']} randomized "
        f"cases plus the MNIST layer; **{r['mismatches']} mismatches**.", "",
        "| simulator | cases | vectors | mismatches |", "| --- | --- | --- | --- |",
    ]
    for sim, t in r["per_simulator"].items():
        lines.append(f"| {sim} | {t['cases']} | {t['vectors']:,} | {t['mismatches']} |")
    c = r["mnist_layer1"]
    lines += [
        "", f"MNIST layer 1 (784 -> 1024, {c['macs_per_sample']:,} MACs per sample) with "
        f"{r['lanes']} lanes, Verilator, no stream stalls:", "",
        "| cycles per group (measured) | cycles (model) | MAC-lane utilization |",
        "| --- | --- | --- |",
        f"| {r['cycles_measured']:,} | {r['cycles_model']:,} | {100 * r['utilization']:.2f} % "
        f"({_verdict(r['utilization'], 0.9)}: >= 90 %) |", "",
    ]
    syn = r.get("synthesis_ecp5")
    if syn:
        lines += [f"Yosys `synth_ecp5` of the whole MNIST engine (both layers, {syn['lanes']} "
                  f"lanes) for the {syn['device']}, {syn['synthesis_s']:.0f} s:", "",
                  "| resource | used | available |", "| --- | --- | --- |"]
        for key, used in syn["used"].items():
            lines.append(f"| {key} | {used:,} | {syn['available'][key]:,} |")
        lines.append("")
    lines += [f"Command: `{r['command']}` ({r['date']}; {_machine(r)})", ""]
    return lines


def quantized_section() -> list[str]:
    r = _load("mnist_quantized")
    if r is None:
        return []
    gap = 100 * (r["float_test_accuracy"] - r["test_accuracy"])
    return [
        "## Quantized BP-free MNIST (golden model = accelerator arithmetic)", "",
        "| model | test accuracy |", "| --- | --- |",
        f"| float BP-free | {100 * r['float_test_accuracy']:.2f} % |",
        f"| fixed point, post-training quantization | {100 * r['ptq_test_accuracy']:.2f} % |",
        f"| fixed point, + quantization-aware BP-free fine-tuning ({r['qat_epochs']} epochs, "
        f"{r['qat_forward_queries']:,} queries) | {100 * r['test_accuracy']:.2f} % |", "",
        f"Gap to float: {gap:.2f} points ({_verdict(-abs(gap), -1.0)}: within 1 point). Weights "
        f"{r['weight_bits']} bits, states {r['state_bits']} bits, activations "
        f"{r['activation_bits']} bits (docs/numerics.md).", "",
        f"Command: `{r['command']}` ({r['date']}; {_machine(r)})", "",
    ]


def _build_row(p: dict) -> str:
    return (f"| {p['lanes']} | {p.get('rank', '')} | {p['fmax_mhz']:.1f} | {p['luts_used']:,} | "
            f"{p['dsp_used']} | {p['bram_used']} | {p['forward_queries_per_s']:,.1f} | "
            f"{p['build_time_s'] / 60:.1f} |")


def build_section() -> list[str]:
    lines = []
    r = _load("build_ulx3s_mnist")
    b = BuildReport.from_dict(r) if r is not None else None
    if b is not None:
        est = b.estimate["used"]
        met = b.fmax_mhz >= 100.0
        lines += [
            "## Bitstream: the paper's MNIST accelerator on the ULX3S-85F", "",
            f"`ttzo build` (Yosys + nextpnr-ecp5 from YoWASP), {b.lanes} lanes, "
            f"{b.input_groups} input groups on chip, requested clock "
            f"{b.clock_requested_mhz:g} MHz, place-and-route seed {b.seed}.", "",
            "| | value | target |", "| --- | --- | --- |",
            f"| achieved Fmax | **{b.fmax_mhz:.1f} MHz** | >= 100 MHz "
            f"({_verdict(b.fmax_mhz, 100.0)}) |",
            f"| MAC lanes | {b.lanes} | >= 16 ({_verdict(b.lanes, 16)}) |",
            f"| build time (all steps) | {b.build_time_s / 60:.1f} min | <= 15 min "
            f"({_verdict(b.build_time_s, 900, lower_is_better=True)}) |",
            f"| forward queries/s at min(Fmax, 100 MHz), batch {b.query_batch}"
            f" | {b.forward_queries_per_s:,.1f} ({b.samples_per_s:,.0f} samples/s) | |",
            f"| bitstream | {b.bitstream_bytes:,} bytes | |", "",
            "Estimate (`ttzo estimate`, before synthesis) against the place-and-route report:", "",
            "| resource | estimate | report | available |", "| --- | --- | --- | --- |",
            f"| LUT | {est['LUT']:,} | {b.luts_used:,} | {b.luts_available:,} |",
            f"| FF | {est['FF']:,} | {b.ffs_used:,} | {b.ffs_available:,} |",
            f"| DSP (MULT18X18D) | {est['DSP']} | {b.dsp_used} | {b.dsp_available} |",
            f"| BRAM (DP16KD) | {est['BRAM']} | {b.bram_used} | {b.bram_available} |", "",
            "Steps: " + ", ".join(f"{s['step']} {s['seconds']:.0f} s" for s in b.steps)
            + ".", "",
            *([f"Place and route per seed (the build keeps the fastest): "
               f"{sweep_summary(b.seed_sweep)}.", ""]
              if len(b.seed_sweep) > 1 else []),
            "The LUT estimate counts Yosys LUT4 cells; the report counts nextpnr's logic slots "
            "(TRELLIS_COMB), where every CCU2C carry cell takes two, so the two differ by the "
            "carry chains. DSP and block RAM counts are exact.", "",
            *([r["notes"], ""] if r.get("notes") else []),
            f"Command: `{r['command']}` ({r['date']}; {_machine(r)}); "
            f"{'timing met' if met else 'timing NOT met'}.", "",
        ]
    if b is not None and b.failing_endpoints == 0:
        lines += [
            f"Every endpoint meets the {b.clock_requested_mhz:g} MHz clock in the routed "
            f"design of that build (`--endpoints`, seed {b.seed}): worst setup slack "
            f"{b.worst_slack_ns:+.3f} ns.", ""]
    elif b is not None and b.failing_sources is not None:
        lines += [
            f"Where the {b.clock_requested_mhz:g} MHz clock is missed: every endpoint's setup "
            f"slack from the routed design of that build (`--endpoints`, seed {b.seed}): "
            f"{b.failing_endpoints:,} endpoints fail, worst slack {b.worst_slack_ns} ns. "
            f"By the source line of the endpoint's flip-flop (lines of commit "
            f"{r.get('commit', 'of that date')}):", "",
            "| source | failing endpoints | worst slack ns |", "| --- | ---: | ---: |",
            *[f"| `{g['source']}` | {g['count']:,} | {g['worst_ns']} |"
              for g in b.failing_sources], ""]
    f = _load("build_ulx3s_mnist_static")
    if f is not None:
        lines += [
            "The fast build: the same accelerator placed by nextpnr's static (electrostatic) "
            "placer instead of HeAP and its annealing refinement, for quick iterations:", "",
            "| placer | commit | Fmax MHz | build time (all steps) | target |",
            "| --- | --- | --- | --- | --- |",
            f"| static | {f.get('commit', '')} | {f['fmax_mhz']:.1f} | "
            f"{f['build_time_s'] / 60:.1f} min | <= 15 min "
            f"({_verdict(f['build_time_s'], 900, lower_is_better=True)}) |",
            *([f"| heap (above) | {r.get('commit', '')} | {r['fmax_mhz']:.1f} | "
               f"{r['build_time_s'] / 60:.1f} min | |"] if r is not None else []), "",
            "Steps: " + ", ".join(f"{s['step']} {s['seconds']:.0f} s" for s in f["steps"]) + ".",
            "", *([f["notes"], ""] if f.get("notes") else []),
            f"Command: `{f['command']}` ({f['date']}; {_machine(f)}; commit "
            f"{f.get('commit', 'not recorded')}).", ""]
    sd = _load("build_ulx3s_mnist_seeds")
    if sd is not None:
        by_commit: dict[str, list[float]] = {}
        for run in sd["runs"]:
            by_commit.setdefault(run["commit"], []).append(run["fmax_mhz"])
        lines += [
            "Place-and-route seeds: the same netlist placed with another seed reaches a "
            "different Fmax, by more than a design change of the last rounds moves it:", "",
            "| design (commit) | seed | Fmax MHz | how |", "| --- | ---: | ---: | --- |",
            *[f"| {run['design']} (`{run['commit']}`) | {run['seed']} | {run['fmax_mhz']:.2f} "
              f"| `{run['how']}` |" for run in sd["runs"]], "",
            "Mean over the seeds run: " + "; ".join(
                f"`{c}` {sum(v) / len(v):.1f} MHz ({len(v)} seed{'s' if len(v) > 1 else ''})"
                for c, v in by_commit.items()) + f". {sd['note']} ({sd['date']}; "
            f"{sd['machine']}).", ""]
    d = _load("build_ulx3s_design_space")
    if d is not None:
        points = list(d["points"])
        if r is not None and not any((p["lanes"], p["rank"]) == (16, 6) for p in points):
            points.append({**r, "rank": 6})
        points.sort(key=lambda p: (p["rank"], p["lanes"]))
        lines += ["## Design space on the ULX3S-85F (full builds)", "",
                  "| lanes | TT rank | Fmax MHz | LUT | DSP | BRAM | forward queries/s "
                  "(batch 128) | build min |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for p in points:
            if "error" in p:
                reason = p["error"].split("): ", 1)[-1]
                lines.append(f"| {p['lanes']} | {p['rank']} | refused or failed: {reason} "
                             "| | | | | |")
            else:
                lines.append(_build_row(p))
        stale = r is not None and d["date"] < r["date"]
        lines += ["", f"Queries/s at min(Fmax, requested clock) from the cycle model; builds ran "
                  f"{d['jobs']} at a time (build minutes include that sharing). "
                  f"Command: `{d['command']}` ({d['date']}; {_machine(d)})"
                  + (f". These builds predate the MNIST build above ({r['date']}): the design "
                     "has changed since (docs/engine.md), so their numbers describe the earlier "
                     "design." if stale else ""), ""]
    i = _load("build_icebreaker")
    if i is not None:
        lines += ["## Bitstream: iCEBreaker (iCE40UP5K)", ""]
        fit = i.get("last_fit") if "error" in i else i
        if "error" in i:
            reason = i["error"].split("does not fit icebreaker: ")[-1]
            lines += [f"The current RTL does **not fit** the iCE40UP5K: {reason} "
                      f"(`{i['command']}`, {i['date']}, commit "
                      f"{i.get('commit', 'not recorded')}).", ""]
        if fit is not None:
            lines += [
                f"{'The last build that fitted' if 'error' in i else 'The build'}: model "
                f"`{fit['model']}` ({fit['params']} parameters), lanes: {fit['lanes']}, "
                f"input groups: {fit.get('input_groups', 'not recorded')}, no update unit (the "
                f"host applies updates), requested {fit['clock_requested_mhz']:g} MHz.",
                "", "| Fmax MHz | logic cells | DSP | BRAM | forward queries/s | build s |",
                "| --- | --- | --- | --- | --- | --- |",
                f"| {fit['fmax_mhz']:.1f} ({'met' if fit['timing_met'] else 'NOT met'}) | "
                f"{fit['luts_used']:,} / {fit['luts_available']:,} | {fit['dsp_used']} / "
                f"{fit['dsp_available']} | {fit['bram_used']} / {fit['bram_available']} | "
                f"{fit['forward_queries_per_s']:,.1f} | {fit['build_time_s']:.0f} |", "",
                f"Command: `{fit['command']}` ({fit['date']}; {_machine(fit)}; commit "
                f"{fit.get('commit', 'not recorded')})", ""]
    return lines


def _cell(text: str) -> str:
    """Text for a Markdown table cell (pipes escaped)."""
    return text.replace("|", "\\|")


def _sci(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2e}"


def stein_section() -> list[str]:
    r = _load("stein")
    lines = ["## Stein estimators: sparse grid vs Monte Carlo", ""]
    if r is None:
        return lines + ["Not run yet (`python benchmarks/stein.py`).", ""]
    lines += [
        f"Relative RMS errors of the gradient and Laplacian of the Gaussian smoothing "
        f"(s = {r['sigma']}) at 16 uniform points of the unit cube, against the closed-form "
        f"smoothed derivatives. Test functions: a ridge `sin(a.x)` with `|a| = "
        f"1/{r['length_scale']}` and a radial bump of width {r['length_scale']}. The Laplacian "
        "in both forms of `ttzo.pinn.stein`: Stein weights `(|z|^2 - D) / s^2` on the grid's "
        "points, and the heat-equation difference `(u_{sqrt2 s}(x) - u(x)) / s^2` on the same "
        "grid at radius `sqrt(2) s` (the same number of points; a PINN that needs the gradient "
        "too evaluates both grids, `2 J - 1` points). Monte Carlo: antithetic pairs, both forms, "
        "RMS over 20 seeds. \"MC needs\" is the evaluations Monte Carlo needs for the sparse "
        "grid's error, from its measured `C / sqrt(N)` law (extrapolated beyond the sizes run "
        "where marked *), divided by the grid's evaluations: for the Laplacian, the grid's "
        "better form against Monte Carlo Stein (the issue's comparison), and against the "
        "better of both Monte Carlo forms. Target: at least 10x for every D up to 21.", "",
        "| D | function | level | evaluations | grid grad | grid lap (Stein) | grid lap (heat) "
        "| MC grad | MC lap (Stein) | MC lap (heat) | MC needs (grad) | MC Stein needs (lap) "
        "| best MC needs (lap) | 10x vs MC Stein | 10x vs best MC |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in r["rows"]:
        star = "*" if row["extrapolated"] else ""
        lap_vs_stein = max(row["ratio_lap"], row["ratio_lap_heat"])
        lines.append(
            f"| {row['dim']} | `{_cell(row['function'])}` | {row['level']} | "
            f"{row['sparse_grid_evaluations']:,} | {_sci(row['sparse_grid_grad_error'])} | "
            f"{_sci(row['sparse_grid_lap_error'])} | {_sci(row['sparse_grid_heat_lap_error'])} | "
            f"{_sci(row['mc_equal_evaluations_grad_error'])} | "
            f"{_sci(row['mc_equal_evaluations_lap_error'])} | "
            f"{_sci(row['mc_equal_evaluations_heat_lap_error'])} | "
            f"{row['ratio_grad']:.3g}x{star} | {lap_vs_stein:.3g}x{star} | "
            f"{row['ratio_lap_vs_best_mc']:.3g}x{star} | "
            f"{'met' if row['met'] else '**missed**'} | "
            f"{'met' if row['met_vs_best_mc'] else '**missed**'} |")

    def verdict(key: str) -> str:
        misses = sorted({(b["dim"], b["function"]) for b in r["best_level_ratio"]
                         if b[key] < r["target_ratio"]})
        return ("met for every dimension and function" if not misses else
                "**missed** for " + ", ".join(f"D = {d} `{_cell(f)}`" for d, f in misses)
                + " even at the better of levels 3 and 4")

    hard = max((row for row in r["rows"] if row["level"] == 3 and "exp" in row["function"]),
               key=lambda row: row["dim"])  # the hardest case: the bump in the most dimensions
    mc_gain = hard["mc_equal_evaluations_lap_error"] / hard["mc_equal_evaluations_heat_lap_error"]
    lines += ["", f"Target (sparse grid >= 10x fewer evaluations than Monte Carlo Stein for the "
              f"same accuracy, D up to 21): {verdict('ratio')}. Against the better Monte Carlo "
              f"Laplacian (its heat form): {verdict('ratio_vs_best_mc')}. The Stein-weight "
              "Laplacian on the grid meets the fourth-order Taylor terms (the weights add two "
              "degrees to what the rule must integrate), and on the radial bump their error "
              "grows with the number of coordinate pairs: "
              f"{hard['sparse_grid_lap_error']:.3g} relative at D = {hard['dim']}, level 3. The "
              "heat form needs only smoothed values, which the grid integrates two degrees "
              f"further; its error there is {hard['sparse_grid_heat_lap_error']:.2g}, "
              f"{hard['sparse_grid_lap_error'] / hard['sparse_grid_heat_lap_error']:.0f}x "
              "smaller at the same evaluations, and on the ridge function it reaches the form's "
              "own `s^4 lap^3 u / 24` floor. The heat form helps Monte Carlo as much ("
              f"{mc_gain:.0f}x on the bump at D = {hard['dim']}), and against it the grid on "
              f"the bump at D = {hard['dim']} is only about as good (level 4 is held at that "
              "floor).", "",
              f"Command: `{r['command']}` ({r['date']}; {_machine(r)})", ""]
    return lines


_PINN_METHODS = {
    "firstorder-autodiff": "first-order, autodiff derivatives",
    "firstorder-sparse-grid": "first-order, sparse-grid Stein derivatives",
    "bpfree-sparse-grid": "BP-free (ZO), sparse-grid Stein derivatives",
    "zo-autodiff": "ZO optimizer, exact derivatives (diagnostic)",
    "bpfree-sparse-grid-finetune": "BP-free, then a 100-point fine-tuning phase (totals of both)",
    "bpfree-sparse-grid-polish":
        "BP-free, fine-tuning, then a lower-rate phase (totals of all three)",
    "bpfree-monte-carlo": "BP-free (ZO), Monte Carlo Stein derivatives, heat-form Laplacian",
    "bpfree-sparse-grid-polish2":
        "BP-free, the three phases above, then 20 directions per step (totals of all four)",
}


def link_section() -> list[str]:
    r = _load("link_faults")
    lines = ["## Host link under faults", ""]
    if r is None:
        return lines + ["Not run yet (`python benchmarks/link_faults.py`).", ""]
    lines += [
        f"Sessions of every command (parameter writes and reads, input loads, EVALs in every "
        f"perturbation mode, {r['runs'][0]['updates'] // r['runs'][0]['sessions']} UPDATEs each "
        f"read back) on the {r['board']} MNIST accelerator ({r['lanes']} lanes, "
        f"{r['max_data']}-byte frames), emulated behind a line that corrupts, drops and "
        f"duplicates bytes at the given rate and loses and duplicates "
        f"{r['frame_faults']:.0%} of frames, both ways; the driver's default settings "
        "throughout. Results are compared with the golden model. Link time is the emulator "
        "link's clock at the board's UART rate: bytes on the line plus timeouts (device "
        "compute not counted). Targets: every run completes, 0 mismatches, 0 lost or doubled "
        "UPDATEs, 0 undetected corruptions (docs/protocol.md).",
        "",
        "| byte faults | commands | faults | retransmissions | timeouts | mismatches "
        "| lost / doubled UPDATEs | undetected | link time | throughput vs fault-free |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for run in r["runs"]:
        lines.append(
            f"| {run['byte_fault_rate']:.1%} | {run['commands']:,} | {run['faults']:,} | "
            f"{run['retransmissions']:,} | {run['driver']['timeouts']:,} | {run['mismatches']} | "
            f"{run['lost_updates']} / {run['doubled_updates']} | "
            f"{run['undetected_corruptions']} | {run['board_link_s']:,.1f} s | "
            f"{run['throughput_vs_fault_free']:.3g}x |")
    fuzz = r["fuzz_emulator"]
    lines += ["", f"Fuzzing: {fuzz['frames']:,} frames into the emulator: {fuzz['crashes']} "
              f"crashes, {fuzz['undecodable_replies']} undecodable replies, "
              f"{fuzz['state_changes_from_refused_frames']} state changes from refused frames "
              f"({fuzz['wall_s']:.0f} s; verdicts " + ", ".join(
                  f"{k} {v:,}" for k, v in sorted(fuzz["replies"].items())) + ")."]
    rtl = r.get("fuzz_gateware")
    if rtl:
        lines += [f"{rtl['frames']:,} frames into the accelerator RTL on "
                  f"{rtl['simulator'].capitalize()} (a two-lane build: the same frame parser and "
                  f"command table), every reply compared with the emulator's byte for byte: "
                  f"{rtl['mismatches']} mismatches ({rtl['cycles']:,} cycles)."]
    lines += ["", f"Command: `{r['command'].strip()}` ({r['date']}; {_machine(r)}; "
              f"commit {r.get('commit', '?')})", ""]
    return lines


def pinn_section() -> list[str]:
    r = _load("pinn")
    lines = ["## Physics-informed training (PINNs)", ""]
    if r is None:
        return lines + ["Not run yet (`python benchmarks/pinn.py`).", ""]
    lines += [
        "Relative L2 error of the network's solution on 10,000 uniform test points. Forward "
        "queries are loss evaluations (a first-order step counts one); each query evaluates "
        "the network at every stencil point of its collocation batch (925 per point for the "
        "21-D sparse grid, 13 in 2-D). Wall times are single runs; these runs were made while "
        "bitstream builds and the other runs shared the two cores, so they are upper bounds. "
        "All HJB runs start from the same network with a zero output layer (`docs/pinn.md`). "
        "First-order steps count one query each, so queries are comparable only between ZO "
        "rows.",
        "",
        "| problem | method | rel. L2 error | target | steps | forward queries | wall time "
        "| forward only |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for e in r["entries"]:
        target = e.get("target_rel_l2")
        verdict = "" if target is None else (
            f"{'met' if e['met'] else '**missed**'}: <= {target:g}"
            if e.get("finished", True) or e["met"] else
            f"not yet (run unfinished at {'fine-tuning ' if 'finetune_steps' in e else ''}"
            f"step {e.get('finetune_steps', e['steps']):,}): <= {target:g}")
        lines.append(
            f"| {e['problem']} | {_PINN_METHODS.get(e['method'], e['method'])} | "
            f"{_sci(e['rel_l2'])} | {verdict} | {e['steps']:,} | {e['forward_queries']:,} | "
            f"{e['wall_time_s'] / 60:.1f} min | {'yes' if e['forward_only'] else 'no'} |")
    for image, caption in (("hjb20_bpfree_curve.png", "BP-free HJB-20d training curve"),
                           ("poisson2d_bpfree_slice.png", "BP-free Poisson-2D solution and error")):
        if (ROOT / "docs" / "img" / image).is_file():
            lines += ["", f"![{caption}](img/{image})"]
    lines += ["", "Commands (one `ttzo train` per row, run by `python benchmarks/pinn.py`):", ""]
    lines += [f"- `{e['command']}`" for e in r["entries"]]
    lines += ["", f"({r['date']}; {_machine(r)})", ""]
    return lines


def main() -> int:
    lines = [
        "# Results", "",
        "Generated by `python benchmarks/report.py` from `benchmarks/results/*.json`; do not "
        "edit by hand. Timings are wall-clock medians or single runs as stated, on the machine "
        "named with each result.", "",
        *mnist_section(), *speed_section(), *kernels_section(), *quantized_section(),
        *engine_section(), *build_section(), *link_section(), *stein_section(),
        *pinn_section(),
    ]
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
