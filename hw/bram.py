"""Block-RAM-backed memory with registered bank outputs, for timing closure.

Block RAM clock-to-out is slow (about 5.8 ns on ECP5 without the block's output register, which
Yosys does not infer), and a memory deeper than one block is a column of blocks whose outputs
meet in a wide multiplexer, usually far from most of them. A wide memory is also a row of
blocks, so one read address reaches a hundred and more block RAM pins across the chip (on the
MNIST accelerator that single net took 12.7 ns to route). :class:`BankedMemory` splits the memory
in depth into banks of ``bank_depth`` rows (one block deep each), gives every bank its own read
address register (loaded only by addresses in that bank, so synthesis cannot merge the copies)
and then a block-level one (which the build copies for every block, :mod:`ttzo.bitstream.replicate`,
so that no register drives blocks spread over the chip), registers every bank's read data twice
(the first register becomes the blocks' own output register on ECP5, the second sits in the
fabric next to them), and selects the bank only in the following cycles: a registered choice
among groups of four banks, then the group. Writes are registered the same way (an address and
enable register per bank, one shared data register, each followed by its block-level register).
Reads therefore take six cycles, and a write reaches the blocks two cycles after it is presented;
the golden twin is a plain array read six cycles later whose block access (the third of the six
cycles) sees the writes presented at least three cycles before it.

A read whose block access meets a write to the same row (the write presented two cycles before)
is **undefined**: the build declares such collisions "don't care" to Yosys (``COLLISION_X_MASK``
on the read ports of the memories named :data:`BANK_MEMORY` ``*``), which spares the bypass
multiplexer and registers Yosys otherwise adds behind every block to return the old row, and
leaves each block's data output driving its bank register alone, so the build can move that
register into the block (:mod:`ttzo.bitstream.outreg`). In simulation such a read returns the row
inverted, so a design that consumes one fails its bit-exact tests; none does.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, Value, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ttzo.hw.mux import select
from ttzo.spec.boards import bank_rows, bank_slices, get_board
from ttzo.spec.schedule import BANK_GROUP, BANK_MEMORY, READ_LATENCY

__all__ = ["BankedMemory", "RowStreamer", "READ_LATENCY", "BANK_MEMORY"]


class BankedMemory(wiring.Component):
    """A ``depth``-row memory in banks of ``bank_depth`` rows, read in :data:`READ_LATENCY` cycles.

    Parameters
    ----------
    shape : ShapeLike
        Row shape (a plain shape or a ``data`` layout, e.g. one row for every lane).
    depth : int
        Rows.
    block_shapes : tuple of (depth, width)
        The device's true-dual-port block RAM shapes (:attr:`ttzo.spec.boards.Device.
        bank_shapes`); a bank is as deep as the shape that stores a row most cheaply
        (:func:`ttzo.spec.boards.bank_rows`) and its row is cut into memories as wide as the
        widest shape (:func:`ttzo.spec.boards.bank_slices`); the estimate counts the same
        way. Default: ECP5 DP16KD.
    bank_depth : int, optional
        Rows per bank (a power of two), overriding ``block_shapes``.
    deep_banks : bool
        On block shapes that store a row equally cheaply, take the deepest (fewer banks, fewer
        bank registers; a lean accelerator) instead of the shallowest.

    Attributes
    ----------
    rd_addr : In(range(depth))
    rd_en : In(1)
        Advances the read pipeline; while low every stage holds, so a stalled consumer keeps its
        data (a stall of both stages at once, as in a valid/ready pipeline).
    rd_data : Out(shape)
        The row addressed :data:`READ_LATENCY` enabled cycles earlier.
    wr_addr : In(range(depth))
    wr_data : In(shape)
    wr_en : In(1)
        A write reaches the blocks two cycles after it is presented; a read sees it if its block
        access (the second enabled cycle after its address) comes at least three cycles later.
    """

    #: Banks whose registered outputs meet in one first-level multiplexer.
    GROUP = BANK_GROUP

    def __init__(self, shape, depth: int, block_shapes: tuple[tuple[int, int], ...] | None = None,
                 bank_depth: int | None = None, deep_banks: bool = False):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, not {depth!r}")
        shapes = block_shapes or get_board("ulx3s-85f").device.bank_shapes
        width = Shape.cast(shape).width
        if bank_depth is None:
            bank_depth = bank_rows(width, shapes, deep_banks)
        if not isinstance(bank_depth, int) or bank_depth < 1 or bank_depth & (bank_depth - 1):
            raise ValueError(f"bank_depth must be a power of two, not {bank_depth!r}")
        self.shape = shape
        self.depth = depth
        self.bank_depth = min(bank_depth, 1 << max(0, (depth - 1).bit_length()))
        self.banks = -(-depth // self.bank_depth)
        self.groups = -(-self.banks // self.GROUP)
        self.slices = bank_slices(width, shapes)
        addr_w = max(1, (depth - 1).bit_length())
        super().__init__({
            "rd_addr": In(unsigned(addr_w)), "rd_en": In(1), "rd_data": Out(shape),
            "wr_addr": In(unsigned(addr_w)), "wr_data": In(shape), "wr_en": In(1),
        })

    def bank_depths(self) -> list[int]:
        """Rows of every bank (the last one may be shorter)."""
        full, rest = divmod(self.depth, self.bank_depth)
        return [self.bank_depth] * full + ([rest] if rest else [])

    @staticmethod
    def _bank_register(m: Module, name: str, low_bits: int, load, addr) -> Signal:
        """A row-address register of one bank, loaded with ``addr``'s low bits when ``load``."""
        reg = Signal(max(1, low_bits), name=name, reset_less=True)
        if low_bits:
            with m.If(load):
                m.d.sync += reg.eq(addr[:low_bits])
        return reg

    def elaborate(self, platform):
        m = Module()
        low_bits = (self.bank_depth - 1).bit_length()
        bank_sel = Signal(range(max(2, self.banks)))
        held = []
        high = self.rd_addr[low_bits:]
        wr_high = self.wr_addr[low_bits:]
        # Data and address registers have no reset (only the write enables do): a reset reaching
        # every register of a wide memory is a net of thousands of loads.
        # Write data: registered twice, shared by the banks (each bit reaches one column); the
        # build copies the second register for every block (ttzo.bitstream.replicate).
        wr_data_q = Signal(self.shape, name="wr_data_q", reset_less=True)
        wr_data_b = Signal(self.shape, name="wr_data_b", reset_less=True)
        m.d.sync += [wr_data_q.eq(self.wr_data), wr_data_b.eq(wr_data_q)]
        wr_bits = Value.cast(wr_data_b)
        for b, rows in enumerate(self.bank_depths()):
            # The bank's own copies of the read and write row addresses, placed among its
            # blocks; each loads only addresses of this bank (otherwise a stale row is read, and
            # not selected), so synthesis cannot merge the copies of different banks.
            rd_hit = self.rd_en & ((high == b) if self.banks > 1 else 1)
            wr_hit = self.wr_en & ((wr_high == b) if self.banks > 1 else 1)
            addr_q = self._bank_register(m, f"bank{b}_addr", low_bits, rd_hit, self.rd_addr)
            wr_addr_q = self._bank_register(m, f"bank{b}_wr_addr", low_bits, wr_hit,
                                            self.wr_addr)
            wr_en_q = Signal(name=f"bank{b}_wr_en")
            m.d.sync += wr_en_q.eq(wr_hit)
            # Then the block-level stage: the build gives each block its own copy of these
            # registers, beside it (a bank's blocks spread over the chip: one address register
            # reaching all of them took 13.2 ns to route on the MNIST accelerator).
            addr_b = Signal.like(addr_q, name=f"bank{b}_addr_b")
            wr_addr_b = Signal.like(wr_addr_q, name=f"bank{b}_wr_addr_b")
            wr_en_b = Signal(name=f"bank{b}_wr_en_b")
            with m.If(self.rd_en):
                m.d.sync += addr_b.eq(addr_q)
            m.d.sync += [wr_addr_b.eq(wr_addr_q), wr_en_b.eq(wr_en_q)]
            # One memory per slice of the row (see bank_slices), all on the bank's registers.
            pieces = []
            lo = 0
            for s, width in enumerate(self.slices):
                mem = Memory(shape=unsigned(width), depth=rows, init=[])
                m.submodules[f"{BANK_MEMORY}{b}_{s}"] = mem
                rd, wr = mem.read_port(), mem.write_port()
                m.d.comb += [
                    rd.addr.eq(addr_b),
                    rd.en.eq(self.rd_en),
                    wr.addr.eq(wr_addr_b),
                    wr.data.eq(wr_bits[lo:lo + width]),
                    wr.en.eq(wr_en_b),
                ]
                pieces.append(rd.data)
                lo += width
            reg = Signal(self.shape, name=f"bank{b}_q", reset_less=True)
            data = Cat(*pieces)
            if platform is None:
                # Simulation: a read whose block access meets a write to the same row returns
                # the row inverted (the hardware's data is undefined, see the module docstring),
                # so that a design consuming such a read fails its bit-exact tests.
                collided = Signal(name=f"bank{b}_collided")
                with m.If(self.rd_en):
                    m.d.sync += collided.eq(wr_en_b & (wr_addr_b == addr_b))
                data = Mux(collided, ~data, data)
            # On ECP5 the build moves `reg` into the blocks (their output registers, see
            # ttzo.bitstream.outreg); `near` is then the first fabric register, one per block output
            # pin beside its block: with block RAM output pins fanning straight into the group
            # multiplexers of four blocks, nextpnr's router had not resolved the congestion of
            # the MNIST accelerator after 170 iterations (25 minutes).
            near = Signal(self.shape, name=f"bank{b}_q2", reset_less=True)
            with m.If(self.rd_en):
                m.d.sync += [reg.eq(data), near.eq(reg)]
            held.append(near)
        # The bank select is registered in two levels (groups of GROUP banks, then the group),
        # so that no multiplexer wider than GROUP inputs sits between two registers: the bank
        # registers are spread over the chip with their blocks. The read's bank travels in
        # `sels` until its data reaches the bank registers.
        sels = [Signal.like(bank_sel, name=f"sel{i}") for i in range(READ_LATENCY - 2)]
        group_sel = Signal(range(max(2, self.groups)))
        with m.If(self.rd_en):
            m.d.sync += [sels[0].eq(high if self.banks > 1 else 0), bank_sel.eq(sels[-1]),
                         group_sel.eq(bank_sel // self.GROUP)]
            m.d.sync += [later.eq(earlier) for earlier, later in zip(sels, sels[1:])]
        # Both levels are multiplexer trees on the select bits (hw.mux.select; GROUP is a power
        # of two, so the first level's bits are bank_sel % GROUP), not case decodes, which
        # synthesis shares among all the row's bits (one LUT then drives hundreds of them).
        grouped = []
        for g in range(self.groups):
            members = held[g * self.GROUP:(g + 1) * self.GROUP]
            reg = Signal(self.shape, name=f"group{g}_q", reset_less=True)
            with m.If(self.rd_en):
                m.d.sync += reg.eq(select(bank_sel, members))
            grouped.append(reg)
        m.d.comb += self.rd_data.eq(select(group_sel, grouped))
        return m


class RowStreamer(wiring.Component):
    """Streams rows ``[0, count)`` of a :class:`BankedMemory` out through a small FIFO.

    A read issues only when the FIFO has room for it and every read already in flight, so the
    memory's read pipeline never stalls: its bank registers need no clock enable (a net that
    would reach every bank register of a wide memory).

    Parameters
    ----------
    shape : ShapeLike
        Row shape.
    addr_width : int
        Bits of the memory's read address.
    max_count : int
        Largest row count.

    Attributes
    ----------
    start : In(1)
        Pulse: begin streaming ``count`` rows (ignored while busy).
    count : In(range(max_count + 1))
    rd_addr : Out(addr_width)
        To the memory's read address (read enable held high).
    rd_data : In(shape)
        From the memory, :data:`READ_LATENCY` cycles after the address.
    o_stream : Out(stream.Signature(shape))
    done : Out(1)
        Pulses with the last row's transfer.
    """

    #: FIFO rows: room for the reads in flight, the FIFO's own two-cycle latency and one more,
    #: so that reads issue every cycle while the consumer takes every cycle.
    DEPTH = READ_LATENCY + 4

    def __init__(self, shape, addr_width: int, max_count: int):
        self.shape = shape
        self.max_count = max_count
        super().__init__({
            "start": In(1), "count": In(range(max_count + 1)),
            "rd_addr": Out(addr_width), "rd_data": In(shape),
            "o_stream": Out(stream.Signature(shape)), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        width = Shape.cast(self.shape).width
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=width, depth=self.DEPTH)
        active = Signal()
        total = Signal(range(self.max_count + 1))
        issued = Signal(range(self.max_count + 1))
        delivered = Signal(range(self.max_count + 1))
        # Registers decide whether a read issues: whether rows are left to issue, and the FIFO
        # rows not yet claimed by a read in flight or a row waiting in it (credits), kept up to
        # date by every issue and every row taken out.
        more = Signal()
        credits = Signal(range(self.DEPTH + 1), init=self.DEPTH)
        issue = active & more & (credits != 0)
        pop = self.o_stream.valid & self.o_stream.ready  # a row taken out
        in_flight = [Signal(name=f"in_flight{i}") for i in range(READ_LATENCY)]
        m.d.comb += self.rd_addr.eq(issued)
        m.d.sync += [in_flight[0].eq(issue)] + [
            in_flight[i].eq(in_flight[i - 1]) for i in range(1, READ_LATENCY)]
        m.d.sync += credits.eq(credits - issue + pop)
        with m.If(issue):
            m.d.sync += [issued.eq(issued + 1), more.eq(issued + 1 != total)]
        m.d.comb += [fifo.w_en.eq(in_flight[-1]), fifo.w_data.eq(Value.cast(self.rd_data)),
                     self.o_stream.valid.eq(fifo.r_rdy),
                     self.o_stream.payload.eq(fifo.r_data), fifo.r_en.eq(self.o_stream.ready)]
        # Whether the next row taken out is the last is a register kept beside ``delivered``:
        # ``done`` then is the pop and one flip-flop, not a comparison behind the consumer's
        # handshake (the engine restarts its counters on it).
        delivering_last = Signal()
        last = pop & delivering_last
        m.d.comb += self.done.eq(last)
        with m.If(pop):
            m.d.sync += [delivered.eq(delivered + 1),
                         delivering_last.eq(delivered + 2 == total)]
        with m.If(last):
            m.d.sync += active.eq(0)
        with m.If(self.start & ~active & (self.count != 0)):
            m.d.sync += [active.eq(1), total.eq(self.count), issued.eq(0), delivered.eq(0),
                         more.eq(1), delivering_last.eq(self.count == 1)]
        return m
