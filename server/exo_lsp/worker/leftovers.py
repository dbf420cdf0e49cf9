"""What a run leaves behind in the worker, found after the run.

A worker is reused for the next run of its document only if the script left nothing that
outlives it: no child process still running, no thread still running, no pending
``signal.alarm``/interval timer, no Exo function replaced. Otherwise the server kills the
worker (and its process tree) and the next run gets a fresh one.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

# The modules whose functions a script sees as Exo's API.
_WATCHED = ("exo", "exo.API", "exo.API_scheduling", "exo.stdlib.scheduling", "exo.stdlib.stdlib")


class Baseline:
    """Taken once the worker is ready (imports done, hooks installed)."""

    def __init__(self) -> None:
        self.threads = {t.ident for t in threading.enumerate()}
        self.os_threads = _os_threads()
        self.api: dict[tuple[str, str], int] = {}
        for name in _WATCHED:
            mod = sys.modules.get(name)
            if mod is None:
                continue
            for attr, value in vars(mod).items():
                if not attr.startswith("_") and callable(value):
                    self.api[(name, attr)] = id(value)
        self._pins = [sys.modules.get(n) for n in _WATCHED]  # keep the ids meaningful

    def add_thread(self, t: threading.Thread) -> None:
        self.threads.add(t.ident)
        self.os_threads = _os_threads()

    def leftovers(self) -> list[str]:
        found = []
        found += [f"a child process still running (pid {pid}: {cmd})" for pid, cmd in child_processes(os.getpid())]
        extra = [t for t in threading.enumerate() if t.ident not in self.threads and t.is_alive()]
        found += [f"a thread still running ({t.name})" for t in extra]
        if not extra and _os_threads() > self.os_threads:
            found.append(f"{_os_threads() - self.os_threads} native thread(s) still running")
        remaining = signal.alarm(0)
        if remaining:
            found.append(f"a pending signal.alarm({remaining})")
        timer = signal.setitimer(signal.ITIMER_REAL, 0)
        if timer[0] > 0:
            found.append("a pending interval timer (signal.setitimer)")
        replaced = sorted(
            f"{mod}.{attr}"
            for (mod, attr), ident in self.api.items()
            if id(getattr(sys.modules.get(mod), attr, None)) != ident
        )
        if replaced:
            shown = ", ".join(replaced[:3]) + (f" and {len(replaced) - 3} more" if len(replaced) > 3 else "")
            found.append(f"Exo's {shown} replaced")
        return found


def _os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def child_processes(pid: int) -> list[tuple[int, str]]:
    """Live (not zombie) children of `pid`: (pid, command line)."""
    out: list[tuple[int, str]] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid) and fields[0] != "Z":
            out.append(int(name))
    if out:
        time.sleep(0.05)  # (rare) a child just forked may not have exec'd its command yet
    return [(child, _cmdline(child)) for child in out]


def _cmdline(pid: int) -> str:
    # a child caught between fork and exec has no command line yet: look again briefly
    for _ in range(20):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                text = f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:80]
        except OSError:
            return "?"
        if text:
            return text
        time.sleep(0.01)
    return "?"


