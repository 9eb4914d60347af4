"""The ``ttzo`` command line."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _positive_int(text: str) -> int:
    """argparse type: an integer of at least 1 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    """argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, not {text!r}")
    return value


def _parse_value(text: str) -> Any:
    """``--set`` values: JSON where it parses (numbers, booleans, lists), a string otherwise."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE (e.g. train.epochs=3), not {item!r}")
        out[key] = _parse_value(value)
    if args.epochs is not None:
        out["train.epochs"] = args.epochs
    if args.seed is not None:
        out["seed"] = args.seed
    return out


def _config_name(args: argparse.Namespace) -> str:
    if args.first_order and args.quick:
        raise ValueError("--quick and --first-order cannot be combined; pass --config instead")
    if args.first_order:
        if args.device:
            raise ValueError("--first-order back-propagates on the host; it cannot run on --device")
        return f"{args.task}_firstorder"
    name = f"{args.task}_device" if args.device else args.task
    return f"{name}_quick" if args.quick else name


def _default_run_dir(base: Path, reuse: bool) -> Path:
    """``base``, or ``base-2``, ``base-3``, ...: the newest one to resume or overwrite,
    otherwise the first that holds no run yet, so repeating a command never clobbers a run."""
    candidates = [base] + [base.with_name(f"{base.name}-{i}") for i in range(2, 1000)]
    existing = [c for c in candidates if (c / "checkpoint.npz").exists()]
    if reuse:
        return existing[-1] if existing else base
    return next(c for c in candidates if not (c / "checkpoint.npz").exists())


def cmd_train(args: argparse.Namespace) -> int:
    # Imports here keep `ttzo --help` fast.
    from tqdm import tqdm

    from ttzo.train.config import builtin_config, load_config
    from ttzo.train.loop import Trainer
    from ttzo.train.metrics import read_metrics
    from ttzo.train.plot import plot_training_curve
    from ttzo.train.result import TrainingResult

    from .provenance import machine, utc_now

    config_path = Path(args.config) if args.config else builtin_config(_config_name(args))
    cfg = load_config(config_path, _overrides(args))
    run_dir = Path(args.run_dir) if args.run_dir else _default_run_dir(
        Path("runs") / f"{config_path.stem}-seed{cfg.seed}", args.resume or args.overwrite)
    if not args.resume and (run_dir / "checkpoint.npz").exists() and not args.overwrite:
        raise ValueError(
            f"{run_dir} already holds a run; pass --resume to continue it, --overwrite to start "
            "again, or --run-dir to choose another folder"
        )
    task, unit = _make_task(args, cfg)
    model = task.model
    total = int(cfg.epochs * task.n_train)
    bar = tqdm(total=total, unit=unit, unit_scale=True, disable=args.no_progress,
               desc=f"{config_path.stem}", dynamic_ncols=True)

    def progress(done: int, postfix: dict[str, Any]) -> None:
        bar.update(min(done, total) - bar.n)
        bar.set_postfix(postfix, refresh=False)

    trainer = Trainer(task, cfg.build_phases(model.dim), cfg.epochs, seed=cfg.seed,
                      evals_per_epoch=cfg.evals_per_epoch, run_dir=run_dir,
                      fingerprint=cfg.raw, progress=progress, workers=args.workers)
    init_from = trainer.warm_start(args.init_from) if args.init_from else None
    started = time.perf_counter()
    last = trainer.run(resume=args.resume, stop_after_steps=args.max_steps)
    bar.close()
    records = read_metrics(trainer.metrics_path)
    if records:  # a run stopped before its first evaluation has nothing to plot yet
        plot_training_curve(records, run_dir / "training_curve.png", title=config_path.stem)
    result = TrainingResult(
        task=args.task, config=config_path.stem,
        **({"test_accuracy": last.get("test_accuracy"), "val_accuracy": last.get("val_accuracy")}
           if args.task == "mnist" else
           {"test_rel_l2": last.get("test_rel_l2"), "val_loss": last.get("val_loss"),
            "derivatives": cfg.pinn.derivatives}),
        params_tt=cfg.model.params, params_dense=cfg.model.dense_params,
        compression=round(cfg.model.compression, 2), forward_queries=trainer.state.queries,
        **({"init_from": {"checkpoint": str(args.init_from), **init_from},
            "total_forward_queries": init_from["queries"] + trainer.state.queries,
            "total_steps": init_from["steps"] + trainer.state.step,
            "total_wall_time_s": round(init_from["wall_time_s"] + trainer.state.elapsed_s, 1)}
           if init_from else {}),
        steps=trainer.state.step, epochs=round(trainer.progress_epochs(), 4),
        wall_time_s=round(trainer.state.elapsed_s, 1),
        session_time_s=round(time.perf_counter() - started, 1), seed=cfg.seed,
        command="ttzo " + " ".join(shlex.quote(a) for a in args.argv),
        forward_only=cfg.forward_only and getattr(task, "forward_only_derivatives", True),
        phase_switches=trainer.state.phase_switches,
        **(task.session.summary() if args.device else {}),
        finished=trainer.progress_epochs() >= cfg.epochs - 1e-9,
        date=utc_now(), machine=machine(),
    )
    result.write(run_dir / "result.json")
    if args.result_json:
        result.write(Path(args.result_json))
    if args.task != "mnist" and records:
        from ttzo.train.plot import plot_solution_slice

        plot_solution_slice(task, trainer.theta, run_dir / "solution_slice.png")
    print(f"{config_path.stem}: {result.metric_text()} after "
          f"{result.epochs} epochs, {result.forward_queries:,} forward queries, "
          f"{result.wall_time_s:.0f} s; run folder {run_dir}")
    return 0


