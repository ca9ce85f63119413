"""TensorBoard event files holding scalars, written without TensorFlow, PyTorch or tensorboardX.

An event file (``events.out.tfevents.*``) is a TFRecord file of ``tensorflow.Event`` protocol buffers: each
record is its length (``uint64``, little-endian), the masked CRC-32C of those 8 bytes, the bytes, and their
masked CRC-32C. The first event names the format (``file_version = "brain.Event:2"``); each scalar is an event
with ``wall_time``, ``step`` and a ``Summary`` of one ``Value`` with a ``tag`` and a ``simple_value``, which
TensorBoard shows as a point of the chart named by the tag. The few fields needed are encoded here by hand
(protobuf's wire format), so writing curves costs no framework import in the process that trains: tensorboardX
imports PyTorch when it is installed, and ``tf.summary`` needs TensorFlow. Readers: TensorBoard,
``tf.compat.v1.train.summary_iterator`` (which checks the CRCs), tensorboard's ``EventAccumulator``.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path
from typing import IO

#: The format version TensorBoard expects in the first event of a file.
FILE_VERSION = "brain.Event:2"


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # Castagnoli, reflected
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TFRecord's CRC: CRC-32C rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # int64 on the wire: two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field(number: int, wire_type: int) -> bytes:
    return _varint((number << 3) | wire_type)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _varint(len(payload)) + payload


def event(wall_time: float, step: int = 0, *, file_version: str | None = None,
          scalars: dict[str, float] | None = None) -> bytes:
    """One serialized ``Event``: ``wall_time`` (field 1, double), ``step`` (2, int64), ``file_version`` (3,
    string) or a ``summary`` (5) of ``Value``s, each a ``tag`` (1, string) and a ``simple_value`` (2, float)."""
    out = _field(1, 1) + struct.pack("<d", wall_time) + _field(2, 0) + _varint(step)
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if scalars:
        values = b"".join(_bytes_field(1, _bytes_field(1, tag.encode()) + _field(2, 5) + struct.pack("<f", value))
                          for tag, value in scalars.items())
        out += _bytes_field(5, values)
    return out


def record(data: bytes) -> bytes:
    """``data`` framed as one TFRecord."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


class EventWriter:
    """Appends scalar events to a new event file in ``logdir`` (created), one file per writer."""

    def __init__(self, logdir: Path) -> None:
        logdir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        self.path = logdir / f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}"
        self._file: IO[bytes] | None = open(self.path, "ab")  # kept open until close()
        self._write(event(now, file_version=FILE_VERSION))

    def _write(self, data: bytes) -> None:
        assert self._file is not None, f"{self.path} is closed"
        self._file.write(record(data))

    def scalars(self, step: int, values: dict[str, float], wall_time: float | None = None) -> None:
        """Write ``values`` (tag: number) at ``step``, as one event; flushed, so TensorBoard sees it now."""
        if values:
            self._write(event(time.time() if wall_time is None else wall_time, step, scalars=values))
            self.flush()

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
