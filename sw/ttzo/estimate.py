"""Analytic resources and cycles of the accelerator, before synthesis.

A twin of the gateware (:mod:`ttzo.hw`) that counts instead of computing: it reads the engine's
schedule (:mod:`ttzo.spec.schedule`), the accelerator configuration and the board's FPGA
(:mod:`ttzo.spec.boards`).

Cycles and MAC-lane utilization come from the engine schedule and are exact (checked against
simulation). Block RAM and multiplier counts follow from the memories and multipliers the
gateware instantiates and the device's block shapes. LUT and flip-flop counts are a linear fit
``base * layers + per_lane * lanes * layers``, calibrated on Yosys ``synth_ecp5`` of the paper's
MNIST engine at 2 and 16 lanes (4,839 LUT4 and 8,351 FF; 11,948 and 18,449); treat them as
approximate, and see docs/results.md for estimate-versus-report comparisons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from math import ceil
from typing import Any

from ttzo.spec.boards import Device, bank_rows, bank_slices, get_board
from ttzo.spec.model import ModelSpec
from ttzo.spec.schedule import BANK_GROUP, layer_schedule, rng_latency

__all__ = ["Estimate", "estimate", "bram_blocks", "banked_blocks", "buffer_width", "RNG_LATENCY"]

#: Latency of the Threefry pipeline with one operation per stage (init, 13 rounds, 3 key
#: injections, 2 popcount stages), as the gateware measures it (tests/test_hw_rng.py).
RNG_LATENCY = rng_latency()

# Linear LUT/FF model (see module docstring).
_LUT_BASE, _LUT_PER_LANE = 1912, 254
_FF_BASE, _FF_PER_LANE = 3454, 361
# The rest of the accelerator (link, executor, update unit), and its seed/coefficient tables;
# calibrated on the ULX3S build of the MNIST accelerator (docs/results.md).
_LUT_SYSTEM, _LUT_PER_DIRECTION = 1500, 60
_FF_SYSTEM, _FF_PER_DIRECTION = 900, 48
# A Gaussian direction's scaled sample (ttzo.hw.engine: gauss_t, 17 bits).
_GAUSS_PRODUCT_BITS = 17


def bram_blocks(depth: int, width: int, device: Device,
                shapes: tuple[tuple[int, int], ...] | None = None) -> int:
    """Block RAMs for a ``depth`` x ``width`` memory: the cheapest tiling of one block shape
    (of ``shapes``, by default all the device's)."""
    if depth <= device.lutram_max_depth:
        return 0
    return min(ceil(width / w) * ceil(depth / d) for d, w in shapes or device.bram_shapes)


def _bank_depth(depth: int, width: int, device: Device) -> int:
    return min(bank_rows(width, device.bank_shapes, device.deep_banks),
               1 << max(0, (depth - 1).bit_length()))


def banks(depth: int, width: int, device: Device) -> int:
    """Banks of a :class:`ttzo.hw.bram.BankedMemory`."""
    return -(-depth // _bank_depth(depth, width, device))


def bank_groups(depth: int, width: int, device: Device) -> int:
    """Group registers of a :class:`ttzo.hw.bram.BankedMemory` (one per ``BANK_GROUP`` banks)."""
    return -(-banks(depth, width, device) // BANK_GROUP)


def _bank_control_bits(depth: int, width: int, device: Device) -> int:
    """Block-level control bits of one bank: read and write row addresses, write enable."""
    return 2 * (_bank_depth(depth, width, device) - 1).bit_length() + 1


def buffer_width(spec: ModelSpec, index: int) -> int:
    """Bits of one lane's element in layer ``index``'s state buffers (its input, its state
    between cores and its output share them)."""
    nm = spec.numerics
    return max(nm.layer_input(index).width, nm.state.width, nm.activation.width)


def bank_registers(depth: int, width: int, device: Device) -> int:
    """Flip-flops a :class:`ttzo.hw.bram.BankedMemory` adds beyond those the LUT/FF fit counts:
    every bank's second read data register and the group registers, and the block-level stage
    (write data, and per bank the read and write row addresses and the write enable)."""
    n = banks(depth, width, device)
    return ((n + bank_groups(depth, width, device) + 1) * width
            + n * _bank_control_bits(depth, width, device))


def bank_register_copies(depth: int, width: int, device: Device) -> int:
    """Flip-flops the build's ``replicate`` step adds to a :class:`ttzo.hw.bram.BankedMemory`
    (none where the device's build does not replicate): every block-level address and enable bit
    of a bank copied for each further slice of the bank, every write data bit for each further
    bank."""
    if not device.replicates:
        return 0
    n = banks(depth, width, device)
    slices = len(bank_slices(width, device.bank_shapes))
    return n * (slices - 1) * _bank_control_bits(depth, width, device) + (n - 1) * width


def banked_blocks(depth: int, width: int, device: Device) -> int:
    """Block RAMs of a :class:`ttzo.hw.bram.BankedMemory`: every slice of every bank tiled on
    its own."""
    bank_depth = _bank_depth(depth, width, device)
    full, rest = divmod(depth, bank_depth)
    shapes = device.bank_shapes

    def bank(rows: int) -> int:
        return sum(bram_blocks(rows, w, device, shapes) for w in bank_slices(width, shapes))

    return full * bank(bank_depth) + (bank(rest) if rest else 0)


@dataclass
class Estimate:
    """Resources, cycles and throughput of the accelerator for one model, lane count and board."""

    board: str
    part: str
    lanes: int
    clock_mhz: float
    used: dict[str, int]
    available: dict[str, int]
    layer_cycles: list[int]
    layer_utilization: list[float]
    group_interval_cycles: int
    samples_per_s: float
    forward_queries_per_s: float
    batch: int
    memories: list[dict[str, Any]] = field(default_factory=list)
    #: flip-flops among ``used["FF"]`` that the build's ``replicate`` step adds after synthesis
    replicated_ffs: int = 0
    #: synthesized flip-flops the build's ``dspreg`` step moves into multipliers (not in
    #: ``used["FF"]``)
    dsp_packed_ffs: int = 0

    @property
    def exceeded(self) -> list[str]:
        return [k for k in self.used if self.used[k] > self.available[k]]

    @property
    def fits(self) -> bool:
        return not self.exceeded

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fits": self.fits, "exceeded": self.exceeded}


def estimate(spec: ModelSpec, lanes: int, board: str = "ulx3s-85f", clock_mhz: float = 100.0,
             batch: int = 128, config=None) -> Estimate:
    """Estimate the accelerator for ``spec`` with ``lanes`` MAC lanes per layer on ``board``.

    Throughput assumes the layers work as a pipeline: a new group of ``lanes`` samples enters
    every ``max(layer cycles)`` cycles; a forward query evaluates ``batch`` samples. With a
    :class:`ttzo.spec.accelerator.DeviceConfig` the whole accelerator is counted (input, parameter
    and frame memories, link and command logic), not only the engine.
    """
    if not isinstance(lanes, int) or lanes < 1:
        raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
    device = get_board(board).device
    if config is not None and config.lean:
        device = replace(device, deep_banks=True)
    nm = spec.numerics
    mems, cycles, utils = [], [], []
    for index, layer in enumerate(spec.layers):
        sched = layer_schedule(layer, nm, index)
        latency = rng_latency(config.rng_stage_ops) if config is not None else RNG_LATENCY
        cycles.append(sched.cycles_per_group(latency))
        utils.append(sched.utilization(latency))
        buf_width = lanes * buffer_width(spec, index)
        shapes = [("buffer0", sched.buffer_depth, buf_width),
                  ("buffer1", sched.buffer_depth, buf_width),
                  ("weights", layer.weight_params, nm.weight.width)]
        if layer.bias:
            shapes.append(("bias", layer.out_features, nm.bias.width))
        for name, depth, width in shapes:
            mems.append({"layer": index, "memory": name, "depth": depth, "width": width,
                         "blocks": banked_blocks(depth, width, device),
                         "bank_ffs": bank_registers(depth, width, device),
                         "copies": bank_register_copies(depth, width, device)})
    n_layers = len(spec.layers)
    used = {
        "LUT": _LUT_BASE * n_layers + _LUT_PER_LANE * lanes * n_layers,
        # the fit, plus registers the memories gained after it was calibrated (as synthesized:
        # on ECP5 the build then moves each bank's first data register into its blocks)
        "FF": (_FF_BASE * n_layers + _FF_PER_LANE * lanes * n_layers
               + sum(m["bank_ffs"] for m in mems)),
        # per layer: one multiplier per lane, one for Gaussian weight perturbations, one for
        # bias perturbations
        "DSP": sum(lanes + 1 + int(layer.bias) for layer in spec.layers),
        "BRAM": 0,
    }
    # copies made by the build: bank registers, and the weight register every lane multiplies
    copies = (sum(m["copies"] for m in mems)
              + (lanes - 1) * nm.weight.width * n_layers * int(device.replicates))
    # registers the build moves into the multipliers: per lane the state operand and the
    # product, the weight operand, and the Gaussian directions' products
    packed = int(device.packs_dsp_registers) * sum(
        lanes * (2 * buffer_width(spec, index) + nm.weight.width) + nm.weight.width
        + _GAUSS_PRODUCT_BITS * (1 + int(layer.bias))
        for index, layer in enumerate(spec.layers))
    if config is not None:
        from ttzo.spec.protocol import max_frame_bytes, rx_fifo_depth

        # all banked memories, like the engine's
        shapes = [("inputs", config.input_beats, lanes * nm.input.width),
                  ("theta", spec.params, config.param_width),
                  ("frame", max_frame_bytes(config.max_data), 8)]
        for name, depth, width in shapes:
            mems.append({"layer": None, "memory": name, "depth": depth, "width": width,
                         "blocks": banked_blocks(depth, width, device)})
            copies += bank_register_copies(depth, width, device)
        # the receive FIFO: one plain memory (no bank registers)
        depth = rx_fifo_depth(config.max_data)
        mems.append({"layer": None, "memory": "rx_fifo", "depth": depth, "width": 8,
                     "blocks": banked_blocks(depth, 8, device)})
        used["LUT"] += _LUT_SYSTEM + _LUT_PER_DIRECTION * config.max_directions
        used["FF"] += _FF_SYSTEM + _FF_PER_DIRECTION * config.max_directions
        # the update unit's coefficient product (the executor's constant products are
        # shift-and-add in the fabric)
        used["DSP"] += int(config.max_directions > 0)
    used["BRAM"] = sum(m["blocks"] for m in mems)
    used["FF"] += copies - packed
    available = device.available
    interval = max(cycles)
    clock_hz = clock_mhz * 1e6
    samples = lanes * clock_hz / interval
    groups = ceil(batch / lanes)
    query_cycles = (groups - 1) * interval + sum(cycles)
    return Estimate(board, device.part, lanes, clock_mhz, used, available, cycles, utils,
                    interval, samples, clock_hz / query_cycles, batch, mems, copies, packed)
