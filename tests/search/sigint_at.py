"""Runs ``exo-lsp search`` in this process and makes SIGINT arrive at one chosen place:
the N-th Python call the main thread makes into the process pool's machinery
(concurrent.futures, threading, queue, multiprocessing) after the first progress line.
Forked pool workers inherit the count and get the signal at their own N-th call, as a
terminal's Ctrl-C reaches them too.

A terminal's Ctrl-C lands wherever the main thread happens to be; this makes "wherever"
reproducible, so a test can try many places instead of waiting for an unlucky one.

    python sigint_at.py N exo-lsp-search-arguments...
"""

from __future__ import annotations

import signal
import sys

MACHINERY = ("concurrent/futures/", "/threading.py", "/queue.py", "/multiprocessing/")


def main() -> None:
    n = int(sys.argv[1])
    from exo_lsp import cli, search_cli

    calls = 0

    def profile(frame, event, arg):
        nonlocal calls
        if event != "call" or not any(m in frame.f_code.co_filename for m in MACHINERY):
            return
        if calls == n:
            sys.setprofile(None)
            signal.raise_signal(signal.SIGINT)
        calls += 1

    shown = search_cli._Bar.__call__

    def first_progress(self, p):
        shown(self, p)
        if sys.getprofile() is None and calls == 0:
            sys.setprofile(profile)

    search_cli._Bar.__call__ = first_progress
    cli.main(["search", *sys.argv[2:]])


if __name__ == "__main__":
    main()
