"""Shared pieces of the real-editor tests: the workspace they open, where the editors are,
an environment that uses this tree's server, and running an editor with a time limit."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EDITORS = ROOT / "editors"
HERE = pathlib.Path(__file__).resolve().parent

# Placed before pattern strings: 2-byte, 2-byte and 4-byte UTF-8 characters, the last one
# two UTF-16 code units, so byte, UTF-16 and character columns all differ after it.
NON_ASCII = 'ü = "ñé😀"'
INSTALL_HINT = "install the test editors with `bash editors/install.sh` (or run `./dev test`)"


@dataclass
class Workspace:
    root: pathlib.Path
    trusted: pathlib.Path
    noop: pathlib.Path  # examples/broken/noop_steps.py: two no-op warnings, ASCII only
    broken: pathlib.Path  # pattern_no_match.py, NON_ASCII before the pattern that matches nothing
    conv1d: pathlib.Path  # examples/conv1d.py, NON_ASCII on a line and before the `for j` pattern
    untrusted: pathlib.Path  # noop.py again, outside the trusted folder

    def lines(self, path: pathlib.Path) -> list[str]:
        return path.read_text(encoding="utf-8").splitlines()

    def line_of(self, path: pathlib.Path, needle: str) -> int:
        """0-based line of the first line of `path` that contains `needle`."""
        for i, line in enumerate(self.lines(path)):
            if needle in line:
                return i
        raise AssertionError(f"{needle!r} not in {path}")


def make_workspace(tmp: pathlib.Path) -> Workspace:
    """trusted/{noop,broken,conv1d}.py and untrusted/noop.py under `tmp`."""
    trusted = tmp / "trusted"
    untrusted = tmp / "untrusted"
    trusted.mkdir(parents=True)
    untrusted.mkdir(parents=True)
    noop = trusted / "noop.py"
    shutil.copy(EXAMPLES / "broken" / "noop_steps.py", noop)
    shutil.copy(EXAMPLES / "broken" / "noop_steps.py", untrusted / "noop.py")
    broken = trusted / "broken.py"
    text = (EXAMPLES / "broken" / "pattern_no_match.py").read_text()
    text = _replace_once(text, 'p = unroll_loop(p, "for q in _:_")', f'{NON_ASCII}; p = unroll_loop(p, "for q in _:_")')
    broken.write_text(text, encoding="utf-8")
    conv1d = trusted / "conv1d.py"
    text = (EXAMPLES / "conv1d.py").read_text()
    text = _replace_once(text, 'p = rename(conv1d, "conv1d_rvm")\n', f'p = rename(conv1d, "conv1d_rvm")\n{NON_ASCII}\n')
    text = _replace_once(text, 'p = divide_loop(p, "for j in _:_"', f'{NON_ASCII}; p = divide_loop(p, "for j in _:_"')
    conv1d.write_text(text, encoding="utf-8")
    return Workspace(root=tmp, trusted=trusted, noop=noop, broken=broken, conv1d=conv1d, untrusted=untrusted / "noop.py")


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def byte_col(line: str, index: int) -> int:
    """Byte column of the Python string index `index` in `line` (what Neovim counts)."""
    return len(line[:index].encode("utf-8"))


def span(line: str, needle: str, what: str = "bytes") -> tuple[int, int]:
    """[start, end) of `needle` in `line`, in bytes or characters."""
    i = line.index(needle)
    if what == "chars":
        return i, i + len(needle)
    return byte_col(line, i), byte_col(line, i + len(needle))


# ----------------------------------------------------------------------------- editors


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""


def find_nvim() -> tuple[str | None, str]:
    """A Neovim >= 0.11 (for vim.lsp.config and inlay hints): $EXO_E2E_NVIM, .tools/bin/nvim, PATH."""
    seen = []
    for cand in (os.environ.get("EXO_E2E_NVIM"), str(ROOT / ".tools" / "bin" / "nvim"), shutil.which("nvim")):
        if not cand or not os.access(cand, os.X_OK):
            continue
        version = _version([cand, "--version"])
        seen.append(f"{cand}: {version or 'no version'}")
        m = re.match(r"NVIM v(\d+)\.(\d+)", version)
        if m and (int(m[1]), int(m[2])) >= (0, 11):
            return cand, version
    return None, "; ".join(seen) or "no nvim found"


def find_emacs() -> tuple[str | None, str]:
    """An Emacs that can load Eglot: $EXO_E2E_EMACS or PATH."""
    cand = os.environ.get("EXO_E2E_EMACS") or shutil.which("emacs")
    if not cand:
        return None, "no emacs found"
    probe = subprocess.run(
        [cand, "--batch", "--eval", "(progn (require 'eglot) (princ (format \"%s eglot\" emacs-version)))"],
        capture_output=True, text=True, timeout=60,
    )
    if probe.returncode != 0:
        return None, f"{cand}: cannot load eglot: {probe.stderr.strip()[-300:]}"
    return cand, probe.stdout.strip()


def editor_env(ws: Workspace, **extra: str) -> dict[str, str]:
    """The environment an editor runs in: this tree's server on PYTHONPATH, this Python as
    the server's interpreter, only `ws.trusted` trusted, and XDG folders of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NVIM", "VIM", "EMACS", "EXO_LSP_"))}
    path = [str(ROOT / "server"), str(ROOT / "protocol")]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    xdg = ws.root / "xdg"
    home = ws.root / "home"
    home.mkdir(exist_ok=True)
    env.update(
        PYTHONPATH=os.pathsep.join(path),
        EXO_LSP_PYTHON=sys.executable,
        EXO_LSP_TRUSTED=str(ws.trusted),
        EXO_LSP_LOG="INFO",
        HOME=str(home),
        XDG_CONFIG_HOME=str(xdg / "config"),
        XDG_DATA_HOME=str(xdg / "data"),
        XDG_STATE_HOME=str(xdg / "state"),
        XDG_CACHE_HOME=str(xdg / "cache"),
        TERM="dumb",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
    )
    env.update(extra)
    return env


