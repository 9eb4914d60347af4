"""Register stages for streams, to cut combinational paths between components.

A stream handshake between two components placed far apart is a timing path from one's state
through the route between them into the other's state, in both directions (``valid`` forward,
``ready`` back). :class:`StreamRegister` registers the forward direction only;
:class:`SkidBuffer` registers both, so neither side's handshake logic sees the other's in the
same cycle. Both pass every payload in order at full throughput; a stage adds one cycle of
latency. Their golden twin is the identity on the payload sequence
(``tests/test_hw_stream.py`` checks it under random idles and back-pressure).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer", "StreamRegister", "StreamWire", "add_skid_buffer"]


class _StreamStage(wiring.Component):
    """A stage between two streams of one payload ``shape``.

    Parameters
    ----------
    shape : ShapeLike
        Payload shape.

    Attributes
    ----------
    i_stream : In(stream.Signature(shape))
    o_stream : Out(stream.Signature(shape))
    """

    def __init__(self, shape):
        super().__init__({
            "i_stream": In(stream.Signature(shape)),
            "o_stream": Out(stream.Signature(shape)),
        })


class StreamRegister(_StreamStage):
    """One register stage on a stream: payload and valid are registered, so the producer's
    logic and the consumer's never share a combinational path forward (``ready`` passes
    straight through). Full throughput while the consumer is ready. Parameters and ports as
    for every stage (``shape``; ``i_stream``, ``o_stream``).
    """

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i_stream.ready.eq(~self.o_stream.valid | self.o_stream.ready)
        with m.If(self.i_stream.ready):
            m.d.sync += [self.o_stream.valid.eq(self.i_stream.valid),
                         self.o_stream.payload.eq(self.i_stream.payload)]
        return m


class SkidBuffer(_StreamStage):
    """A register stage in both directions: ``o_stream``'s valid and payload and ``i_stream``'s
    ready are all flip-flops. When the consumer stalls while a payload arrives, the payload
    waits in a second ("skid") register and ``i_stream.ready`` drops the cycle after.
    Full throughput while the consumer is ready. Parameters and ports as for every stage
    (``shape``; ``i_stream``, ``o_stream``): ``i_stream.ready`` is a register (low only while
    the skid register is full), ``o_stream``'s ``valid`` and ``payload`` are registers.
    """

    def elaborate(self, platform):
        m = Module()
        i, o = self.i_stream, self.o_stream
        skid = Signal.like(i.payload, reset_less=True)  # read only while skid_full
        skid_full = Signal()
        m.d.comb += i.ready.eq(~skid_full)
        i_fire = i.valid & ~skid_full
        with m.If(~o.valid | o.ready):  # the output register is free this cycle
            m.d.sync += [o.valid.eq(skid_full | i.valid),
                         o.payload.eq(Mux(skid_full, skid, i.payload)),
                         skid_full.eq(0)]
        with m.Elif(i_fire):  # the output holds a stalled payload: park the new one
            m.d.sync += [skid.eq(i.payload), skid_full.eq(1)]
        return m


class StreamWire(_StreamStage):
    """A stream passed straight through (what :func:`add_skid_buffer` adds with ``register``
    off): the same ports as :class:`SkidBuffer`, no register and no latency.

    Golden twin: the identity on the payload sequence (``tests/test_hw_stream.py``).
    """

    def elaborate(self, platform):
        m = Module()
        wiring.connect(m, wiring.flipped(self.i_stream), wiring.flipped(self.o_stream))
        return m


def add_skid_buffer(m: Module, name: str, *, source=None, sink=None,
                    register: bool = True) -> SkidBuffer | StreamWire:
    """Add a :class:`SkidBuffer` named ``name`` to ``m`` between two streams (with ``register``
    off, a :class:`StreamWire`: a lean accelerator, where cells are scarcer than routes).

    Parameters
    ----------
    m : Module
        The module that gains the buffer as a submodule.
    name : str
        Submodule name.
    source : stream interface, optional
        The producer's outgoing stream, connected to the buffer's ``i_stream``.
    sink : stream interface, optional
        The consumer's incoming stream, connected from the buffer's ``o_stream``.
        At least one of ``source`` and ``sink`` gives the payload shape; an end left out is
        driven by the caller through the returned buffer.

    Returns
    -------
    SkidBuffer or StreamWire
    """
    if source is None and sink is None:
        raise ValueError(f"skid buffer {name!r}: give a source or a sink stream (or both)")
    shape = (source if source is not None else sink).payload.shape()
    m.submodules[name] = skid = SkidBuffer(shape) if register else StreamWire(shape)
    if source is not None:
        wiring.connect(m, source, skid.i_stream)
    if sink is not None:
        wiring.connect(m, skid.o_stream, sink)
    return skid
