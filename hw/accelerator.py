"""The accelerator: command executor, parameter and input memories, engine and update unit,
behind a byte stream that carries the frames of :mod:`ttzo.spec.protocol`.

Golden twin: :class:`ttzo.golden.emulator.Emulator`, which answers the same frames with the
golden model; ``tests/test_hw_accelerator.py`` runs the host driver against both and compares
the replies byte for byte.

Data flow of the commands::

    WRITE_PARAMS  frame data -> theta memory and engine parameter memories
    READ_PARAMS   theta memory -> reply
    LOAD_INPUT    frame data -> input memory (one beat = one input element of every lane)
    EVAL          input memory -> engine (with the query's perturbation) -> reply
    UPDATE        theta memory -> update unit (seeds and coefficients from the frame)
                  -> theta memory and engine parameter memories
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, ResetInserter, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ttzo.hw.bram import READ_LATENCY, BankedMemory, RowStreamer
from ttzo.hw.commands import CommandValidator, header_layout, times
from ttzo.hw.engine import TTMLPEngine, lanes_layout
from ttzo.hw.link import FrameReceiver, FrameSender
from ttzo.hw.reply import ReplyHeader, ResultWindow
from ttzo.hw.stream import add_skid_buffer
from ttzo.hw.update import UpdateUnit
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.protocol import (
    COEF_BITS,
    COEF_BYTES,
    GAUSS_FLAG,
    HEADER_BYTES,
    INFO_FIELDS,
    MODE_BITS,
    PARAM_BYTES,
    SEED_BYTES,
    Opcode,
    Status,
    max_frame_bytes,
    pack_fields,
    rx_fifo_depth,
)

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """The ttzo accelerator for one model, behind a framed byte stream.

    Parameters
    ----------
    config : DeviceConfig
        Model, lanes, input memory size, update capacity, frame size, clock (reported by INFO).
    block_shapes : tuple of (depth, width), optional
        The device's block RAM shapes (see :class:`ttzo.hw.bram.BankedMemory`).

    Attributes
    ----------
    i_stream : In(stream.Signature(8))
        Bytes from the host, through a receive FIFO of
        :func:`~ttzo.spec.protocol.rx_fifo_depth` bytes (ready
        unless it is full): bytes that arrive while a command executes (a repeated frame, line
        noise) wait their turn instead of being lost, so the device reads the line exactly as
        its emulator does.
    o_stream : Out(stream.Signature(8))
        Bytes to the host.
    busy : Out(1)
        A command is being executed.
    """

    def __init__(self, config: DeviceConfig, block_shapes=None):
        self.config = config
        self.spec = config.spec
        self.lanes = config.lanes
        self.input_groups = config.input_groups
        self.max_directions = config.max_directions
        self.max_data = config.max_data
        self.index_width = config.index_width
        self.block_shapes = block_shapes
        self.engine = TTMLPEngine(config.spec, config.lanes, self.index_width, block_shapes,
                                  config.rng_stage_ops, deep_banks=config.lean)
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "o_stream": Out(stream.Signature(8)),
            "busy": Out(1),
        })

    def elaborate(self, platform):  # noqa: C901 - one executor, one state machine
        m = Module()
        spec, nm, lanes = self.spec, self.spec.numerics, self.lanes
        n_params = spec.params
        in_feat, out_feat = spec.in_features, spec.out_features
        cfg_dev = self.config
        in_bytes, out_bytes = cfg_dev.input_bytes, cfg_dev.output_bytes
        beat_bytes = lanes * in_bytes
        in_beats = self.input_groups * in_feat
        param_w = cfg_dev.param_width

        lean = cfg_dev.lean  # deep banks and no skid buffers (see DeviceConfig)

        def skid(name: str, **ends):
            """A skid buffer between two streams (a plain connection in a lean build)."""
            return add_skid_buffer(m, name, register=not lean, **ends)

        m.submodules.receiver = recv = FrameReceiver(max_frame_bytes(self.max_data),
                                                       self.block_shapes, deep_banks=lean)
        m.submodules.sender = send = FrameSender()
        m.submodules.engine = engine = self.engine
        has_update = self.max_directions > 0  # without it, the host updates (ttzo.driver.device)
        if has_update:
            m.submodules.update = update = UpdateUnit(nm.weight.width, nm.bias.width,
                                                      self.max_directions, COEF_BITS,
                                                      self.index_width)
        # The executor meets the engine's parameter port and the update unit through skid
        # buffers: its state decodes each handshake, and these components sit far from it on the
        # chip, so valid and ready both cross the distance from a register.
        p_skid = skid("p_skid", sink=engine.p_stream)
        if has_update:
            to_update = skid("item_skid", sink=update.i_stream).i_stream
            from_update = skid("result_skid", source=update.o_stream).o_stream
        m.submodules.rx_fifo = rx_fifo = SyncFIFOBuffered(width=8,
                                                          depth=rx_fifo_depth(self.max_data))
        # The FIFO's block RAM output is not registered (5.8 ns clock to output on ECP5): a
        # skid buffer takes it straight into flip-flops, before the receiver's escape and CRC
        # logic, and gives the FIFO a registered read enable.
        rx_skid = skid("rx_skid", sink=recv.i_stream)
        m.d.comb += [rx_fifo.w_data.eq(self.i_stream.payload),
                     rx_fifo.w_en.eq(self.i_stream.valid), self.i_stream.ready.eq(rx_fifo.w_rdy),
                     rx_skid.i_stream.payload.eq(rx_fifo.r_data),
                     rx_skid.i_stream.valid.eq(rx_fifo.r_rdy),
                     rx_fifo.r_en.eq(rx_skid.i_stream.ready)]
        # The line bytes leave through a skid buffer: the UART sits by its pin, far from the
        # sender, and the sender's escape and state logic should not share a cycle with that
        # route (in either direction).
        skid("line_skid", source=send.o_stream, sink=wiring.flipped(self.o_stream))
        # The executor's reply bytes come from many states; a skid buffer keeps that
        # multiplexer and the sender's escaping in separate cycles, and its ready is a
        # flip-flop (in EVAL it enables the shift of the whole output beat register).
        tx = skid("tx_skid", sink=send.i_stream).i_stream

        # theta is banked like the engine's memories (block outputs registered before any
        # multiplexer): it is read at the index register, continuously, and a state that uses
        # the row waits READ_LATENCY cycles after the index changed (theta_wait).
        m.submodules.theta = theta = BankedMemory(unsigned(param_w), n_params, self.block_shapes,
                                                  deep_banks=lean)
        m.submodules.inputs = inputs = BankedMemory(lanes_layout(nm.input.width, lanes),
                                                    in_beats, self.block_shapes, deep_banks=lean)

        # -- frame byte reader: the received body as a byte stream --------------------------------
        # A RowStreamer reads the frame buffer ahead into a small FIFO, so the buffer's read
        # pipeline never waits for the executor (whose state decodes the byte handshake and,
        # as the buffer's read enable, was one of the longest paths at 100 MHz). ``rx_flush``
        # empties it at the end of every frame, whatever the command left unread.
        rx_flush = Signal()
        m.submodules.rx_reader = rx_reader = ResetInserter(rx_flush)(
            RowStreamer(unsigned(8), len(recv.rd_addr), recv.max_bytes))
        rx_ready = Signal()
        length = recv.frame.payload.length
        m.d.comb += [recv.rd_addr.eq(rx_reader.rd_addr), recv.rd_en.eq(1),
                     rx_reader.rd_data.eq(recv.rd_data), rx_reader.count.eq(length),
                     rx_reader.o_stream.ready.eq(rx_ready)]
        rx_valid = rx_reader.o_stream.valid
        rx_byte = rx_reader.o_stream.payload
        rx_fire = rx_valid & rx_ready

        # -- registers of the command in flight ---------------------------------------------------
        hdr = Signal(header_layout())
        # registered: the validator reads it many cycles after the frame arrived (after the
        # header), and the subtraction's carry chain in front of the validator's first stage
        # was the ULX3S build's critical path at 97.7 MHz
        data_len = Signal(range(recv.max_bytes + 1))
        m.d.sync += data_len.eq(length - HEADER_BYTES)
        status = Signal(3)
        r_opcode = Signal(8)
        r_seq = Signal(8)
        r_length = Signal(16)  # the reply's data bytes
        updates = Signal(32)  # UPDATEs applied since power-on
        count = Signal(16)
        index = Signal(max(16, in_beats.bit_length() + 1, self.index_width + 1))
        gather = Signal(8 * max(beat_bytes, 4))
        got = Signal(range(max(beat_bytes, 4, HEADER_BYTES) + 1))

        # ``gather`` holds the received bytes but the last, which waits in ``rx_last`` for a
        # cycle: the wide register's enable is then a register (``rx_fired``), not the
        # handshake that the executor's state decodes.
        rx_last = Signal(8, reset_less=True)  # read only when rx_fired
        rx_fired = Signal()
        m.d.sync += [rx_fired.eq(rx_fire), rx_last.eq(rx_byte)]
        with m.If(rx_fired):
            m.d.sync += gather.eq(Cat(gather[8:], rx_last))
        gather_now = Mux(rx_fired, Cat(gather[8:], rx_last), gather)

        def gathered(n: int):
            """The last ``n`` bytes received (body bytes, header included), first byte lowest."""
            return gather_now[len(gather) - 8 * n:]

        # Whether ``count`` has reached ``hdr.count`` (and whether it is one short of it) are
        # registers kept beside it, so that no handshake or reply byte waits for a 16-bit
        # comparison with the header.
        count_done = Signal()
        count_last = Signal()

        def count_reset() -> list:
            return [count.eq(0), count_done.eq(hdr.count == 0), count_last.eq(hdr.count == 1)]

        def count_step() -> list:
            return [count.eq(count + 1), count_done.eq(count_last),
                    count_last.eq(count + 2 == hdr.count)]

        # theta is read at ``index`` every cycle; its row is there READ_LATENCY cycles after the
        # index last changed, which the state entered right after the change, and then a
        # ``theta_wait`` state, account for.
        m.d.comb += [theta.rd_addr.eq(index), theta.rd_en.eq(1)]
        lat = Signal(range(READ_LATENCY))

        def theta_wait(state: str, then: str):
            """State ``state``: wait READ_LATENCY - 1 cycles for theta's row, then ``then``."""
            with m.State(state):
                m.d.sync += lat.eq(lat + 1)
                with m.If(lat == READ_LATENCY - 2):
                    m.d.sync += lat.eq(0)
                    m.next = then

        def count_byte():
            m.d.sync += got.eq(got + 1)

        def gather_item(state: str, nbytes: int, then: str):
            """State ``state``: the next item's ``nbytes`` bytes into ``gather``, then ``then``;
            after ``hdr.count`` items, the reply."""
            with m.State(state):
                with m.If(count_done):
                    m.next = "REPLY"
                with m.Else():
                    m.d.comb += rx_ready.eq(1)
                    with m.If(rx_fire):
                        count_byte()
                        with m.If(got == nbytes - 1):
                            m.next = then

        # The reply header (REPLY_FIELDS), sent byte by byte.
        m.submodules.reply = reply = ReplyHeader()
        has_payload = Signal()
        m.d.comb += [reply.fields.opcode.eq(r_opcode), reply.fields.seq.eq(r_seq),
                     reply.fields.status.eq(status), reply.fields.length.eq(r_length),
                     reply.fields.updates.eq(updates), reply.has_payload.eq(has_payload)]

        # -- parameter write port, shared by WRITE_PARAMS and UPDATE ------------------------------
        p_addr = Signal(self.index_width)
        p_value = Signal(unsigned(param_w))
        p_valid = Signal()
        m.d.comb += [
            p_skid.i_stream.payload.addr.eq(p_addr),
            p_skid.i_stream.payload.data.eq(p_value),
            p_skid.i_stream.valid.eq(p_valid),
            # theta takes the write while it waits for the engine (the same row and value
            # every cycle), so its write enable is a register, not the engine's handshake
            theta.wr_addr.eq(p_addr), theta.wr_data.eq(p_value), theta.wr_en.eq(p_valid),
        ]
        p_done = p_valid & p_skid.i_stream.ready
        # A write still in the skid buffer has not reached the engine: replies (and with them
        # EVAL's first input beat) wait for it, so the host never sees a reply before its writes.
        p_pending = p_skid.o_stream.valid

        # -- EVAL: input feeder and output serializer ---------------------------------------------
        # Input rows reach the engine through a RowStreamer (no stalls inside the input memory's
        # read pipeline); it starts when the reply header has gone.
        m.submodules.feeder = feeder = RowStreamer(lanes_layout(nm.input.width, lanes),
                                                   len(inputs.rd_addr), in_beats)
        # A register: set by the reply's last byte, it starts the feeder a cycle later (the
        # reply handshake and opcode decode stay out of the feeder's counter updates).
        feed_start = Signal()
        m.d.sync += feed_start.eq(0)
        feed_count = Signal(range(in_beats + 1))  # EVAL's rows, registered in PREPARE
        m.d.comb += [
            inputs.rd_addr.eq(feeder.rd_addr), inputs.rd_en.eq(1),
            feeder.rd_data.eq(inputs.rd_data), feeder.start.eq(feed_start),
            feeder.count.eq(feed_count),
        ]
        # Skid buffers on both engine streams: the engine's phase decodes its ready and valid,
        # and the feeder and the output serializer sit by the input memory and the executor.
        skid("feed_skid", source=feeder.o_stream, sink=engine.i_stream)
        results = skid("out_skid", source=engine.o_stream).o_stream
        pert = engine.perturb
        m.d.comb += [
            pert.mode.eq(hdr.flags[:MODE_BITS]), pert.negate.eq(hdr.flags[MODE_BITS]),
            pert.mu.eq(hdr.mu), pert.seed.eq(hdr.seed), pert.index.eq(hdr.addr),
        ]
        # EVAL's rows, registered in PREPARE: its beats less one
        eval_last = Signal(range(self.input_groups * out_feat + 1))
        m.submodules.window = window = ResultWindow(lanes, nm.activation.width, out_bytes,
                                                    self.input_groups * out_feat)
        wiring.connect(m, results, window.i_stream)
        # The window's bytes are valid only during EVAL, so it takes the reply buffer's ready
        # directly: the enables of its output beat register (all lanes) stay functions of
        # flip-flops, with no decode of the executor's state.
        m.d.comb += [window.first.eq(hdr.first), window.window.eq(hdr.window),
                     window.last_beat.eq(eval_last), window.o_stream.ready.eq(tx.ready)]

        # -- UPDATE: parameter stream through the update unit -------------------------------------
        if has_update:
            cfg = update.config
            entry_bits = max(1, self.max_directions.bit_length())  # a table entry (seed, coef)
            # Seed and coefficient table writes are registered twice (which table, entry,
            # word) and applied two cycles later: the frame state machine's decode and the entry
            # decode never share a cycle with the tables' 48 x max_directions enables, and the
            # first register can sit by the state machine, the second (copied per group of
            # loads by the build's fanout pass) by the tables. The update unit reads them only
            # when the first parameter reaches it, at least four cycles after the last table
            # byte (UPDATE_READ, the parameter read, UPDATE_FEED, the skid buffer).
            # Only the two write flags depend on the state and the handshake: the entry and the
            # word are always the byte counter and the last four bytes (a coefficient is the
            # word's upper half), so their 48 bits are one LUT from registers.
            tbl = Signal(data.StructLayout({"seed": 1, "coef": 1, "index": entry_bits,
                                       "word": 32}))
            m.d.comb += [tbl.index.eq(count[:entry_bits]), tbl.word.eq(Cat(gathered(3), rx_byte))]
            tbl_q = Signal.like(tbl)
            tbl_qq = Signal.like(tbl)
            m.d.sync += [tbl_q.eq(tbl), tbl_qq.eq(tbl_q)]
            with m.If(tbl_qq.seed):
                m.d.sync += cfg.seeds[tbl_qq.index].eq(tbl_qq.word)
            with m.If(tbl_qq.coef):
                m.d.sync += cfg.coefs[tbl_qq.index].eq(tbl_qq.word[16:])
            is_bias = Const(0, 1)
            for lo, hi in cfg_dev.bias_ranges():
                is_bias = is_bias | ((to_update.payload.index >= lo)
                                     & (to_update.payload.index < hi))
            m.d.comb += to_update.payload.bias.eq(is_bias)

        # -- validation: the command table's verdict and reply length, registered ------------------
        m.submodules.validator = validator = CommandValidator(cfg_dev.sizes())
        m.d.comb += [validator.header.eq(hdr), validator.data_len.eq(data_len),
                     validator.updates.eq(updates)]
        wait = Signal(range(CommandValidator.LATENCY))
        info_rom = pack_fields(INFO_FIELDS, cfg_dev.info())
        info_mem = Memory(shape=8, depth=len(info_rom), init=list(info_rom))
        m.submodules.info_rom = info_mem
        info_rd = info_mem.read_port(domain="comb")

        m.d.comb += self.busy.eq(recv.frame.valid)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(recv.frame.valid):
                    m.d.comb += reply.restart.eq(1)
                    m.d.sync += [got.eq(0), r_opcode.eq(0), r_length.eq(0),
                                 r_seq.eq(0), status.eq(recv.frame.payload.status),
                                 has_payload.eq(0)]
                    with m.If(recv.frame.payload.status != Status.OK):
                        m.next = "REPLY"
                    with m.Elif(length < HEADER_BYTES):
                        m.d.sync += status.eq(Status.BAD_LENGTH)
                        m.next = "REPLY"
                    with m.Else():
                        m.d.comb += rx_reader.start.eq(1)
                        m.next = "HEADER"

            with m.State("HEADER"):
                m.d.comb += rx_ready.eq(1)
                with m.If(rx_fire):
                    m.d.sync += [hdr.eq(Cat(hdr.as_value()[8:], rx_byte)), got.eq(got + 1)]
                    with m.If(got == HEADER_BYTES - 1):
                        m.d.sync += got.eq(0)
                        m.next = "PREPARE"

            with m.State("PREPARE"):
                # Products of header fields are registered here, never used combinationally
                # (a multiplier feeding the feeder's start logic was a critical path). They are
                # shift-and-add in the fabric: a DSP block, far from the executor, put two long
                # routes around its own delay.
                m.d.sync += [feed_count.eq(times(hdr.count, in_feat)),
                             eval_last.eq(times(hdr.count, out_feat) - 1), wait.eq(0)]
                m.next = "VALIDATE"

            # The validator's verdict is ready LATENCY cycles after PREPARE began.
            with m.State("VALIDATE"):
                m.d.sync += wait.eq(wait + 1)
                with m.If(wait == CommandValidator.LATENCY - 2):
                    m.next = "CHECK"

            with m.State("CHECK"):
                m.d.sync += [r_opcode.eq(hdr.opcode), r_seq.eq(hdr.seq), *count_reset(),
                             index.eq(hdr.addr), status.eq(validator.status),
                             r_length.eq(validator.reply_length),
                             has_payload.eq(validator.reply_length != 0)]
                m.next = "REPLY"
                with m.If(validator.status == Status.OK):
                    with m.Switch(hdr.opcode):
                        with m.Case(Opcode.WRITE_PARAMS):
                            m.next = "WRITE_GATHER"
                        with m.Case(Opcode.LOAD_INPUT):
                            m.next = "LOAD_GATHER"
                        if has_update:
                            with m.Case(Opcode.UPDATE):
                                m.next = "UPDATE_SEEDS"

            # WRITE_PARAMS: two bytes per parameter, then a write to theta and the engine.
            gather_item("WRITE_GATHER", PARAM_BYTES, "WRITE_PUSH")
            with m.State("WRITE_PUSH"):
                m.d.sync += [p_valid.eq(1), p_addr.eq(index), p_value.eq(gathered(PARAM_BYTES)),
                             got.eq(0)]
                m.next = "WRITE_WAIT"
            with m.State("WRITE_WAIT"):
                with m.If(p_done):
                    m.d.sync += [p_valid.eq(0), index.eq(index + 1), *count_step()]
                    m.next = "WRITE_GATHER"

            # LOAD_INPUT: one beat of lanes x input_bytes, then one input memory write.
            gather_item("LOAD_GATHER", beat_bytes, "LOAD_WRITE")
            with m.State("LOAD_WRITE"):
                beat = gathered(beat_bytes)
                m.d.comb += [inputs.wr_addr.eq(index), inputs.wr_en.eq(1)]
                for lane in range(lanes):
                    m.d.comb += inputs.wr_data[lane].eq(beat[8 * in_bytes * lane:])
                m.d.sync += [index.eq(index + 1), *count_step(), got.eq(0)]
                m.next = "LOAD_GATHER"

            if has_update:
                def table_entries(nbytes: int, flag, on_done: list, then: str):
                    """``hdr.count`` table entries of ``nbytes`` bytes, each written (``flag``)
                    when its last byte arrives; then ``on_done`` and state ``then``."""
                    with m.If(count_done):
                        m.d.sync += on_done
                        m.next = then
                    with m.Else():
                        m.d.comb += rx_ready.eq(1)
                        with m.If(rx_fire):
                            count_byte()
                            with m.If(got == nbytes - 1):
                                m.d.comb += flag.eq(1)
                                m.d.sync += [*count_step(), got.eq(0)]

                # UPDATE: seeds, coefficients, then the pass.
                with m.State("UPDATE_SEEDS"):
                    m.d.sync += [cfg.gauss.eq(hdr.flags[GAUSS_FLAG]), cfg.count.eq(hdr.count),
                                 cfg.shift.eq(hdr.shift + Mux(hdr.flags[GAUSS_FLAG], 2, 0))]
                    table_entries(SEED_BYTES, tbl.seed, count_reset(), "UPDATE_COEFS")
                with m.State("UPDATE_COEFS"):
                    table_entries(COEF_BYTES, tbl.coef, [index.eq(0)], "UPDATE_READ")
                with m.State("UPDATE_READ"):
                    with m.If(index == n_params):
                        m.d.sync += updates.eq(updates + 1)
                        m.next = "REPLY"
                    with m.Else():
                        m.next = "UPDATE_FETCH"
                theta_wait("UPDATE_FETCH", "UPDATE_FEED")
                with m.State("UPDATE_FEED"):
                    m.d.comb += [to_update.valid.eq(1),
                                 to_update.payload.index.eq(index),
                                 to_update.payload.value.eq(theta.rd_data)]
                    with m.If(to_update.ready):
                        m.next = "UPDATE_WAIT"
                with m.State("UPDATE_WAIT"):
                    m.d.comb += from_update.ready.eq(1)
                    with m.If(from_update.valid):
                        m.d.sync += [p_valid.eq(1), p_addr.eq(index),
                                     p_value.eq(from_update.payload.value)]
                        m.next = "UPDATE_WRITE"
                with m.State("UPDATE_WRITE"):
                    with m.If(p_done):
                        m.d.sync += [p_valid.eq(0), index.eq(index + 1)]
                        m.next = "UPDATE_READ"

            # Reply header; then the payload, or the end of the frame.
            with m.State("REPLY"):
                # the reply waits for writes still on their way to the engine
                m.d.comb += [tx.valid.eq(~p_pending), tx.payload.eq(reply.o_stream.payload),
                             reply.o_stream.ready.eq(tx.ready & ~p_pending)]
                with m.If(tx.valid & tx.ready):
                    with m.If(reply.ends):
                        with m.If(~has_payload):
                            m.next = "FINISH"
                        with m.Elif(r_opcode == Opcode.INFO):
                            m.d.sync += index.eq(0)
                            m.next = "INFO"
                        with m.Elif(r_opcode == Opcode.READ_PARAMS):
                            m.next = "READ_ADDR"
                        with m.Else():
                            m.d.comb += window.start.eq(1)
                            m.d.sync += feed_start.eq(1)
                            m.next = "EVAL"

            with m.State("INFO"):
                m.d.comb += [info_rd.addr.eq(index), tx.valid.eq(1),
                             tx.payload.data.eq(info_rd.data),
                             tx.payload.last.eq(index == len(info_rom) - 1)]
                with m.If(tx.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == len(info_rom) - 1):
                        m.next = "FINISH"

            # READ_PARAMS: low byte, high byte per parameter.
            theta_wait("READ_ADDR", "READ_LO")
            with m.State("READ_LO"):
                m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(theta.rd_data)]
                with m.If(tx.ready):
                    m.next = "READ_HI"
            with m.State("READ_HI"):
                m.d.comb += [tx.valid.eq(1),
                             tx.payload.data.eq(theta.rd_data.as_signed() >> 8),
                             tx.payload.last.eq(count_last)]
                with m.If(tx.ready):
                    m.d.sync += [index.eq(index + 1), *count_step()]
                    m.next = "READ_NEXT"
            with m.State("READ_NEXT"):
                with m.If(count_done):
                    m.next = "FINISH"
                with m.Else():
                    m.next = "READ_ADDR"

            # EVAL: the feeder streams groups into the engine; every output beat is taken, the
            # window's beats leave byte by byte, the others are dropped.
            with m.State("EVAL"):
                m.d.comb += [tx.valid.eq(window.o_stream.valid),
                             tx.payload.eq(window.o_stream.payload)]
                with m.If(window.done):
                    m.next = "FINISH"

            with m.State("FINISH"):
                m.d.comb += [recv.frame.ready.eq(1), rx_flush.eq(1)]
                m.d.sync += p_valid.eq(0)
                m.next = "IDLE"
        return m

