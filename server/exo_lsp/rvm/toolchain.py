"""RV32IMC freestanding toolchain for the RVM target: compiler profiles, build, ELF cache.

Two compiler profiles:

* ``zig`` (default, always available): PyPI ``ziglang``'s clang,
  ``python -m ziglang cc -target riscv32-freestanding-none -mcpu=generic_rv32+m+c -O2``.
* ``gcc`` (optional): Debian ``gcc-riscv64-unknown-elf`` with ``-march=rv32imc_zicsr
  -mabi=ilp32 -O2``. Not installed by pip; ``python -m exo_lsp.rvm.toolchain --install-gcc``
  installs it with apt (root). When it is missing, :class:`CompilerNotFound` says so.

Both compile Exo's generated C unchanged: ``runtime/`` holds the start-up code, the linker
script (X-HEEP-like memory map with the ``.xheep_data_interleaved`` region), stand-in libc
headers and ``rvm_asm.h`` (assembler macros for the RVM mnemonics, passed with
``-include``). ``-g`` is always on so that DWARF line tables exist.

Built ELFs are cached on disk keyed by a hash of all sources and the profile.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

RUNTIME_DIR = Path(__file__).with_name("runtime")

#: Memory map of link.ld: (name, start, size). The simulator maps exactly these.
MEMORY_MAP = {
    "ram": (0x00001000, 0x0003F000),
    "ram_il": (0x00040000, 0x00010000),
}

KERNEL_FILE = "kernel.c"
HARNESS_FILE = "harness.c"


class ToolchainError(Exception):
    """Base class for build problems."""


class CompilerNotFound(ToolchainError):
    """The requested compiler profile is not installed."""


@dataclass
class CDiagnostic:
    file: str
    line: int
    column: int
    severity: str
    message: str


class CompileError(ToolchainError):
    """The C compiler rejected the code. ``diagnostics`` carry file/line (kernel.c lines
    are lines of ``proc.c_code_str()``)."""

    def __init__(self, message: str, diagnostics: list[CDiagnostic], output: str):
        super().__init__(message)
        self.diagnostics = diagnostics
        self.output = output


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    #: argv prefix that runs the compiler driver
    driver: tuple[str, ...]
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    missing_hint: str = ""

    def available(self) -> bool:
        exe = self.driver[0]
        return bool(shutil.which(exe) or os.path.exists(exe))


_COMMON_CFLAGS = ("-O2", "-g", "-ffreestanding", "-fno-common")


def _zig_profile() -> Profile:
    return Profile(
        name="zig",
        description="clang (PyPI ziglang) -O2, RV32IMC",
        driver=(sys.executable, "-m", "ziglang", "cc"),
        cflags=(
            "-target",
            "riscv32-freestanding-none",
            "-mcpu=generic_rv32+m+c",
            *_COMMON_CFLAGS,
            "-fomit-frame-pointer",
        ),
        ldflags=("-nostdlib", "-static"),
    )


GCC_EXE = "riscv64-unknown-elf-gcc"
GCC_APT_PACKAGE = "gcc-riscv64-unknown-elf"


def _gcc_profile() -> Profile:
    return Profile(
        name="gcc",
        description="GCC 12 (Debian gcc-riscv64-unknown-elf) -O2, RV32IMC",
        driver=(GCC_EXE,),
        cflags=("-march=rv32imc_zicsr", "-mabi=ilp32", *_COMMON_CFLAGS),
        ldflags=("-nostdlib", "-static", "-nostartfiles"),
        missing_hint=(
            f"the 'gcc' compiler profile needs {GCC_EXE} (Debian package "
            f"{GCC_APT_PACKAGE}), which is not installed. Install it with "
            f"`python -m exo_lsp.rvm.toolchain --install-gcc` (runs apt-get as root) "
            f"or use the default 'zig' profile."
        ),
    )


PROFILES = {"zig": _zig_profile, "gcc": _gcc_profile}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]()
    except KeyError:
        raise ToolchainError(
            f"unknown compiler profile {name!r}; choose one of {', '.join(PROFILES)}"
        ) from None


def available_profiles() -> list[str]:
    return [n for n in PROFILES if get_profile(n).available()]


def require_profile(name: str) -> Profile:
    prof = get_profile(name)
    if not prof.available():
        raise CompilerNotFound(prof.missing_hint or f"compiler for profile {name!r} not found")
    return prof


def install_gcc(*, assume_yes: bool = True) -> int:
    """Install the optional GCC profile with apt-get (needs root). Returns the exit code."""
    if shutil.which(GCC_EXE):
        print(f"{GCC_EXE} already installed")
        return 0
    if not shutil.which("apt-get"):
        print("apt-get not found: install gcc-riscv64-unknown-elf with your package manager")
        return 1
    cmds = [["apt-get", "update"], ["apt-get", "install", "-y" if assume_yes else "", GCC_APT_PACKAGE]]
    for cmd in cmds:
        cmd = [c for c in cmd if c]
        print("+", " ".join(cmd))
        rc = subprocess.call(cmd, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if rc:
            return rc
    return 0


# ---------------------------------------------------------------------------------------
# Building


def cache_dir() -> Path:
    base = os.environ.get("EXO_LSP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "exo-lsp"
    )
    d = Path(base) / "rvm-elf"
    d.mkdir(parents=True, exist_ok=True)
    return d


_RUNTIME_SOURCES = ("crt0.S", "rvm_rt.c")


def _runtime_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(RUNTIME_DIR.iterdir()):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


_runtime_digest_cached: str | None = None


def build_key(kernel_c: str, harness_c: str, profile: Profile) -> str:
    global _runtime_digest_cached
    if _runtime_digest_cached is None:
        _runtime_digest_cached = _runtime_digest()
    h = hashlib.sha256()
    for part in (
        kernel_c,
        harness_c,
        profile.name,
        " ".join(profile.cflags),
        " ".join(profile.ldflags),
        _runtime_digest_cached,
    ):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


_DIAG_RE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?P<sev>fatal error|error|warning|note):\s*(?P<msg>.*)$", re.M)


def parse_diagnostics(output: str) -> list[CDiagnostic]:
    diags = []
    for m in _DIAG_RE.finditer(output):
        diags.append(
            CDiagnostic(
                file=os.path.basename(m["file"]),
                line=int(m["line"]),
                column=int(m["col"] or 0),
                severity="error" if "error" in m["sev"] else m["sev"],
                message=m["msg"].strip(),
            )
        )
    return diags


@dataclass
class BuildResult:
    elf_path: Path
    key: str
    profile: str
    cached: bool
    seconds: float = 0.0
    warnings: list[CDiagnostic] = field(default_factory=list)


def build_elf(kernel_c: str, harness_c: str, profile: str = "zig") -> BuildResult:
    """Compile and link kernel + harness + runtime into a freestanding RV32 ELF (cached)."""
    import time

    prof = require_profile(profile)
    key = build_key(kernel_c, harness_c, prof)
    out = cache_dir() / f"{key}-{prof.name}.elf"
    if out.exists():
        return BuildResult(out, key, prof.name, cached=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="exo-rvm-") as td:
        tdp = Path(td)
        (tdp / KERNEL_FILE).write_text(kernel_c)
        (tdp / HARNESS_FILE).write_text(harness_c)
        tmp_elf = tdp / "out.elf"
        argv = [
            *prof.driver,
            *prof.cflags,
            "-I",
            str(RUNTIME_DIR),
            "-include",
            str(RUNTIME_DIR / "rvm_asm.h"),
            *prof.ldflags,
            "-T",
            str(RUNTIME_DIR / "link.ld"),
            str(RUNTIME_DIR / "crt0.S"),
            str(RUNTIME_DIR / "rvm_rt.c"),
            HARNESS_FILE,
            KERNEL_FILE,
            "-o",
            str(tmp_elf),
        ]
        proc = subprocess.run(argv, cwd=td, capture_output=True, text=True)
        output = (proc.stdout + proc.stderr).replace(td + os.sep, "")
        diags = parse_diagnostics(output)
        if proc.returncode != 0 or not tmp_elf.exists():
            errors = [d for d in diags if d.severity == "error"] or diags
            if errors:
                first = errors[0]
                msg = (
                    f"{prof.name} compile failed: {first.file}:{first.line}:{first.column}: "
                    f"{first.message}"
                )
                if len(errors) > 1:
                    msg += f" (+{len(errors) - 1} more)"
            else:
                tail = output.strip().splitlines()[-3:]
                msg = f"{prof.name} compile/link failed: " + " | ".join(tail)
            raise CompileError(msg, errors, output)
        tmp_out = out.with_suffix(f".tmp{os.getpid()}")
        shutil.copyfile(tmp_elf, tmp_out)
        os.replace(tmp_out, out)
    return BuildResult(
        out,
        key,
        prof.name,
        cached=False,
        seconds=time.perf_counter() - t0,
        warnings=[d for d in diags if d.severity == "warning"],
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m exo_lsp.rvm.toolchain")
    ap.add_argument("--install-gcc", action="store_true", help="apt-get install the gcc profile")
    ap.add_argument("--list", action="store_true", help="list compiler profiles")
    args = ap.parse_args(argv)
    if args.install_gcc:
        return install_gcc()
    for name in PROFILES:
        p = get_profile(name)
        print(f"{name:4} {'available' if p.available() else 'missing  '}  {p.description}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
