"""Wide multiplexers built so that synthesis keeps the select bits on every output bit.

A ``Switch`` over a select becomes a Yosys ``$pmux`` whose case comparisons are shared by all
output bits: ABC then maps one decode LUT per case and hangs every data bit on it, so one LUT
output crosses the chip to hundreds of multiplexers (a 16-lane state buffer's bank-group choice
was the MNIST accelerator's worst path at 94.7 MHz: 6.9 ns of route after the decode). A tree of
2:1 multiplexers on the select's bits leaves nothing to share: every output bit is its own small
tree (four options: two LUT4s and a PFUMX on ECP5) and the select bits come straight from their
registers, which the build copies near their loads (:mod:`ttzo.bitstream.fanout`).
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Mux, Value, ValueLike

__all__ = ["select"]


def select(index: ValueLike, options: Sequence[ValueLike]) -> Value:
    """``options[index]`` as a tree of 2:1 multiplexers on ``index``'s bits, lowest bit first.

    Parameters
    ----------
    index : ValueLike
        Unsigned select, at least ``ceil(log2(len(options)))`` bits wide (higher bits ignored).
    options : sequence of ValueLike
        The choices (values or value-castables such as ``data`` views), at least one.

    Returns
    -------
    Value
        The chosen option; an index past the options gives an unspecified one of them.
    """
    level = [Value.cast(option) for option in options]
    if not level:
        raise ValueError("select needs at least one option, not an empty sequence")
    index = Value.cast(index)
    need = (len(level) - 1).bit_length()
    if len(index) < need:
        raise ValueError(f"index of {len(index)} bits cannot select among {len(level)} options "
                         f"(needs {need})")
    for bit in range(need):
        if len(level) % 2:
            level.append(level[-1])  # the missing option: don't care, reuse a neighbour
        level = [Mux(index[bit], level[i + 1], level[i]) for i in range(0, len(level), 2)]
    return level[0]
