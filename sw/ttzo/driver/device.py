"""Host interface of the accelerator: typed commands over any :class:`~ttzo.driver.link.Link`.

Every command is one frame and one reply (stop-and-wait). A reply that is lost, damaged, or that
reports a damaged command (``BAD_CRC``, ``BAD_LENGTH``, ``TOO_LONG``) is recovered by sending the
same frame again: at once after damage, after a timeout that adapts to the measured round trips
and doubles with each silence (back-off), until ``patience`` seconds (on the link's clock) have
passed. Commands that move many items (parameter
writes and reads, input loads, EVAL outputs) adapt their frame size to the line: a failed
attempt halves the payload per frame, successes grow it back, so a noisy line costs throughput,
not the run. Replies are checked for their exact length (:data:`~ttzo.spec.protocol.COMMANDS`).

``UPDATE`` is applied exactly once: it names the update counter the host last saw, the device
refuses it as ``STALE_UPDATE`` if its counter differs, and every reply reports the counter, so a
repeated UPDATE whose first reply was lost is recognised as applied, and a host that lost the
link can reconnect and compare :attr:`Device.updates` with what it expected. A refused command
raises :class:`DeviceError` naming the command, its arguments and the device's verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ttzo.golden.model import GoldenModel
from ttzo.golden.perturb import apply_update
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.perturb import MODES, Perturbation
from ttzo.spec.protocol import (
    COEF_BITS,
    COEF_BYTES,
    COMMANDS,
    DAMAGE,
    GAUSS_FLAG,
    HEADER_FIELDS,
    INFO_FIELDS,
    MAGIC,
    MODE_BITS,
    PARAM_BYTES,
    REPLY_FIELDS,
    REPLY_HEADER_BYTES,
    SEED_BYTES,
    Opcode,
    SlipDecoder,
    Status,
    device_sizes,
    encode_frame,
    from_words,
    pack_fields,
    to_words,
    unpack_fields,
)

from .link import Link, LinkError

__all__ = ["Device", "DeviceError", "LinkStats"]

_COUNTER_MASK = 0xFFFFFFFF


class DeviceError(RuntimeError):
    """The device refused a command, or is not the accelerator the host expects."""


@dataclass
class LinkStats:
    """What the link cost: commands, attempts and why attempts failed."""

    commands: int = 0
    attempts: int = 0
    retransmissions: int = 0
    damaged_replies: int = 0  # replies the host could not read (CRC, escape, length)
    damaged_commands: int = 0  # commands the device reported damaged (BAD_CRC, ...)
    timeouts: int = 0  # attempts with no reply in time
    recovered_updates: int = 0  # UPDATEs found applied after their reply was lost
    frame_shrinks: int = 0  # times a failed attempt halved the frame payload

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _Shrink(Exception):
    """An attempt of a splittable frame failed: the caller sends less per frame."""


@dataclass
class _Reply:
    status: Status
    updates: int
    data: bytes
    attempts: int  # frames sent for this command


class Device:
    """An accelerator behind ``link``.

    Parameters
    ----------
    link : Link
        Serial port, emulator or simulation.
    config : DeviceConfig, optional
        What the host expects; checked against the device's INFO reply.
    timeout : float
        Longest wait for a reply before sending the command again. The wait adapts to the
        round trips measured (as TCP's retransmission timeout does: smoothed round trip plus
        four deviations, doubled after each timeout) between ``min_timeout`` and ``timeout``.
    min_timeout : float
        Shortest wait for a reply.
    patience : float
        Seconds one command may take, retries included, before :class:`LinkError`.

    Attributes
    ----------
    info : dict
        The device's INFO reply.
    updates : int
        The device's update counter in its latest reply.
    stats : LinkStats
    """

    def __init__(self, link: Link, config: DeviceConfig | None = None, timeout: float = 1.0,
                 patience: float = 120.0, min_timeout: float = 0.05):
        for name, value in (("timeout", timeout), ("patience", patience),
                            ("min_timeout", min_timeout)):
            if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        self.link = link
        self.timeout = timeout
        self.min_timeout = min(min_timeout, timeout)
        self._srtt: float | None = None  # smoothed round trip of clean first attempts
        self._rttvar = 0.0
        self.patience = patience
        self._clock = link.now  # the link's time: wall, virtual (emulator) or simulated
        self._seq = 0
        self._decoder = SlipDecoder()
        self.stats = LinkStats()
        self.updates = 0
        self._budget: int | None = None  # payload bytes per frame; None: as large as allowed
        self.info: dict[str, int] = {}
        self.sizes: dict[str, int] = {}  # INFO's reply length needs none of them
        self.info = self.read_info()
        self.sizes = device_sizes(self.info)
        self.config = config
        if config is not None:
            self.check(config)

    @property
    def retransmissions(self) -> int:
        return self.stats.retransmissions

    # -- transport ------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = self._seq % 255 + 1  # 1..255: 0 marks replies to unreadable frames
        return self._seq

    def _transact(self, opcode: int, data: bytes = b"", splittable: bool = False,
                  **fields: int) -> _Reply:
        """Send one command until a reply that is not damage; ``STALE_UPDATE`` is returned,
        other refusals raise :class:`DeviceError`. A ``splittable`` command (one of several
        items) raises ``_Shrink`` after a failed attempt, for the caller to send fewer."""
        name = getattr(opcode, "name", f"opcode {opcode}")
        max_data = self.info.get("max_data")
        if max_data is not None and len(data) > max_data:
            raise ValueError(f"{name} with {len(data)} data bytes exceeds the device's frame "
                             f"limit of {max_data} (max_data)")
        header = {name: 0 for name, _ in HEADER_FIELDS}
        header.update(opcode=int(opcode), seq=self._next_seq(), length=len(data), **fields)
        command = COMMANDS.get(opcode)  # type: ignore[call-overload]
        expected = command.reply_bytes(header, self.sizes) if command else None
        frame = encode_frame(pack_fields(HEADER_FIELDS, header) + data)
        self.stats.commands += 1
        start = self._clock()
        failures = 0
        wait = self._retransmission_timeout()
        while True:
            self.stats.attempts += 1
            sent = self._clock()
            self.link.write(frame)
            reply, problem = self._await_reply(header, expected, wait)
            if reply is not None:
                if not failures:  # Karn: only unambiguous round trips are measured
                    self._measure(self._clock() - sent)
                self._grow_budget()
                reply.attempts = failures + 1
                if reply.status in (Status.OK, Status.STALE_UPDATE):
                    return reply
                args = ", ".join(f"{k}={v}" for k, v in fields.items())
                raise DeviceError(f"device refused {name}({args}) with {len(data)} data bytes: "
                                  f"{reply.status.name}")
            failures += 1
            elapsed = self._clock() - start
            if elapsed >= self.patience:
                raise LinkError(f"{name}: {problem}; gave up after {failures} attempts in "
                                f"{elapsed:.1f} s (the device's update counter was last seen at "
                                f"{self.updates})")
            self.stats.retransmissions += 1  # this frame, or its items in smaller ones
            if splittable:  # several items: send fewer per frame
                self._shrink_budget(max(len(data), expected or 0))
                raise _Shrink
            if problem.startswith("no reply"):  # back off: the device may be slower than seen
                wait = min(self.timeout, 2 * wait)

    def _retransmission_timeout(self) -> float:
        if self._srtt is None:
            return self.timeout
        return min(self.timeout, max(self.min_timeout, self._srtt + 4 * self._rttvar))

    def _measure(self, rtt: float) -> None:
        """RFC 6298's smoothing of round-trip samples."""
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
            self._srtt = 0.875 * self._srtt + 0.125 * rtt

    def _await_reply(self, header: dict, expected: int | None,
                     wait: float) -> tuple[_Reply | None, str]:
        deadline = self._clock() + wait
        while True:
            while self._decoder.frames:
                body = self._decoder.frames.pop(0)
                if len(body) < REPLY_HEADER_BYTES:
                    self.stats.damaged_replies += 1
                    return None, f"short reply of {len(body)} bytes"
                hdr = unpack_fields(REPLY_FIELDS, body)
                data = body[REPLY_HEADER_BYTES:]
                try:
                    status: Status | None = Status(hdr["status"])
                except ValueError:  # not a status the protocol has: a damaged reply
                    status = None
                if status in DAMAGE and hdr["opcode"] == 0:  # a frame the device could not read
                    self.stats.damaged_commands += 1
                    return None, f"device saw a damaged frame ({status.name})"
                if hdr["opcode"] != header["opcode"] or hdr["seq"] != header["seq"]:
                    continue  # a late reply to an earlier attempt or command: skip it
                want = expected if status == Status.OK and expected is not None else (
                    0 if status != Status.OK else len(data))
                if status is None or hdr["length"] != len(data) or len(data) != want:
                    self.stats.damaged_replies += 1
                    return None, (f"reply with status {hdr['status']} and {len(data)} data bytes "
                                  f"(length field {hdr['length']}, expected {want})")
                self.updates = hdr["updates"]
                if status in DAMAGE:
                    self.stats.damaged_commands += 1
                    return None, f"device saw a damaged frame ({status.name})"
                return _Reply(status, hdr["updates"], data, 0), ""
            if self._decoder.errors:
                errors, self._decoder.errors = self._decoder.errors, []
                self.stats.damaged_replies += 1
                return None, f"damaged reply ({errors[0]})"
            remaining = deadline - self._clock()
            if remaining <= 0:
                self.stats.timeouts += 1
                return None, f"no reply within {wait:.3g} s"
            self._decoder.feed(self.link.read(remaining))

    def _shrink_budget(self, payload: int) -> None:
        """Halve the payload per frame after a failed attempt carrying ``payload`` bytes."""
        self._budget = max(1, min(payload, self._budget or payload) // 2)
        self.stats.frame_shrinks += 1

    def _grow_budget(self) -> None:
        if self._budget is not None:
            self._budget += max(1, self._budget // 4)
            if self._budget >= 1 << 16:
                self._budget = None

    def _items_per_frame(self, item_bytes: int, limit: int) -> int:
        """How many items of ``item_bytes`` the next frame carries (at least one)."""
        if self._budget is not None:
            limit = min(limit, self._budget // item_bytes)
        return max(1, limit)

    def _chunked(self, total: int, item_bytes: int, limit: int, send, what: str) -> list:
        """``send(lo, n)`` for consecutive runs of the ``total`` items, ``n`` adapting to the
        line; returns what each call returned. A lost link is reported with how many of the
        ``what`` were confirmed, so the caller knows what the device holds."""
        out, lo = [], 0
        while lo < total:
            n = min(total - lo, self._items_per_frame(item_bytes, limit))
            try:
                out.append(send(lo, n))
            except _Shrink:
                continue
            except LinkError as err:
                raise LinkError(f"{err}; {lo} of {total} {what} were confirmed before it, the "
                                f"rest is unknown") from None
            lo += n
        return out

    # -- commands -------------------------------------------------------------------------------
    def read_info(self) -> dict[str, int]:
        """Ask the device what it was built for (and refresh :attr:`updates`)."""
        info = unpack_fields(INFO_FIELDS, self._transact(Opcode.INFO).data)
        if info["magic"] != MAGIC:
            raise DeviceError(f"not a ttzo accelerator (magic 0x{info['magic']:08x})")
        return info

    def check(self, config: DeviceConfig) -> None:
        """Raise :class:`DeviceError` naming every field where the bitstream differs."""
        expected = config.info()
        fields = [k for k in expected if k not in ("clock_hz", "reserved")]
        wrong = [f"{k}: device {self.info[k]}, host {expected[k]}" for k in fields
                 if self.info[k] != expected[k]]
        if wrong:
            raise DeviceError("the device was built for another configuration ("
                              + "; ".join(wrong) + ")")

    def _data_limit(self, item_bytes: int) -> int:
        return max(1, self.info["max_data"] // item_bytes)

    def write_params(self, theta_int: np.ndarray, start: int = 0) -> None:
        """Write integer parameters ``theta_int`` at ``start`` (each within its format)."""
        theta_int = np.asarray(theta_int, dtype=np.int64).ravel()
        limit = 1 << (8 * PARAM_BYTES - 1)
        bad = np.flatnonzero((theta_int < -limit) | (theta_int >= limit))
        if bad.size:
            raise ValueError(f"parameter {start + bad[0]} = {theta_int[bad[0]]} does not fit "
                             f"{8 * PARAM_BYTES} bits")

        def send(lo: int, n: int):
            self._transact(Opcode.WRITE_PARAMS, to_words(theta_int[lo:lo + n], PARAM_BYTES),
                           splittable=n > 1, addr=start + lo, count=n)

        self._chunked(theta_int.size, PARAM_BYTES, self._data_limit(PARAM_BYTES), send,
                      f"parameters written from {start}")

    def read_params(self, start: int = 0, count: int | None = None) -> np.ndarray:
        """``count`` parameters from ``start`` (all from ``start`` by default)."""
        count = self.info["params"] - start if count is None else count

        def send(lo: int, n: int):
            reply = self._transact(Opcode.READ_PARAMS, splittable=n > 1, addr=start + lo, count=n)
            return from_words(reply.data, PARAM_BYTES)

        out = self._chunked(count, PARAM_BYTES, self._data_limit(PARAM_BYTES), send,
                            "parameters read")
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def load_inputs(self, x_int: np.ndarray) -> int:
        """Store samples ``x_int`` (``(n, in_features)`` integers) on the device.

        Returns the number of groups they fill (the last one padded with zeros).
        """
        info = self.info
        lanes, n_in = info["lanes"], info["in_features"]
        x_int = np.asarray(x_int, dtype=np.int64)
        capacity = lanes * info["input_groups"]
        if x_int.ndim != 2 or x_int.shape[1] != n_in or not 1 <= x_int.shape[0] <= capacity:
            raise ValueError(f"inputs of shape {x_int.shape} do not fit the device, which holds "
                             f"(1 to {capacity}, {n_in})")
        groups = -(-x_int.shape[0] // lanes)
        padded = np.zeros((groups * lanes, n_in), dtype=np.int64)
        padded[:x_int.shape[0]] = x_int
        # beat (g, n) = element n of the samples of group g, lane by lane
        beats = padded.reshape(groups, lanes, n_in).transpose(0, 2, 1).reshape(-1, lanes)
        beat_bytes = lanes * info["input_bytes"]

        def send(lo: int, n: int):
            self._transact(Opcode.LOAD_INPUT, to_words(beats[lo:lo + n], info["input_bytes"]),
                           splittable=n > 1, addr=lo, count=n)

        self._chunked(beats.shape[0], beat_bytes, self._data_limit(beat_bytes), send,
                      "input beats loaded")
        return groups

    def evaluate(self, perturbation: Perturbation, groups: int) -> np.ndarray:
        """Forward pass of the first ``groups`` stored groups at the perturbed parameters.

        Returns integer outputs of shape ``(groups * lanes, out_features)``.
        """
        info = self.info
        p = perturbation
        lanes, n_out = info["lanes"], info["out_features"]
        flags = MODES.index(p.mode) | (int(p.negate) << MODE_BITS)
        beat_bytes = lanes * info["output_bytes"]
        total = groups * n_out

        def send(lo: int, n: int):
            reply = self._transact(Opcode.EVAL, splittable=n > 1, flags=flags, mu=p.mu,
                                   seed=int(p.seed), addr=int(p.index), count=groups, first=lo,
                                   window=n)
            return from_words(reply.data, info["output_bytes"])

        values = np.concatenate(self._chunked(total, beat_bytes, total, send,
                                              "output beats received"))
        return values.reshape(groups, n_out, lanes).transpose(0, 2, 1).reshape(-1, n_out)

    def update(self, kind: str, seeds: Sequence[int], coefs: Sequence[int], frac: int) -> None:
        """``theta -= round(sum_q coefs[q] * u_q(seeds[q]) / 2**frac)`` on the device, exactly
        once."""
        if kind not in ("rademacher", "gauss"):
            raise ValueError(f"update directions must be 'rademacher' or 'gauss', not {kind!r}")
        if len(seeds) != len(coefs):
            raise ValueError(f"{len(seeds)} seeds but {len(coefs)} coefficients")
        if self.info["max_directions"] == 0:  # no update unit: the same rule on the host
            self._update_on_host(kind, seeds, coefs, frac)
            return
        if len(seeds) > self.info["max_directions"]:
            raise ValueError(f"{len(seeds)} directions exceed the device's "
                             f"{self.info['max_directions']}")
        coefs = np.asarray(coefs, dtype=np.int64)
        limit = 1 << (COEF_BITS - 1)
        if np.any((coefs < -limit) | (coefs >= limit)):
            raise ValueError(f"update coefficients must fit int{COEF_BITS}, got {coefs.tolist()}")
        seeds = np.asarray(seeds, dtype=np.int64)
        if np.any((seeds < 0) | (seeds > _COUNTER_MASK)):
            raise ValueError(f"update seeds must be 32-bit unsigned, got {seeds.tolist()}")
        data = to_words(seeds, SEED_BYTES) + to_words(coefs, COEF_BYTES)
        expected = self.updates
        reply = self._transact(Opcode.UPDATE, data, flags=int(kind == "gauss") << GAUSS_FLAG,
                               shift=frac, count=len(seeds), updates=expected)
        if reply.status == Status.OK:
            return
        if reply.attempts > 1 and reply.updates == (expected + 1) & _COUNTER_MASK:
            self.stats.recovered_updates += 1  # an earlier attempt applied it; its reply was lost
            return
        raise DeviceError(f"UPDATE refused as stale: the host expected the device to have applied "
                          f"{expected} updates, it has applied {reply.updates} (another host, or "
                          f"a reconnect: read the parameters and the counter again)")

    def _update_on_host(self, kind: str, seeds: Sequence[int], coefs: Sequence[int],
                        frac: int) -> None:
        if self.config is None:
            raise DeviceError("this device has no update unit; give Device a DeviceConfig so "
                              "that the host can apply updates")
        widths = GoldenModel(self.config.spec).param_widths()
        theta = apply_update(self.read_params(), kind, list(seeds), list(coefs), frac, widths)
        self.write_params(theta)

    def close(self) -> None:
        self.link.close()
