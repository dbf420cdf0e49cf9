"""Questions the server asks the worker about procs it keeps (views, hovers, actions)."""

from __future__ import annotations

from .worker_api import query


def _proc(tracer, handle: int):
    p = tracer.registry.get(int(handle))
    if p is None:
        raise KeyError(f"no proc with handle {handle} (the script has changed since)")
    return p


@query("procText")
def proc_text(tracer, path: str, params: dict) -> str:
    """The proc exactly as Exo prints it."""
    return str(_proc(tracer, params["handle"]))


@query("cCode")
def c_code(tracer, path: str, params: dict) -> str:
    from . import adapter

    p = _proc(tracer, params["handle"])
    try:
        return p.c_code_str()
    finally:
        adapter.reset_exo_state()