def _make_task(args: argparse.Namespace, cfg):
    """The task a config trains, and the unit its progress bar counts."""
    from ttzo.model.mlp import TTMLP

    if args.task == "mnist":
        from ttzo.data.mnist import load_mnist
        from ttzo.tasks.mnist import MNISTTask

        if cfg.pinn is not None:
            raise ValueError("an MNIST config has no [pinn] table")
        if args.device:
            return _device_task(args, cfg), "img"
        model = TTMLP(cfg.model)
        return MNISTTask(model, load_mnist(args.data), val_size=cfg.val_size,
                         incremental=cfg.incremental), "img"
    from ttzo.tasks.pde import PDETask

    if args.device:
        raise ValueError(f"--device trains MNIST only: {args.task} has no accelerator build")
    if cfg.pinn is None:
        raise ValueError(f"training {args.task} needs a config with a [pinn] table")
    if cfg.pinn.problem != args.task:
        raise ValueError(f"the config solves {cfg.pinn.problem!r}, not {args.task!r}")
    # Rank-2 TT layers over thousands of stencil points run faster as dense products.
    return PDETask(TTMLP(cfg.model, dense_products=True), cfg.pinn, seed=cfg.seed), "pt"


def _device_task(args: argparse.Namespace, cfg):
    """MNIST with every forward pass on a device: a board's serial port or the emulator."""
    from ttzo.data.mnist import load_mnist
    from ttzo.driver.connect import open_device
    from ttzo.driver.objective import DeviceSession
    from ttzo.golden.model import GoldenModel
    from ttzo.golden.objective import device_kind
    from ttzo.spec.boards import get_board
    from ttzo.tasks.mnist import DeviceMNISTTask

    if args.workers != 1:
        raise ValueError("--workers shares queries among processes; a device serves one host "
                         "process (leave --workers at 1 with --device)")
    for phase in cfg.build_phases(cfg.model.params):
        generator = getattr(phase.estimator, "generator", None)
        if generator is not None and device_kind(generator) is None:
            raise ValueError(
                f"phase {phase.name!r} draws {generator.name!r} directions, which the device "
                "cannot: its estimator needs directions = \"device-rademacher\" or "
                "\"device-gauss\" (see configs/mnist_device_quick.toml)")
    board = get_board(args.board)
    config = board.device_config(cfg.model)
    device, where = open_device(args.device, config, board["baud"], board["usb_ids"])
    print(f"training on the device: {where} (the {board.name} accelerator: {config.lanes} lanes, "
          f"{config.lanes * config.input_groups} samples on chip)", flush=True)
    return DeviceMNISTTask(DeviceSession(device, name=where), GoldenModel(cfg.model),
                           load_mnist(args.data), val_size=cfg.val_size)


