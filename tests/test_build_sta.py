"""Endpoint slacks from an SDF (ttzo.bitstream.sta) against hand-computed arrival times."""

from __future__ import annotations

import pytest

from ttzo.bitstream.sta import by_source, endpoint_slacks, summarize

# Two flip-flops launch (clock-to-out 500 ps); a LUT combines them (200 ps from A, 300 ps from
# B); a block RAM launches too (900 ps). Routes: ff_a -> lut.A 1000, ff_b -> lut.B 4000,
# lut -> ff_c.DI 600, ram -> ff_d.DI 2000, and a combinational loop lut2.Z -> lut2.A.
SDF = r"""(DELAYFILE
  (SDFVERSION "3.0")
  (TIMESCALE 1ps)
  (CELL
    (CELLTYPE "top")
    (INSTANCE )
    (DELAY
      (ABSOLUTE
        (INTERCONNECT a.ff_a/Q a.lut/A (900:950:1000) (900:950:1000))
        (INTERCONNECT a.ff_b/Q a.lut/B (3000:3500:4000) (3000:3500:4000))
        (INTERCONNECT a.lut/Z b.ff_c/DI (600:600:600) (600:600:600))
        (INTERCONNECT r.ram/DOB3 b.ff_d/DI (2000:2000:2000) (2000:2000:2000))
        (INTERCONNECT c.lut2/Z c.lut2/A (100:100:100) (100:100:100))
        (INTERCONNECT c.lut2/Z c.ff_e/DI (100:100:100) (100:100:100))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE a.ff_a)
    (DELAY
      (ABSOLUTE
        (IOPATH CLK Q (400:450:500) (400:450:500))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE a.ff_b)
    (DELAY
      (ABSOLUTE
        (IOPATH CLK Q (400:450:500) (400:450:500))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_COMB")
    (INSTANCE a.lut)
    (DELAY
      (ABSOLUTE
        (IOPATH A Z (200:200:200) (200:200:200))
        (IOPATH B Z (300:300:300) (300:300:300))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_COMB")
    (INSTANCE c.lut2)
    (DELAY
      (ABSOLUTE
        (IOPATH A Z (200:200:200) (200:200:200))
      )
    )
  )
  (CELL
    (CELLTYPE "DP16KD")
    (INSTANCE r.ram)
    (DELAY
      (ABSOLUTE
        (IOPATH CLKB DOB3 (800:850:900) (800:850:900))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE b.ff_c)
    (TIMINGCHECK
      (SETUPHOLD (posedge DI) (posedge CLK) (250:275:300) (0:0:0))
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE b.ff_d)
    (TIMINGCHECK
      (SETUPHOLD (posedge DI) (posedge CLK) (100:100:100) (0:0:0))
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE c.ff_e)
    (TIMINGCHECK
      (SETUPHOLD (posedge DI) (posedge CLK) (100:100:100) (0:0:0))
    )
  )
)
"""


def test_slacks_follow_the_latest_path(tmp_path):
    sdf = tmp_path / "t.sdf"
    sdf.write_text(SDF)
    ends = {e.pin: e for e in endpoint_slacks(sdf, period_ns=5.0)}
    # ff_c: via B, 500 + 4000 + 300 + 600 = 5400 ps, setup 300 (the maximum): slack -0.7 ns
    # (SDF SETUPHOLD: setup first, then hold)
    assert ends["b.ff_c/DI"].slack_ns == pytest.approx(5.0 - 5.7)
    assert ends["b.ff_c/DI"].start == "a.ff_b/Q"
    # ff_d: 900 + 2000 + 100 setup = 3.0 ns
    assert ends["b.ff_d/DI"].slack_ns == pytest.approx(2.0)
    # ff_e sits behind a loop that no clocked output reaches: no path, no endpoint
    assert "c.ff_e/DI" not in ends
    assert [e.pin for e in endpoint_slacks(sdf, 5.0)] == ["b.ff_c/DI", "b.ff_d/DI"]


def test_summary_groups_failing_endpoints(tmp_path):
    sdf = tmp_path / "t.sdf"
    sdf.write_text(SDF)
    groups = summarize(endpoint_slacks(sdf, period_ns=2.5), depth=1)
    assert [(g["group"], g["count"]) for g in groups] == [("b", 2)]
    assert groups[0]["worst_ns"] == pytest.approx(2.5 - 5.7)
    assert summarize(endpoint_slacks(sdf, period_ns=10.0)) == []


def test_failing_endpoints_by_source_line(tmp_path):
    sdf = tmp_path / "t.sdf"
    sdf.write_text(SDF)
    netlist = {"modules": {"top": {"cells": {
        "b.ff_c": {"attributes": {"src": "/repo/hw/x.py:12|/repo/hw/y.py:3"}},
        "b.ff_d": {"attributes": {"src": "/repo/hw/x.py:12"}}}}}}
    groups = by_source(endpoint_slacks(sdf, period_ns=2.5), netlist, root="/repo/")
    assert groups == [{"source": "hw/x.py:12", "count": 2, "worst_ns": pytest.approx(-3.2)}]
    # a flip-flop whose line is library code: Amaranth's FSM state says contextlib
    netlist["modules"]["top"]["cells"]["b.ff_d"] = {
        "attributes": {"src": "/usr/lib/python3/contextlib.py:144"}}
    groups = by_source(endpoint_slacks(sdf, period_ns=2.5), netlist, root="/repo/")
    assert {g["source"] for g in groups} == {"hw/x.py:12", "FSM state (contextlib.py:144)"}
    assert by_source(endpoint_slacks(sdf, period_ns=2.5), {})[0]["source"] == "?"
