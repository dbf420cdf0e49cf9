"""Processes on this machine, from /proc (no psutil): which ones a test's server started."""

from __future__ import annotations

import os
import time
import uuid


def new_mark() -> str:
    return f"exo-lsp-test-{uuid.uuid4().hex[:12]}"


def _read(pid: str, what: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{what}", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _state(pid: str) -> str:
    stat = _read(pid, "stat").decode(errors="replace")
    return stat[stat.rfind(")") + 2 :][:1]


def with_env_mark(mark: str) -> list[int]:
    """Live processes whose environment holds `mark` (a server's workers and their children)."""
    needle = mark.encode()
    return [
        int(p) for p in os.listdir("/proc")
        if p.isdigit() and needle in _read(p, "environ") and _state(p) not in ("Z", "")
    ]


def with_cmdline(text: str) -> list[int]:
    needle = text.encode()
    return [
        int(p) for p in os.listdir("/proc")
        if p.isdigit() and needle in _read(p, "cmdline").replace(b"\0", b" ") and _state(p) not in ("Z", "")
    ]


def workers(mark: str) -> list[int]:
    return [p for p in with_env_mark(mark) if b"exo_lsp.worker" in _read(str(p), "cmdline")]


def wait_until_gone(find, timeout: float = 5.0) -> list[int]:
    """What `find()` still returns after `timeout` seconds (empty as soon as it is)."""
    deadline = time.monotonic() + timeout
    while True:
        left = find()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
