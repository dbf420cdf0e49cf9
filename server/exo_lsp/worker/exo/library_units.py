"""exo.stdlib's functions as units the tracer can memoise whole.

A schedule written with Exo's standard library (``vectorize``, ``replace_all``,
``tile_loops``, the halide helpers, ``get_enclosing_loop_by_name``) spends much of a re-run
in the library's own Python between the primitives: on Exo's unsharp app, ~690k cursor
calls inside ``vectorize`` re-run after an edit below it although every primitive they
lead to hits the op memo. Each public function of an ``exo.stdlib`` module is wrapped so
that a call the script makes goes through the observer's unit memo
(``worker/unit_memo.py``), which returns the last run's result and replays the steps made
under it when the inputs are the same. Calls from library code (the library calling
itself) go straight through: only the script's calls are units.

Modules are wrapped when they load (a meta-path hook: ``from exo.stdlib.stdlib import
vectorize`` binds the name at the script's import, so wrapping after the run would be a
run late), and the ones already loaded when the hooks are installed.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any, Callable

PREFIX = "exo.stdlib."

_originals: list[tuple[types.ModuleType, str, Any]] = []  # (module, name, original), to uninstall
_wrappers: dict[Any, Callable] = {}  # original function -> its wrapper (one per function)


def _observer():
    from . import hooks

    return hooks._observer


def wrap(f: types.FunctionType) -> Callable:
    """The unit wrapper of a module-level library function (one per function)."""
    known = _wrappers.get(f)
    if known is None:
        known = _wrappers[f] = _unit_of(f)
    return known


def _unit_of(f: types.FunctionType) -> Callable:
    @functools.wraps(f)
    def unit(*args, **kwargs):
        obs = _observer()
        units = getattr(obs, "units", None) if obs is not None else None
        call = units.begin(f, args, kwargs, sys._getframe(1)) if units is not None else None
        if call is None:  # not the script's call, or not one that can be kept
            return f(*args, **kwargs)
        if call.entry is not None:
            return units.replay(call)
        # one that raises is not kept: its error goes to the script as it came
        return _wrapped_result(units.end(call, f(*args, **kwargs)))

    unit.__exo_lsp_unit__ = f
    return unit


# the code object every wrapper shares (one closure per function, one code)
_UNIT_CODE = next(c for c in _unit_of.__code__.co_consts if isinstance(c, types.CodeType) and c.co_name == "unit")


def is_unit_frame(frame) -> bool:
    """A wrapper's own frame (the tracer skips it when it looks for the library call the
    script made: the step is named after the function, with its parameters)."""
    return frame.f_code is _UNIT_CODE


def library_function(value: Any) -> bool:
    return isinstance(value, types.FunctionType) and (value.__module__ or "").startswith(PREFIX)


def _wrapped_result(value: Any) -> Any:
    # a factory's result the script got (``attempt(lift_alloc)``) is a library closure it
    # calls next: a unit too (a new one each time: not kept in _wrappers, which would hold
    # every closure, and the procs in its cells, for the worker's life)
    return _unit_of(value) if library_function(value) and not hasattr(value, "__exo_lsp_unit__") else value


def wrap_module(mod: types.ModuleType) -> None:
    for name, value in list(vars(mod).items()):
        if name.startswith("_") or not library_function(value) or hasattr(value, "__exo_lsp_unit__"):
            continue
        _originals.append((mod, name, value))
        setattr(mod, name, wrap(value))


class _WrapOnLoad(importlib.abc.Loader):
    def __init__(self, inner) -> None:
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module) -> None:
        self.inner.exec_module(module)
        wrap_module(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if not name.startswith(PREFIX):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _WrapOnLoad(spec.loader)
        return spec


_finder = _Finder()


def install() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for name, mod in list(sys.modules.items()):
        if name.startswith(PREFIX) and mod is not None:
            wrap_module(mod)


def uninstall() -> None:
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    while _originals:
        mod, name, value = _originals.pop()
        if getattr(mod, name, None) is _wrappers.get(value):
            setattr(mod, name, value)

