"""`exo-lsp search` on the command line: the progress it shows (rich bar on a terminal,
plain lines elsewhere), its exact last line, and Ctrl-C keeping the best schedule found."""

from __future__ import annotations

import io
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNELS = pathlib.Path(__file__).with_name("kernels.py")
LAST = re.compile(r"^best: (\d+) cycles, (\d+\.\d\d)x over the algorithm, (\d+) evaluations, (\d+\.\d) s$")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "server"), str(ROOT / "protocol"), env.get("PYTHONPATH", "")])
    env.pop("FORCE_COLOR", None)
    env["TERM"] = "dumb"
    return env


class _P:
    def __init__(self, evaluations, seconds, cycles, speedup):
        self.evaluations, self.seconds, self.best_cycles, self.best_speedup = evaluations, seconds, cycles, speedup


def test_bar_on_a_terminal_shows_best_cycles_and_rate():
    from exo_lsp.search_cli import _Bar

    out = io.StringIO()
    bar = _Bar(40, stream=out, force_terminal=True, width=140)
    bar(_P(10, 4.0, 1234, 2.0))
    bar.end()
    text = out.getvalue()
    assert "best: 1,234 cycles (2.00x)" in text and "2.50 evaluations/s" in text and "10/40" in text


def test_bar_off_a_terminal_prints_plain_lines_on_improvement():
    from exo_lsp.search_cli import _Bar

    out = io.StringIO()
    bar = _Bar(40, stream=out)
    bar(_P(1, 1.0, None, None))
    bar(_P(2, 2.0, 900, 3.0))
    bar(_P(3, 2.5, 900, 3.0))  # nothing new, too soon: no line
    bar.end()
    lines = out.getvalue().splitlines()
    assert lines == ["search 1/40 evaluations, best: none yet, 1.00 evaluations/s",
                     "search 2/40 evaluations, best: 900 cycles (3.00x), 1.00 evaluations/s"]
    assert "\x1b" not in out.getvalue()


def test_summary_line_format():
    from exo_lsp.search_cli import summary
    from exo_lsp.worker.search.engine import Progress

    p = Progress(evaluations=37, best_cycles=1680, best_speedup=20.657, seconds=12.34)
    assert summary(p) == "best: 1680 cycles, 20.66x over the algorithm, 37 evaluations, 12.3 s"
    assert summary(Progress()) == "best: none cycles, -x over the algorithm, 0 evaluations, 0.0 s"


@pytest.mark.slow
def test_non_tty_run_prints_progress_lines_and_the_exact_last_line(tmp_path):
    out = tmp_path / "abt_searched.py"
    r = subprocess.run([sys.executable, "-m", "exo_lsp", "search", str(KERNELS), "--proc", "abt", "--budget", "3",
                        "--workers", "1", "--out", str(out)], cwd=ROOT, env=_env(), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    last = r.stdout.splitlines()[-1]
    m = LAST.match(last)
    assert m, last
    assert int(m.group(3)) == 3
    progress = [line for line in r.stderr.splitlines() if line.startswith("search ")]
    assert progress and progress[-1].startswith("search 3/3 evaluations, best: ")
    assert "\x1b" not in r.stderr
    assert f"{int(m.group(1)):,} cycles" in out.read_text()


@pytest.mark.slow
def test_ctrl_c_keeps_the_best_found(tmp_path):
    """SIGINT to the whole process group, as a terminal sends it: the search stops, writes
    the best schedule found so far and ends with the summary line, no worker traceback."""
    out = tmp_path / "matmul_searched.py"
    proc = subprocess.Popen([sys.executable, "-m", "exo_lsp", "search", str(KERNELS), "--proc", "matmul_ab",
                             "--budget", "500", "--workers", "2", "--out", str(out)], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        seen = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("search ") and "cycles" in line:
                break
        assert any("cycles" in line for line in seen), "".join(seen)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = "".join(seen) + stderr
    assert proc.returncode == 0, stderr
    m = LAST.match(stdout.splitlines()[-1])
    assert m, stdout
    assert 1 <= int(m.group(3)) < 500
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert f"{int(m.group(1)):,} cycles" in out.read_text()


# SIGINT made to land at the N-th call the main thread makes into the pool's machinery
# (sigint_at.py). Before Ctrl-C only set a flag, a KeyboardInterrupt raised at calls 10,
# 28 and 100 (a Condition's __exit__ in submit, once per batch) left the pool's queue
# locked: the command hung at exit, every time. All of the first batch's calls, then a
# spread over the next rounds.
SIGINT_AT = [*range(19), 28, *range(30, 121, 10), 200, 400]


@pytest.mark.parametrize("n", SIGINT_AT)
def test_ctrl_c_anywhere_in_the_pool_machinery_keeps_the_best_found(tmp_path, n):
    out = tmp_path / "matmul_searched.py"
    try:
        run = subprocess.run([sys.executable, str(pathlib.Path(__file__).with_name("sigint_at.py")), str(n), str(KERNELS),
                              "--proc", "matmul_ab", "--budget", "500", "--workers", "2", "--out", str(out)],
                             cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120, start_new_session=True)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr  # bytes despite text=True
        pytest.fail(f"SIGINT at call {n}: the command did not end\n{err}")
    assert run.returncode == 0, run.stderr
    assert "interrupted" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr
    m = LAST.match(run.stdout.splitlines()[-1])
    assert m and 1 <= int(m.group(3)) < 500, run.stdout
    assert f"{int(m.group(1)):,} cycles" in out.read_text()


def _children(pid: int) -> list[int]:
    out = []
    for d in pathlib.Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (pathlib.Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_pool_workers_end_with_a_search_killed_outright(tmp_path):
    """SIGKILL runs no clean-up in the search: its pool workers must not live on (they did)."""
    proc = subprocess.Popen([sys.executable, "-m", "exo_lsp", "search", str(KERNELS), "--proc", "matmul_ab",
                             "--budget", "500", "--workers", "2", "--out", str(tmp_path / "x.py")], cwd=ROOT,
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert len(workers) >= 2, "the pool never started"
        time.sleep(1.0)  # the workers are past their initializer
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        left = [w for w in workers if _alive(w)]
    finally:
        for w in workers:
            try:
                os.kill(w, signal.SIGKILL)
            except OSError:
                pass
    assert left == []