def _load_model(name: str):
    """A model by shipped name, model file, or training config holding a model."""
    import tomllib

    from ttzo.spec.model import ModelSpec
    from ttzo.train.config import load_model_file

    data = load_model_file(name)
    if "layers" not in data and "model" in data:  # a training config
        model = data["model"]
        data = load_model_file(model, Path(name).parent) if isinstance(model, str) else model
    try:
        return ModelSpec.from_dict(data)
    except (ValueError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"model {name!r}: {err}") from None


def _device_config(args: argparse.Namespace, board):
    """The accelerator to estimate or build: board defaults, then command-line choices."""
    return board.device_config(_load_model(args.model or board["model"]), lanes=args.lanes,
                               input_groups=args.input_groups)


def cmd_estimate(args: argparse.Namespace) -> int:
    from ttzo.spec.boards import get_board

    from .estimate import estimate

    board = get_board(args.board)
    config = _device_config(args, board)
    spec = config.spec
    est = estimate(spec, config.lanes, args.board, args.clock_mhz or board["clock_mhz"],
                   args.batch, config=config)
    if args.json:
        print(json.dumps(est.to_dict(), indent=2))
        return 0
    print(f"{spec.name} on {est.board} ({est.part}), {est.lanes} lanes per layer, "
          f"{est.clock_mhz:g} MHz")
    print(f"{'resource':10} {'estimate':>10} {'available':>10}")
    for key, used in est.used.items():
        flag = "  EXCEEDED" if key in est.exceeded else ""
        print(f"{key:10} {used:>10,} {est.available[key]:>10,}{flag}")
    for index, (cycles, util) in enumerate(zip(est.layer_cycles, est.layer_utilization)):
        print(f"layer {index}: {cycles:,} cycles per group of {est.lanes} samples, "
              f"MAC-lane utilization {100 * util:.2f} %")
    print(f"throughput: {est.samples_per_s:,.0f} samples/s; "
          f"{est.forward_queries_per_s:,.1f} forward queries/s at batch {est.batch}")
    return 0 if est.fits else 3


