"""Messages between the server and its worker: msgspec msgpack, length-prefixed frames.

They travel over a socket the server passes to the worker at a high descriptor number
(``EXO_LSP_IPC_FD``), never over the worker's stdin/stdout, which the script can close or
write to."""

from __future__ import annotations

import struct
from typing import Any, Union

import msgspec

from .contract import QueryParams
from .trace import Trace


class RunScript(msgspec.Struct, tag="run"):
    id: int
    path: str
    source: str
    version: int | None = None
    use_memo: bool = True
    encoding: str = "utf-16"  # the unit of every column in the trace (the client's)
    timeout_s: float = 0.0  # the worker stops the script after this long (0: no limit)


class Cancel(msgspec.Struct, tag="cancel"):
    id: int


class Query(msgspec.Struct, tag="query"):
    """A question about the last run of `path`: one of the contract's Params types."""

    id: int
    path: str
    params: QueryParams


class Shutdown(msgspec.Struct, tag="shutdown"):
    pass


class Ready(msgspec.Struct, tag="ready"):
    pid: int
    exo_version: str
    ms: float  # start-up time, imports included


class Progress(msgspec.Struct, tag="progress"):
    id: int
    line: int  # 0-based line of the step just finished
    trace: Trace | None = None  # the steps so far (Trace.partial), sent about once a second
    done: int = 0  # top-level steps finished
    expected: int = 0  # top-level steps of the script's previous run (0: unknown)


class At(msgspec.Struct, tag="at"):
    """A scheduling op called from the script is starting: where a timeout inside Exo
    (whose stack is too deep for the crash dump to reach the script) is reported."""

    id: int
    line: int  # 0-based line of the call in the script


class QueryProgress(msgspec.Struct, tag="query_progress"):
    id: int
    message: str
    fraction: float


class QueryPartial(msgspec.Struct, tag="query_partial"):
    """Results so far of a long query (a search), encoded as the method's Result type."""

    id: int
    result: msgspec.Raw


class RunDone(msgspec.Struct, tag="run_done"):
    id: int
    trace: Trace | None
    cancelled: bool = False
    leftovers: list[str] = []  # what the run left behind (the worker must not be reused)


class QueryDone(msgspec.Struct, tag="query_done"):
    id: int
    result: msgspec.Raw = msgspec.Raw(b"\xc0")  # the method's Result, encoded (nil: no answer)
    error: str | None = None


class Dying(msgspec.Struct, tag="dying"):
    """Sent by the worker when the script exits the process on purpose (os._exit)."""

    reason: str
    path: str | None = None
    line: int | None = None
    character: int | None = None


ToWorker = Union[RunScript, Cancel, Query, Shutdown]
FromWorker = Union[Ready, Progress, At, QueryProgress, QueryPartial, RunDone, QueryDone, Dying]

_HEADER = struct.Struct("<I")
_encoder = msgspec.msgpack.Encoder()
_to_worker = msgspec.msgpack.Decoder(ToWorker)
_from_worker = msgspec.msgpack.Decoder(FromWorker)


def encode(msg: Any) -> bytes:
    return _encoder.encode(msg)


def frame(msg: Any) -> bytes:
    body = _encoder.encode(msg)
    return _HEADER.pack(len(body)) + body


def decode_to_worker(body: bytes) -> ToWorker:
    return _to_worker.decode(body)


def decode_from_worker(body: bytes) -> FromWorker:
    return _from_worker.decode(body)


def read_frame_sync(stream) -> bytes | None:
    head = _read_exact(stream, _HEADER.size)
    if head is None:
        return None
    (n,) = _HEADER.unpack(head)
    return _read_exact(stream, n)


def _read_exact(stream, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


async def read_frame_async(reader) -> bytes | None:
    import asyncio

    try:
        head = await reader.readexactly(_HEADER.size)
        (n,) = _HEADER.unpack(head)
        return await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