# ----------------------------------------------------------------------------- running one


@dataclass
class EditorRun:
    name: str
    cmd: list[str]
    returncode: int | None
    timed_out: bool
    seconds: float
    stdout: str
    stderr: str
    results: dict
    logs: dict[str, str] = field(default_factory=dict)

    def report(self, tail: int = 120) -> str:
        """Everything a failing test should show: how the run went and the editor's logs."""
        parts = [
            f"{self.name}: {' '.join(self.cmd)}",
            f"exit {self.returncode}{' (TIMED OUT, killed)' if self.timed_out else ''} after {self.seconds:.1f} s;"
            f" steps started: {self.results.get('steps')}; unfinished: {self.results.get('current')}",
        ]
        for name, text in [("stdout", self.stdout), ("stderr", self.stderr), *self.logs.items()]:
            lines = text.splitlines()
            if lines:
                parts.append(f"----- {name} (last {min(tail, len(lines))} of {len(lines)} lines)")
                parts.extend(lines[-tail:])
        return "\n".join(parts)

    def section(self, name: str):
        """A step's results; a clear failure (with the logs) when the step failed or never ran."""
        import pytest

        got = self.results.get(name)
        if got is None:
            pytest.fail(f"the {self.name} scenario did not get to step {name!r}\n{self.report()}", pytrace=False)
        if isinstance(got, dict) and set(got) == {"error"}:
            pytest.fail(f"step {name!r} failed in {self.name}:\n{got['error']}\n{self.report()}", pytrace=False)
        return got


def run_editor(name: str, cmd: list[str], env: dict[str, str], cwd: pathlib.Path, out: pathlib.Path,
               timeout: float, logs: dict[str, pathlib.Path]) -> EditorRun:
    """Run `cmd` in its own process group; kill the group when it outlives `timeout` (and
    whatever it left behind when it is done). Results are the JSON the scenario wrote to `out`."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        stdout, stderr = proc.communicate()
    finally:
        _kill_group(proc.pid)
    results: dict = {}
    if out.exists():
        try:
            results = json.loads(out.read_text(encoding="utf-8"))
        except ValueError as exc:
            results = {"error": f"unreadable results: {exc}"}
    texts = {}
    for label, path in logs.items():
        try:
            texts[label] = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            pass
    return EditorRun(name, cmd, proc.returncode, timed_out, time.monotonic() - t0, stdout, stderr, results, texts)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
