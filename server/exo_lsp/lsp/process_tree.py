"""Processes of a worker, found in /proc, and how to kill all of them.

A worker runs in its own session and process group, and is a child subreaper (see
worker/limits.py), so what its script spawns is either in its group or below it in the
process tree, even when the script started a new session or orphaned the process.
"""

from __future__ import annotations

import os
import signal


def _stat(pid: str) -> tuple[int, int, str] | None:
    """(parent pid, process group, state) of a process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]), int(fields[2]), fields[0]


def table() -> dict[int, tuple[int, int, str]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(name)
            if st is not None:
                out[int(name)] = st
    return out


def descendants(pid: int, procs: dict[int, tuple[int, int, str]] | None = None) -> set[int]:
    procs = table() if procs is None else procs
    children: dict[int, list[int]] = {}
    for p, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(p)
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def group(pgid: int, procs: dict[int, tuple[int, int, str]] | None = None) -> set[int]:
    procs = table() if procs is None else procs
    return {p for p, (_, g, state) in procs.items() if g == pgid and state != "Z"}


def kill_tree(pid: int) -> None:
    """SIGKILL the worker `pid`, its process group and every descendant. The tree is
    frozen first (SIGSTOP) so that nothing forks out of it while it is being killed."""
    seen: set[int] = set()
    for _ in range(5):
        procs = table()
        found = (descendants(pid, procs) | group(pid, procs)) - seen
        if not found:
            break
        for p in found:
            _signal(p, signal.SIGSTOP)
        seen |= found
    for p in seen:
        _signal(p, signal.SIGKILL)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _signal(pid, signal.SIGKILL)


def kill_pids(pids: set[int]) -> None:
    """SIGKILL processes found earlier in a worker's tree (those that outlived it)."""
    for p in pids:
        _signal(p, signal.SIGKILL)


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of a worker's process group once the worker itself is gone."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
