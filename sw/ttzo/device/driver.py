"""Host interface of the accelerator: typed commands over any :class:`~ttzo.device.link.Link`.

Every command is one frame and one reply (stop-and-wait). A reply lost or damaged on the line is
recovered by sending the same frame again (same sequence number; the device does not apply a
repeated UPDATE twice); a refused command raises :class:`DeviceError` naming the command, its
arguments and the device's verdict.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ..golden.model import GoldenModel
from ..golden.perturb import MODES, Perturbation, apply_update
from .config import DeviceConfig
from .link import Link, LinkError
from .protocol import (
    HEADER_FIELDS,
    INFO_FIELDS,
    MAGIC,
    MODE_BITS,
    PARAM_BYTES,
    REPLY_HEADER_BYTES,
    Opcode,
    SlipDecoder,
    Status,
    encode_frame,
    from_words,
    pack_fields,
    to_words,
    unpack_fields,
)

__all__ = ["Device", "DeviceError"]


class DeviceError(RuntimeError):
    """The device refused a command, or is not the accelerator the host expects."""


class Device:
    """An accelerator behind ``link``.

    Parameters
    ----------
    link : Link
        Serial port, emulator or simulation.
    config : DeviceConfig, optional
        What the host expects; checked against the device's INFO reply.
    timeout : float
        Seconds to wait for a reply before sending the command again.
    retries : int
        Extra attempts after a lost or damaged frame.
    """

    def __init__(self, link: Link, config: DeviceConfig | None = None, timeout: float = 2.0,
                 retries: int = 3):
        self.link = link
        self.timeout = timeout
        self.retries = retries
        self._seq = 0
        self._decoder = SlipDecoder()
        self.retransmissions = 0
        self.info = self.read_info()
        self.config = config
        if config is not None:
            self.check(config)

    # -- transport ------------------------------------------------------------------------------
    def _transact(self, opcode: Opcode, data: bytes = b"", **fields: int) -> bytes:
        self._seq = (self._seq + 1) & 0xFF
        header = pack_fields(HEADER_FIELDS, {"opcode": int(opcode), "seq": self._seq, **fields})
        frame = encode_frame(header + data)
        problem = "no reply"
        for attempt in range(self.retries + 1):
            if attempt:
                self.retransmissions += 1
            self.link.write(frame)
            reply, problem = self._await_reply(opcode)
            if reply is not None:
                status = Status(reply[2])
                if status != Status.OK:
                    args = ", ".join(f"{k}={v}" for k, v in fields.items())
                    name = getattr(opcode, "name", f"opcode {opcode}")
                    raise DeviceError(f"device refused {name}({args}) with "
                                      f"{len(data)} data bytes: {status.name}")
                return reply[REPLY_HEADER_BYTES:]
        name = getattr(opcode, "name", f"opcode {opcode}")
        raise LinkError(f"{name}: {problem} after {self.retries + 1} attempts")

    def _await_reply(self, opcode: Opcode) -> tuple[bytes | None, str]:
        deadline = time.monotonic() + self.timeout
        while True:
            while self._decoder.frames:
                body = self._decoder.frames.pop(0)
                if len(body) < REPLY_HEADER_BYTES:
                    return None, f"short reply of {len(body)} bytes"
                if body[2] in (Status.BAD_CRC, Status.BAD_LENGTH):
                    return None, f"device saw a damaged frame ({Status(body[2]).name})"
                if body[0] == opcode and body[1] == self._seq:
                    return body, ""
                # a late reply to an earlier attempt: skip it
            if self._decoder.errors:
                errors, self._decoder.errors = self._decoder.errors, []
                return None, f"damaged reply ({errors[0]})"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, f"no reply within {self.timeout} s"
            self._decoder.feed(self.link.read(remaining))

    # -- commands -------------------------------------------------------------------------------
    def read_info(self) -> dict[str, int]:
        info = unpack_fields(INFO_FIELDS, self._transact(Opcode.INFO))
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

    def _max_items(self, item_bytes: int) -> int:
        return max(1, self.info["max_data"] // item_bytes)

    def write_params(self, theta_int: np.ndarray, start: int = 0) -> None:
        """Write integer parameters ``theta_int`` at ``start`` (each within its format)."""
        theta_int = np.asarray(theta_int, dtype=np.int64).ravel()
        limit = 1 << (8 * PARAM_BYTES - 1)
        bad = np.flatnonzero((theta_int < -limit) | (theta_int >= limit))
        if bad.size:
            raise ValueError(f"parameter {start + bad[0]} = {theta_int[bad[0]]} does not fit "
                             f"{8 * PARAM_BYTES} bits")
        step = self._max_items(PARAM_BYTES)
        for lo in range(0, theta_int.size, step):
            chunk = theta_int[lo:lo + step]
            self._transact(Opcode.WRITE_PARAMS, to_words(chunk, PARAM_BYTES), addr=start + lo,
                           count=chunk.size)

    def read_params(self, start: int = 0, count: int | None = None) -> np.ndarray:
        count = self.info["params"] - start if count is None else count
        out = []
        step = self._max_items(PARAM_BYTES)
        for lo in range(0, count, step):
            n = min(step, count - lo)
            out.append(from_words(self._transact(Opcode.READ_PARAMS, addr=start + lo, count=n),
                                PARAM_BYTES))
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
        step = self._max_items(beat_bytes)
        for lo in range(0, beats.shape[0], step):
            chunk = beats[lo:lo + step]
            self._transact(Opcode.LOAD_INPUT, to_words(chunk, info["input_bytes"]), addr=lo,
                           count=chunk.shape[0])
        return groups

    def evaluate(self, perturbation: Perturbation, groups: int) -> np.ndarray:
        """Forward pass of the first ``groups`` stored groups at the perturbed parameters.

        Returns integer outputs of shape ``(groups * lanes, out_features)``.
        """
        info = self.info
        p = perturbation
        flags = MODES.index(p.mode) | (int(p.negate) << MODE_BITS)
        data = self._transact(Opcode.EVAL, flags=flags, mu=p.mu, seed=int(p.seed),
                              addr=int(p.index), count=groups)
        lanes, n_out = info["lanes"], info["out_features"]
        values = from_words(data, info["output_bytes"])
        expected = groups * n_out * lanes
        if values.size != expected:
            raise DeviceError(f"EVAL returned {values.size} outputs, expected {expected}")
        return values.reshape(groups, n_out, lanes).transpose(0, 2, 1).reshape(-1, n_out)

    def update(self, kind: str, seeds: Sequence[int], coefs: Sequence[int], frac: int) -> None:
        """``theta -= round(sum_q coefs[q] * u_q(seeds[q]) / 2**frac)`` on the device."""
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
        if np.any(np.abs(coefs) >= 1 << 15):
            raise ValueError(f"update coefficients must fit int16, got {coefs.tolist()}")
        data = to_words(np.asarray(seeds, dtype=np.int64), 4) + to_words(coefs, 2)
        self._transact(Opcode.UPDATE, data, flags=int(kind == "gauss") << (MODE_BITS + 1),
                       shift=frac, count=len(seeds))

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