def cmd_build(args: argparse.Namespace) -> int:
    from ttzo.bitstream.flow import PLACERS, BuildError, build, sweep_summary
    from ttzo.spec.boards import get_board

    board = get_board(args.board)
    config = _device_config(args, board)
    clock = args.clock_mhz or board["clock_mhz"]
    out = Path(args.out or f"builds/{board.name}-{config.spec.name}-{config.lanes}l")
    try:
        result = build(board, config, out, clock, args.baud or board["baud"], seed=args.seed,
                       endpoints=args.endpoints, jobs=args.jobs,
                       placer=args.placer or PLACERS[0], dry_run=args.dry_run,
                       module_stats=args.module_stats)
    except BuildError as err:
        print(f"ttzo: error: {err}", file=sys.stderr)
        return 3 if err.step == "estimate" else 1
    except ValueError as err:
        print(f"ttzo: error: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"build plan for {board.name} in {out} (run {out / result.script} to build it "
              "with the tools on PATH)")
        if args.module_stats:
            _print_module_stats(out / "module_stats.json")
        return 0
    rep = result.report
    if len(rep.seed_sweep) > 1:
        print(f"place and route per seed: {sweep_summary(rep.seed_sweep)}; kept seed {rep.seed}")
    print(f"bitstream: {result.bitstream} ({rep.bitstream_bytes:,} bytes)")
    print(f"Fmax {rep.fmax_mhz} MHz (requested {rep.clock_requested_mhz} MHz, timing "
          f"{'met' if rep.timing_met else 'NOT met'}); LUT {rep.luts_used:,}/"
          f"{rep.luts_available:,}, DSP {rep.dsp_used}/{rep.dsp_available}, "
          f"BRAM {rep.bram_used}/{rep.bram_available}; {rep.build_time_s} s")
    if rep.failing_endpoints is not None:
        print(f"{rep.failing_endpoints} endpoints fail at {clock} MHz; most by source line:")
        for g in (rep.failing_sources or [])[:6]:
            print(f"  {g['source']:<28} {g['count']:6d} endpoints, worst {g['worst_ns']:+.2f} ns")
    if args.module_stats:
        _print_module_stats(out / "module_stats.json")
    print(f"report: {out / 'build_report.md'}")
    if args.report_json:
        Path(args.report_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report_json).write_text(json.dumps(rep.to_dict(), indent=2) + "\n")
    return 0 if rep.timing_met or not args.require_timing else 4


def program_command(board, bitstream: Path) -> list[str]:
    """The openFPGALoader command that loads ``bitstream`` into ``board``'s FPGA (SRAM)."""
    return ["openFPGALoader", "-b", board["programmer_board"], str(bitstream)]


def _print_module_stats(path: Path, top: int = 12) -> None:
    """The largest modules of a ``module_stats.json``, one line each."""
    rows = json.loads(path.read_text())
    print(f"largest modules (own cells; all in {path}):")
    for r in rows[:top]:
        print(f"  {r['module']:<44} LUT {r['LUT']:6,}  FF {r['FF']:6,}  carry {r['carry']:5,}"
              f"  DSP {r['DSP']:3}  BRAM {r['BRAM']:3}")


def cmd_program(args: argparse.Namespace) -> int:
    import shlex
    import shutil
    import subprocess

    from ttzo.spec.boards import get_board

    board = get_board(args.board)
    bitstream = Path(args.bitstream)
    if not bitstream.is_file():
        raise ValueError(f"bitstream {str(bitstream)!r} does not exist; run ttzo build first")
    cmd = program_command(board, bitstream)
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    if shutil.which(cmd[0]) is None:
        raise ValueError("openFPGALoader is not installed (Debian/Ubuntu: "
                         "sudo apt-get install openfpgaloader)")
    return subprocess.run(cmd).returncode


def build_parser() -> argparse.ArgumentParser:
    from ttzo.spec.boards import BOARDS

    board_help = f"board: {', '.join(BOARDS)} (default ulx3s-85f; see constraints/)"
    parser = argparse.ArgumentParser(
        prog="ttzo", description="Tensor-compressed, back-propagation-free training.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model BP-free (or first-order, for comparison)")
    train.add_argument("task", choices=["mnist", "hjb20", "poisson2d", "heat100"],
                       help="what to train: MNIST classification or a PDE (physics-informed)")
    train.add_argument("--config", help="TOML config (default: the built-in one for the task)")
    train.add_argument("--quick", action="store_true", help="short run (a few minutes)")
    train.add_argument("--first-order", action="store_true",
                       help="first-order (back-propagation) baseline on the same model")
    train.add_argument("--epochs", type=_positive_float, help="override train.epochs")
    train.add_argument("--seed", type=int, help="override the seed")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config value by dotted path, e.g. "
                            "--set train.evals_per_epoch=4 or --set phases.1.lr=0.002")
    train.add_argument("--run-dir", help="folder for checkpoint, metrics, plot and result")
    train.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    train.add_argument("--init-from", metavar="CHECKPOINT",
                       help="start from the parameters of another run's checkpoint.npz "
                       "(fine-tuning; the optimizer starts afresh)")
    train.add_argument("--overwrite", action="store_true", help="start over in an existing run dir")
    train.add_argument("--max-steps", type=_positive_int,
                       help="stop (checkpointed) after this many steps")
    train.add_argument("--workers", type=_positive_int, default=1,
                       help="processes sharing each step's random-direction queries (same "
                            "results; e.g. 2 on two cores for the PDE runs)")
    train.add_argument("--device", metavar="TARGET",
                       help="MNIST: run every forward pass on an accelerator: 'emulator' (the "
                            "bit-exact emulator), 'sim' (the gateware in simulation: slow), "
                            "'auto' (an attached board, else the emulator) or a serial port "
                            "such as /dev/ttyUSB0")
    train.add_argument("--board", default="ulx3s-85f",
                       help="with --device: the board whose accelerator configuration to use")
    train.add_argument("--data", help="folder with the MNIST files (default: search, download)")
    train.add_argument("--result-json", help="also write the result summary here")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    def accelerator_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--board", default="ulx3s-85f", help=board_help)
        p.add_argument("--model", help="shipped model name, model file or training config "
                                       "(default: the board's, see constraints/)")
        p.add_argument("--lanes", type=_positive_int,
                       help="MAC lanes per layer (default: the board's)")
        p.add_argument("--input-groups", type=_positive_int,
                       help="groups of lanes samples held on chip (default: the board's)")
        p.add_argument("--clock-mhz", type=_positive_float,
                       help="system clock (default: the board's)")

    est = sub.add_parser("estimate", help="analytic resources and cycles before synthesis")
    accelerator_options(est)
    est.add_argument("--batch", type=_positive_int, default=128,
                     help="samples per forward query")
    est.add_argument("--json", action="store_true", help="machine-readable output")
    est.set_defaults(func=cmd_estimate)

    bld = sub.add_parser("build", help="bitstream with open tools (YoWASP), with reports")
    accelerator_options(bld)
    bld.add_argument("--baud", type=_positive_int, help="UART rate (default: the board's)")
    bld.add_argument("--seed", type=int, nargs="+", default=[1],
                     help="place-and-route seed; with several, one place and route per seed "
                          "and the build keeps the highest Fmax")
    bld.add_argument("--jobs", type=_positive_int, default=1,
                     help="place-and-route seeds run in parallel (default 1)")
    bld.add_argument("--out", help="build folder (default: builds/<board>-<model>-<lanes>l)")
    bld.add_argument("--report-json", help="also write the build report here")
    bld.add_argument("--require-timing", action="store_true",
                     help="exit with code 4 when the requested clock is not met")
    bld.add_argument("--placer",
                     help="nextpnr placer: heap (default, highest Fmax) or static (places "
                          "several times faster, lower Fmax; for quick iterations)")
    bld.add_argument("--dry-run", action="store_true",
                     help="estimate and elaborate only: write the build plan (RTLIL, "
                          "constraints, tool script) and estimate.json, run no tools")
    bld.add_argument("--module-stats", action="store_true",
                     help="also synthesize with the hierarchy kept and report each module's "
                          "LUTs, flip-flops, carry cells, DSPs and block RAMs (with --dry-run: "
                          "only that)")
    bld.add_argument("--endpoints", action="store_true",
                     help="check every endpoint against the clock (endpoints.txt; the report "
                          "groups the failing ones by design hierarchy and source line)")
    bld.set_defaults(func=cmd_build)

    prog = sub.add_parser("program", help="load a bitstream through openFPGALoader")
    prog.add_argument("--board", default="ulx3s-85f", help=board_help)
    prog.add_argument("--bitstream", required=True, help="the .bit/.bin from ttzo build")
    prog.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    prog.set_defaults(func=cmd_program)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (ValueError, OSError, RuntimeError) as err:
        print(f"ttzo: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ttzo: interrupted; the last checkpoint is intact (use --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
