"""Per-module resources (ttzo.bitstream.stats): Yosys's stat output read back, and the
``--module-stats`` build step on a real design."""

from __future__ import annotations

import json

from ttzo.bitstream.stats import WHOLE_DESIGN, module_cells, module_resources, stats_script
from ttzo.cli import main

STAT = """
3. Printing statistics.

=== top ===

        +----------Local Count, excluding submodules.
        |
       87 wires
       81 cells
       22   SB_CARRY
        1   SB_DFFER
       24   SB_DFFR
       34   SB_LUT4
        2 submodules
        1   top.a
        1   top.b

=== top.a ===

        +----------Local Count, excluding submodules.
        |
       10 wires
       12 cells
        5   SB_LUT4
        4   SB_DFF
        2   SB_MAC16
        1   SB_RAM40_4K

=== design hierarchy ===

        +----------Count including submodules.
        |
       93 cells
       22   SB_CARRY
       39   SB_LUT4
"""


def test_stat_output_is_read_per_module():
    cells = module_cells(STAT)
    assert cells["top"] == {"SB_CARRY": 22, "SB_DFFER": 1, "SB_DFFR": 24, "SB_LUT4": 34}
    assert cells["top.a"] == {"SB_LUT4": 5, "SB_DFF": 4, "SB_MAC16": 2, "SB_RAM40_4K": 1}
    rows = {r["module"]: r for r in module_resources(STAT, "SB_MAC16", "SB_RAM40_4K")}
    assert rows["top"] == {"module": "top", "LUT": 34, "FF": 25, "carry": 22, "DSP": 0,
                           "BRAM": 0}
    assert rows["top.a"]["DSP"] == 2 and rows["top.a"]["BRAM"] == 1
    assert rows[WHOLE_DESIGN]["LUT"] == 39


def test_stats_script_keeps_the_hierarchy_and_writes_stat():
    plan = ("read_rtlil ttzo.il\nrename -unescape w:*[[]*\n    synth_ecp5  -top ttzo\n"
            "write_json ttzo.json")
    script = stats_script(plan)
    assert "synth_ecp5  -noflatten -top ttzo" in script
    assert "write_json" not in script and script.rstrip().endswith("stat")


def test_dry_run_with_module_stats_adds_up(tmp_path, capsys):
    """The iCEBreaker's design per module: every module's own LUTs add up to Yosys's total,
    and the RNG is among the largest."""
    assert main(["build", "--board", "icebreaker", "--dry-run", "--module-stats",
                 "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "module_stats.json").read_text())
    total = next(r for r in rows if r["module"] == WHOLE_DESIGN)
    parts = [r for r in rows if r["module"] != WHOLE_DESIGN]
    for kind in ("LUT", "FF", "carry", "DSP", "BRAM"):
        assert sum(r[kind] for r in parts) == total[kind], kind
    assert any(r["module"].endswith("rng_w") and r["LUT"] > 500 for r in parts[:3])
    assert not (tmp_path / "ttzo.json").exists()  # no netlist: nothing else ran
    assert "largest modules" in capsys.readouterr().out


def test_report_lists_the_largest_modules():
    from ttzo.bitstream.report import BuildReport

    required = {"model": "m", "lanes": 1, "input_groups": 1, "params": 10,
                "clock_requested_mhz": 20.0, "fmax_mhz": 21.0, "timing_met": True, "seed": 1,
                "seed_sweep": [], "luts_used": 1, "luts_available": 2, "dsp_used": 0,
                "dsp_available": 8, "bram_used": 1, "bram_available": 30,
                "estimate": {"used": {}}, "cycles_per_group": 1, "forward_queries_per_s": 1.0,
                "query_batch": 1, "samples_per_s": 1.0, "build_time_s": 1.0, "steps": [],
                "bitstream_bytes": 1, "tools": {}}
    plain = BuildReport.from_dict(required)
    assert "module_stats" not in plain.to_dict() and "Largest modules" not in plain.markdown()
    rows = module_resources(STAT, "SB_MAC16", "SB_RAM40_4K")
    with_stats = BuildReport.from_dict({**required, "module_stats": rows})
    assert "| `top.a` | 5 | 4 | 0 | 2 | 1 |" in with_stats.markdown()
