"""Limits the worker puts on itself (and so on the script it runs) before any user code.

- address space (RLIMIT_AS): a runaway allocation is a MemoryError, not the machine swapping;
- file size (RLIMIT_FSIZE): a script cannot fill the disk (the write fails with EFBIG);
- processes (RLIMIT_NPROC): counted per *user*, and ignored for root, so it only bounds a
  fork bomb for ordinary users; whatever the user, the server kills the worker's whole
  process tree (see lsp/process_tree.py) when it stops or replaces a worker;
- the worker is a child subreaper: a process the script spawns and orphans (double fork,
  ``start_new_session``) is re-parented to the worker instead of init, so the server still
  finds it as a descendant of the worker and kills it with the worker.
Wall time is the server's to enforce (it kills the worker).
"""

from __future__ import annotations

import ctypes
import os
import resource

PR_SET_CHILD_SUBREAPER = 36


def apply_from_env() -> None:
    mb = int(os.environ.get("EXO_LSP_WORKER_MEMORY_MB", "8192"))
    if mb > 0:
        _set(resource.RLIMIT_AS, mb * 1024 * 1024)
    fsize_mb = int(os.environ.get("EXO_LSP_WORKER_FILE_MB", "1024"))
    if fsize_mb > 0:
        _set(resource.RLIMIT_FSIZE, fsize_mb * 1024 * 1024)
    nproc = int(os.environ.get("EXO_LSP_WORKER_NPROC", "256"))
    if nproc > 0 and os.geteuid() != 0:
        _set(resource.RLIMIT_NPROC, _user_processes() + nproc)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _set(which: int, limit: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(which, (limit, hard if hard != resource.RLIM_INFINITY else limit))
    except (ValueError, OSError):
        pass


def _user_processes() -> int:
    uid = os.getuid()
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n
