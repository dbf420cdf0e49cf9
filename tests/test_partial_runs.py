"""Long runs show their steps before they end, and keep them when they do not end:
partial traces streamed in Progress frames, queries answered mid-run, the time limit
enforced inside the worker (its memo survives: the next run resumes), the last partial
trace kept when the worker has to be killed."""

from __future__ import annotations

import asyncio


from exo_lsp.lsp import worker_client
from exo_lsp.lsp.engine import Engine
from exo_lsp.lsp.worker_client import Settings
from exo_lsp.shared.contract import InlayParams
from exo_lsp.worker.progress import Alarm
from exo_lsp.worker.tracer import Tracer

HEAD = """from __future__ import annotations
import time
from exo import proc
from exo.stdlib.scheduling import *


@proc
def scale(n: size, x: f32[n], y: f32[n]):
    assert n % 16 == 0
    for i in seq(0, n):
        y[i] = 2.0 * x[i]


p = divide_loop(scale, "i", 4, ["io", "ii"], perfect=True)
p = divide_loop(p, "io", 2, ["ioo", "ioi"], perfect=True)
"""


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if needle in line)


def test_a_run_stopped_by_its_limit_keeps_its_steps_and_its_memo(tmp_path):
    path = tmp_path / "loops.py"
    text = HEAD + "while True:\n    pass\n"
    path.write_text(text)
    t = Tracer()
    with Alarm(t, 1.0):
        trace = t.run(str(path), text, 1).trace
    assert [s.op for s in trace.steps] == ["divide_loop", "divide_loop"] and all(s.ok for s in trace.steps)
    [problem] = trace.problems
    assert problem.code == "timeout" and problem.range.start.line in (_line_of(text, "while"), _line_of(text, "pass"))
    assert "ran longer than 1 s" in problem.message and "timeoutSeconds" in problem.message
    # the worker was not killed: the next run (the loop fixed) reuses the steps
    fixed = HEAD + "p = simplify(p)\n"
    again = t.run(str(path), fixed, 2).trace
    assert again.ok and [s.cached for s in again.steps] == [True, True, False]


def test_a_failing_run_keeps_the_steps_before_the_failure(tmp_path):
    path = tmp_path / "fails.py"
    text = HEAD + 'p = reorder_loops(p, "nope ii")\np = simplify(p)\n'
    trace = Tracer().run(str(path), text, 1).trace
    assert [s.ok for s in trace.steps] == [True, True, False]
    assert trace.problems[0].range.start.line == _line_of(text, "nope")


async def _engine(timeout_s: float) -> Engine:
    engine = Engine(Settings(timeout_s=timeout_s))
    await engine.ensure_started()
    return engine


def test_steps_stream_and_queries_are_answered_during_the_run(tmp_path):
    path = tmp_path / "slow.py"
    text = HEAD + "time.sleep(1.2)\np = simplify(p)\ntime.sleep(1.2)\np = simplify(p)\ntime.sleep(3)\np = simplify(p)\n"
    path.write_text(text)

    async def main():
        engine = await _engine(60)
        partials = []
        run = asyncio.create_task(engine.run(str(path), text, 1, on_progress=lambda m: m.trace and partials.append(m)))
        try:
            while not partials:
                await asyncio.sleep(0.05)
            assert not run.done() and partials[0].trace.partial and partials[0].trace.steps
            assert engine.traces[str(path)].partial  # the document's trace until the run ends
            answer = await engine.query(str(path), InlayParams(version=1))
            answered_before_the_end = not run.done()
            trace = await run
        finally:
            await engine.shutdown()
        assert answered_before_the_end and answer.steps
        assert trace.ok and not trace.partial and len(trace.steps) == 5

    asyncio.run(main())


def test_the_worker_stops_a_long_run_itself_and_the_next_run_resumes(tmp_path):
    path = tmp_path / "long.py"
    text = HEAD + "time.sleep(1.3)\np = simplify(p)\nwhile True:\n    pass\n"
    path.write_text(text)

    async def main():
        engine = await _engine(3)
        try:
            trace = await engine.run(str(path), text, 1)
            w = engine.pool.get(str(path))
            assert w is not None and w.alive and engine.restarts == 0  # not killed
            pid = w.pid
            assert [s.op for s in trace.steps] == ["divide_loop", "divide_loop", "simplify"]
            assert trace.problems[0].code == "timeout"
            assert trace.problems[0].range.start.line in (_line_of(text, "while"), _line_of(text, "pass"))
            fixed = text.replace("while True:\n    pass\n", "p = simplify(p)\n")
            again = await engine.run(str(path), fixed, 2)
            assert engine.pool.get(str(path)).pid == pid  # the same worker, and its memo
            assert again.ok and [s.cached for s in again.steps] == [True, True, True, False]
        finally:
            await engine.shutdown()

    asyncio.run(main())


