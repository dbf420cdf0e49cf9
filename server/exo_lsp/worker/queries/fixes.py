"""Quick fixes, worker side: a failed step tried again with a replacement argument.

The run kept each step's op and the raw arguments it was called with, so a candidate is
checked by calling the same op on the same input proc with only that argument replaced.
Hooks pass calls made outside a run straight to Exo, so nothing here enters the trace.
"""

from __future__ import annotations

import ast
import os

from ...shared.contract import CheckFixesParams, CheckFixesResult
from . import handles


@handles(CheckFixesParams)
def check_fixes(tracer, path: str, params: CheckFixesParams) -> CheckFixesResult:
    state = tracer.runs.get(os.path.abspath(path))
    if state is None or (params.version is not None and state.trace.version != params.version):
        return CheckFixesResult()
    rt = state.runtime.get(params.step)
    if rt is None or rt.op is None or params.argument not in rt.raw:
        return CheckFixesResult()
    working = []
    for text in params.candidates:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            continue
        try:
            rt.op(**{**rt.raw, params.argument: value})
        except Exception:  # this candidate does not apply either
            continue
        working.append(text)
    return CheckFixesResult(working)
