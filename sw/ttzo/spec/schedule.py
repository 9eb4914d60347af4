"""The engine's schedule: for every core of a layer, a loop nest and three address streams.

The TT-contraction engine processes ``lanes`` samples at once (one per MAC lane, all lanes share
each weight) and contracts one core at a time. For core ``k`` it runs the loop nest (outer to
inner)

    p  in M_<k        out modes already produced
    m  in m_k         this core's out mode
    c  in r_k         this core's right rank
    n' in n_{k+1}     next core's in mode (1 for the last core)
    R' in N_>k+1      in modes after that (1 for the last core)
    a  in r_{k-1}     this core's left rank      } summed: one output element
    n  in n_k         this core's in mode        } per r_{k-1} * n_k cycles

and each address is linear in the loop counters:

* ``src``: the state read, layout ``[p][a, n][n', R']`` (core 0: the input vector itself);
* ``dst``: the state written, layout ``[p, m][c, n'][R']`` which is exactly the next core's
  ``src`` layout (for the last core: the output index ``p * m_k + m``);
* ``weight``: the core entry ``G_k[a, m, n, c]`` at its offset in the layer's parameter block
  (the same layout as ``theta``, so the RNG index of an entry is its position in ``theta``).

This module is the single description of the schedule: the gateware builds its counters from
it, :func:`emulate_layer` runs it in Python against the golden model, and the cycle model counts
it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from .model import LayerSpec
from .numerics import NumericsSpec

__all__ = [
    "CoreSchedule", "LayerSchedule", "layer_schedule", "emulate_layer", "loop_addresses",
    "LOOP_NAMES",
    "ADDRESS_LAG", "BANK_GROUP", "BANK_MEMORY", "DRAIN_BETWEEN", "drain_last", "OUT_LATENCY",
    "READ_LATENCY", "rng_latency",
]

#: Cycles of a banked block RAM read (``ttzo.hw.bram.BankedMemory``): the bank's address
#: register, the block-level address register, the block RAM, the bank's two data registers
#: (the block's output register on ECP5, then one beside it), the bank group's register.
READ_LATENCY = 6

#: Banks of a ``BankedMemory`` whose registered outputs meet in one first-level multiplexer.
BANK_GROUP = 4

#: Name prefix of a ``BankedMemory``'s bank memories; the build selects their read ports by it
#: (read/write collisions are undefined there, see ``ttzo.hw.bram``).
BANK_MEMORY = "bank"

#: DRAIN cycles between two cores of a layer. After an iteration issued at cycle t the engine's
#: state block RAMs are read at t + rng_latency + 5 - READ_LATENCY (reads issue early enough for
#: their data to meet the perturbation; the block access is the third read cycle) and a
#: finished sum reaches them (through the banks' two write registers) readable from
#: t + rng_latency + 13 (operand registers, multiply, accumulate, bias, rounding, saturation
#: each in its own cycle), so the next core's first (equally delayed) read may come
#: READ_LATENCY + 7 cycles after the last one; one cycle of margin.
DRAIN_BETWEEN = READ_LATENCY + 8


def rng_latency(stage_ops: int = 1, rounds: int = 13) -> int:
    """Latency of the perturbation RNG (``ttzo.hw.rng``): one init stage, the Threefry rounds and
    key injections (``rounds + rounds // 4`` operations) in stages of ``stage_ops``, and two
    popcount stages."""
    return 1 + -(-(rounds + rounds // 4) // stage_ops) + 2


#: Cycles from the loop nest's step to the issue of its iteration: the engine adds the carry
#: deltas of the level that stepped a cycle after the counters step (``ttzo.hw.engine``).
ADDRESS_LAG = 1


def drain_last(rng_latency: int) -> int:
    """DRAIN cycles after a layer's last core: the output streamer reads without delay, so it
    waits for the last write (in the block RAM rng_latency + 13 cycles after the last issue,
    which comes ADDRESS_LAG cycles after the nest's last step; the streamer's first block
    access comes two cycles after its first address). Between cores both the last and the
    next first iteration lag alike, so DRAIN_BETWEEN does not depend on ADDRESS_LAG."""
    return rng_latency + 11 + ADDRESS_LAG

#: Cycles of the output streamer beyond one per output beat: the banked read, then the
#: streamer's FIFO (write, output register; see ``ttzo.hw.bram.RowStreamer``).
OUT_LATENCY = READ_LATENCY + 2

LOOP_NAMES = ("p", "m", "c", "n_next", "r_next", "a", "n")


@dataclass(frozen=True)
class CoreSchedule:
    """Loop bounds and address strides of one core (see the module docstring)."""

    core: int
    bounds: tuple[int, ...]
    src_strides: tuple[int, ...]
    dst_strides: tuple[int, ...]
    weight_strides: tuple[int, ...]
    weight_base: int
    src_size: int
    dst_size: int
    in_frac: int  # fraction bits of the values read through ``src``
    last: bool

    @property
    def macs(self) -> int:
        """Cycles of the loop nest: one MAC per lane per cycle."""
        return prod(self.bounds)

    @property
    def reduction(self) -> int:
        """Cycles per output element, ``r_{k-1} * n_k``."""
        return self.bounds[5] * self.bounds[6]

    def carry_deltas(self, strides: tuple[int, ...]) -> tuple[int, ...]:
        """Address change when loop ``l`` steps and every inner loop wraps to 0."""
        deltas = []
        for level in range(len(self.bounds)):
            inner = sum((self.bounds[j] - 1) * strides[j] for j in range(level + 1, 7))
            deltas.append(strides[level] - inner)
        return tuple(deltas)


@dataclass(frozen=True)
class LayerSchedule:
    layer: LayerSpec
    cores: tuple[CoreSchedule, ...]

    @property
    def buffer_depth(self) -> int:
        """Entries of each of the two state buffers (input, states and output share them)."""
        return max(max(c.src_size, c.dst_size) for c in self.cores)

    @property
    def macs(self) -> int:
        return sum(c.macs for c in self.cores)

    def cycles_per_group(self, rng_latency: int) -> int:
        """Engine cycles from a group's first input beat to its last output beat, no stalls:
        LOAD (one beat per input), RUN (one iteration per cycle), DRAINs, OUT (one beat per
        output plus ``OUT_LATENCY``). Checked against simulation."""
        drains = DRAIN_BETWEEN * (len(self.cores) - 1) + drain_last(rng_latency)
        return (self.layer.in_features + self.macs + drains + self.layer.out_features
                + OUT_LATENCY)

    def utilization(self, rng_latency: int) -> float:
        """MAC-lane utilization: useful MAC cycles over cycles per group."""
        return self.macs / self.cycles_per_group(rng_latency)


def layer_schedule(layer: LayerSpec, numerics: NumericsSpec, index: int) -> LayerSchedule:
    """Schedule of layer ``index`` (a dense layer is one core of shape ``(1, M, N, 1)``)."""
    if layer.tt is not None:
        shapes = layer.tt.core_shapes
    else:
        shapes = [(1, layer.out_features, layer.in_features, 1)]
    d = len(shapes)
    out_modes = [s[1] for s in shapes]
    in_modes = [s[2] for s in shapes]
    cores = []
    weight_base = 0
    for k, (r0, m, n, r1) in enumerate(shapes):
        last = k == d - 1
        n_next = 1 if last else in_modes[k + 1]
        r_next = 1 if last else prod(in_modes[k + 2 :])
        rs = n_next * r_next  # N_>k
        j_size = r0 * n
        j_next = 1 if last else r1 * n_next
        p_size = prod(out_modes[:k])
        bounds = (p_size, m, r1, n_next, r_next, r0, n)
        src = (j_size * rs, 0, 0, r_next, 1, n * rs, rs)
        if last:
            dst = (m, 1, 0, 0, 0, 0, 0)
        else:
            dst = (m * j_next * r_next, j_next * r_next, n_next * r_next, r_next, 1, 0, 0)
        weight = (0, n * r1, 1, 0, 0, m * n * r1, r1)
        cores.append(CoreSchedule(
            core=k, bounds=bounds, src_strides=src, dst_strides=dst, weight_strides=weight,
            weight_base=weight_base, src_size=p_size * j_size * rs,
            dst_size=p_size * m * (1 if last else j_next * r_next),
            in_frac=numerics.core_input_frac(index, k), last=last,
        ))
        weight_base += r0 * m * n * r1
    return LayerSchedule(layer, tuple(cores))


def loop_addresses(core: CoreSchedule, strides: tuple[int, ...]) -> np.ndarray:
    """Every address of one stream of ``core`` in loop order, for ``strides`` (one of the
    core's ``*_strides``; the weight stream adds ``weight_base``). Vectorised; the golden twin
    of :class:`ttzo.hw.loopnest.LoopNest`."""
    grids = np.meshgrid(*[np.arange(b) for b in core.bounds], indexing="ij")
    return sum(g * s for g, s in zip(grids, strides)).ravel()


def emulate_layer(schedule: LayerSchedule, numerics: NumericsSpec, index: int,
                  weights: np.ndarray, bias: np.ndarray | None, x: np.ndarray,
                  activate) -> np.ndarray:
    """Run the schedule in Python exactly as the engine does, for every sample of ``x``.

    ``weights`` is the layer's (possibly perturbed) integer weight block in ``theta`` layout,
    ``bias`` its integer bias, ``x`` integer inputs ``(B, N)``; ``activate(name, values)`` is the
    golden activation. Returns the layer's integer outputs ``(B, M)``.
    """
    nm = numerics
    buffers = [np.zeros((x.shape[0], schedule.buffer_depth), dtype=np.int64) for _ in range(2)]
    buffers[0][:, : x.shape[1]] = x
    for core in schedule.cores:
        src = buffers[core.core % 2]
        dst = buffers[(core.core + 1) % 2]
        s_addr = loop_addresses(core, core.src_strides)
        w_addr = core.weight_base + loop_addresses(core, core.weight_strides)
        d_addr = loop_addresses(core, core.dst_strides)[:: core.reduction]
        products = src[:, s_addr] * weights[w_addr]
        acc = products.reshape(x.shape[0], -1, core.reduction).sum(axis=2)
        acc_frac = nm.weight.frac + core.in_frac
        if core.last:
            if bias is not None:
                acc = acc + (bias[d_addr] << (acc_frac - nm.bias.frac))
            values = activate(schedule.layer.activation, nm.activation.requantize(acc, acc_frac))
        else:
            values = nm.state.requantize(acc, acc_frac)
        dst[:, d_addr] = values
    out = buffers[len(schedule.cores) % 2]
    return out[:, : schedule.layer.out_features].copy()