def test_a_killed_run_keeps_the_steps_it_sent(tmp_path, monkeypatch):
    monkeypatch.setattr(worker_client, "GRACE_S", 1.0)
    path = tmp_path / "stubborn.py"
    # swallows the worker's stop (a bare except): only killing the process ends it
    body = "time.sleep(1.3)\np = simplify(p)\nwhile True:\n    try:\n        time.sleep(10)\n    except BaseException:\n        pass\n"
    text = HEAD + body
    path.write_text(text)

    async def main():
        engine = await _engine(3)
        try:
            trace = await engine.run(str(path), text, 1)
            await asyncio.sleep(0.1)  # let the restart the kill began take the lock
            await engine.ensure_started()  # and finish
        finally:
            await engine.shutdown()
        assert trace.crashed and [s.op for s in trace.steps] == ["divide_loop", "divide_loop", "simplify"]
        assert "ran longer than 4 s" in trace.problems[0].message and "timeoutSeconds" in trace.problems[0].message

    asyncio.run(main())


def test_steps_inside_a_long_helper_call_stream_too(tmp_path):
    # one top-level call into a library helper (a module beside the script) that takes
    # long: the steps inside it are shown before it returns
    (tmp_path / "slowlib.py").write_text(
        "import time\nfrom exo.stdlib.scheduling import simplify\n\n\n"
        "def slow(p):\n    p = simplify(p)\n    time.sleep(1.3)\n    p = simplify(p)\n    time.sleep(2)\n    return p\n"
    )
    path = tmp_path / "helper.py"
    text = HEAD + "from slowlib import slow\n\np = slow(p)\n"
    path.write_text(text)

    async def main():
        engine = await _engine(60)
        partials = []
        try:
            trace = await engine.run(str(path), text, 1, on_progress=lambda m: m.trace and partials.append(m.trace))
        finally:
            await engine.shutdown()
        assert [s.op for s in trace.steps if s.parent is None][-1] == "slow"
        assert any(any(s.parent is not None for s in t.steps) for t in partials)

    asyncio.run(main())


def test_partial_frames_carry_only_the_new_steps_and_merge_into_the_trace(tmp_path, monkeypatch):
    # every step sends a frame here; a frame after the first carries the steps new since
    # the one before (and fresh copies of a helper step still collecting children), and
    # the frames merged give the finished run's steps and lookups
    from exo_lsp.shared import framing as ipc
    from exo_lsp.shared.trace import merge_partial
    from exo_lsp.worker import progress

    monkeypatch.setattr(progress, "SEND_EVERY_S", 0.0)
    (tmp_path / "twice.py").write_text(
        "from exo.stdlib.scheduling import simplify\n\n\ndef twice(p):\n    p = simplify(p)\n    return simplify(p)\n"
    )
    path = tmp_path / "frames.py"
    text = HEAD + 'from twice import twice\n\nc = p.find_loop("ii")\np = twice(p)\np = simplify(p)\nc = p.find_loop("ioi")\np = twice(p)\n'
    path.write_text(text)

    class Frames:
        def __init__(self):
            self.sent = []

        def send(self, msg):
            self.sent.append(ipc.decode_from_worker(ipc.frame(msg)[4:]))  # as the server reads it

        def take_queries(self):
            return []

    worker, t = Frames(), Tracer()
    reporter = progress.RunReporter(worker, t, ipc.RunScript(1, str(path), text, 1, True, "utf-16", 60), lambda q: None)
    reporter.last_sent = 0.0  # (the first frame is due at once too)
    trace = t.run(str(path), text, 1, on_progress=reporter.step_done, on_inner_step=reporter.inner_step_done).trace
    frames = [m.trace for m in worker.sent if m.trace is not None]
    assert len(frames) == 7  # one per op: 3 written in the script, 4 inside the helpers
    assert frames[0].steps_from == 0 and all(f.steps_from > 0 for f in frames[2:])
    assert max(len(f.steps) for f in frames[1:]) <= 2  # a new step, and its helper's step
    merged = None
    for f in frames:
        merged = merge_partial(merged, f)
    assert merged.steps == trace.steps and merged.lookups == trace.lookups and len(trace.lookups) == 2
    assert [s.op for s in merged.steps] == ["divide_loop", "divide_loop", "twice", "simplify", "simplify", "simplify",
                                            "twice", "simplify", "simplify"]
    assert merged.steps[2].children == [3, 4] and merged.steps[6].children == [7, 8]
