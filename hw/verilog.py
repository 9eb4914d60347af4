"""Verilog export of ttzo gateware for external simulators and tools."""

from __future__ import annotations

from amaranth.back import rtlil
from amaranth.back.verilog import _convert_rtlil_text

__all__ = ["to_systemverilog"]


def to_systemverilog(component, name: str) -> str:
    """SystemVerilog text of ``component`` (top module ``name``).

    Amaranth's ``verilog.convert`` writes combinational logic as ``always @*`` blocks, which
    Icarus never evaluates when their inputs are constant from time 0 (outputs stay X). Yosys's
    ``write_verilog -sv`` emits ``always_comb`` instead, which runs once at time 0 in every
    simulator. The conversion script is otherwise Amaranth's own (pinned to amaranth ~= 0.5).
    """
    text = rtlil.convert(component, name=name, emit_src=False)
    return _convert_rtlil_text(text, write_verilog_opts=["-sv"])
