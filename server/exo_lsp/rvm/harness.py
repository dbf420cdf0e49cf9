"""Test harness generated from an Exo proc's signature.

For every argument the harness declares a global buffer (symbol ``exo_arg_<name>``) in the
``.exo_io`` section (never cleared by crt0) or, for ``DRAM_INTERLEAVED`` arguments, in
``.xheep_data_interleaved``. The simulator writes deterministic seeded inputs into these
symbols before start and reads every tensor back afterwards. ``main`` reads ``mcycle`` and
``minstret`` around the kernel call.

Input values (deterministic for a seed, independent of the proc's schedule):

* ``i8``/``ui8``/``i16``/``ui16``: the whole range of the type;
* ``i32``: uniform in [-100, 100] (keeps sums of products far from signed overflow,
  which is undefined behaviour in C and would make scalar and RVM code legitimately differ);
* ``f32``/``f64``: integers in [-8, 8] stored as floats, so sums are exact whatever the
  association order and bit-exact comparison is meaningful.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from ..worker.exo.signatures import SizeExpr, SizeOp, proc_signature

I32_RANGE = (-100, 100)
FLOAT_RANGE = (-8, 8)

# exo basetype name -> (C type, struct format char, size, value range or None for float)
_SCALARS = {
    "i8": ("int8_t", "b", 1, (-128, 127)),
    "ui8": ("uint8_t", "B", 1, (0, 255)),
    "i16": ("int16_t", "h", 2, (-32768, 32767)),
    "ui16": ("uint16_t", "H", 2, (0, 65535)),
    "i32": ("int32_t", "i", 4, I32_RANGE),
    "f32": ("float", "f", 4, None),
    "f64": ("double", "d", 8, None),
}


class HarnessError(Exception):
    """The proc's arguments cannot be generated (unsupported types or sizes)."""


@dataclass
class ArgSpec:
    name: str
    #: "tensor", "window", "scalar" or "size"
    kind: str
    basetype: str  # exo type name, e.g. "i32"; "size" for sizes
    ctype: str
    fmt: str  # struct format char
    elem_size: int
    shape: tuple[int, ...]
    section: str
    symbol: str
    value: int | None = None  # for sizes

    @property
    def count(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.count * self.elem_size


@dataclass
class Harness:
    proc_name: str
    args: list[ArgSpec]
    c_text: str

    def inputs(self, seed: int) -> dict[str, bytes]:
        """Deterministic input bytes per argument (sizes excluded)."""
        out = {}
        for a in self.args:
            if a.kind == "size":
                continue
            # per-argument stream: the same name and seed give the same data in any proc
            rng = random.Random(f"{seed}:{a.name}")
            lo_hi = _SCALARS[a.basetype][3]
            if lo_hi is None:
                lo, hi = FLOAT_RANGE
                vals = [float(rng.randint(lo, hi)) for _ in range(a.count)]
            else:
                lo, hi = lo_hi
                vals = [rng.randint(lo, hi) for _ in range(a.count)]
            out[a.name] = struct.pack(f"<{a.count}{a.fmt}", *vals)
        return out

    def unpack(self, name: str, data: bytes) -> list:
        a = next(x for x in self.args if x.name == name)
        return list(struct.unpack(f"<{a.count}{a.fmt}", data))

    @property
    def tensors(self) -> list[ArgSpec]:
        return [a for a in self.args if a.kind != "size"]


def _eval_size(e: SizeExpr, sizes: dict[str, int], argname: str) -> int:
    if isinstance(e, int):
        return e
    if isinstance(e, str):
        if e in sizes:
            return int(sizes[e])
        raise HarnessError(
            f"argument '{argname}' has symbolic size '{e}' without a value: "
            f"pass sizes={{'{e}': N}}"
        )
    if isinstance(e, SizeOp):
        a = _eval_size(e.lhs, sizes, argname)
        b = _eval_size(e.rhs, sizes, argname)
        ops = {"+": a + b, "-": a - b, "*": a * b}
        if e.op in ops:
            return ops[e.op]
        if e.op == "/" and b:
            return a // b
        if e.op == "%" and b:
            return a % b
    raise HarnessError(f"argument '{argname}': cannot evaluate size expression '{e.text}'")


MAX_ARG_BYTES = 128 * 1024


def make_harness(proc, sizes: dict[str, int] | None = None) -> Harness:
    """Build the harness for an ``exo.Procedure`` (or its LoopIR proc)."""
    sig = proc_signature(proc)
    sizes = dict(sizes or {})
    name = sig.name
    args: list[ArgSpec] = []
    for fa in sig.args:
        an = fa.name
        if fa.kind == "size":
            if an not in sizes:
                raise HarnessError(
                    f"{name}: size argument '{an}' has no value: pass sizes={{'{an}': N}}"
                )
            v = int(sizes[an])
            if v < 0:
                raise HarnessError(f"{name}: size argument '{an}' must be >= 0, got {v}")
            args.append(ArgSpec(an, "size", "size", "int_fast32_t", "i", 4, (), "", f"exo_arg_{an}", v))
            continue
        if fa.kind == "other":
            raise HarnessError(
                f"{name}: argument '{an}' of type {fa.type_text} is not supported by the harness "
                f"(supported: sizes, scalars and tensors of {', '.join(_SCALARS)})"
            )
        base = fa.elem_type
        if base not in _SCALARS:
            raise HarnessError(
                f"{name}: argument '{an}' has element type {base}, not supported by the "
                f"harness (supported: {', '.join(_SCALARS)})"
            )
        ctype, fmt, esz, _ = _SCALARS[base]
        memname = fa.mem if fa.mem is not None else "DRAM"
        if "INTERLEAVED" in memname.upper():
            section = ".xheep_data_interleaved"
        elif memname in ("DRAM", "DRAM_STATIC"):
            section = ".exo_io"
        else:
            raise HarnessError(
                f"{name}: argument '{an}' lives in memory {memname}; the harness can only "
                f"pass DRAM or DRAM_INTERLEAVED arguments"
            )
        if fa.kind == "scalar":
            args.append(ArgSpec(an, "scalar", base, ctype, fmt, esz, (), section, f"exo_arg_{an}"))
            continue
        shape = tuple(_eval_size(e, sizes, an) for e in fa.shape)
        if any(d <= 0 for d in shape):
            raise HarnessError(f"{name}: argument '{an}' has empty shape {list(shape)}")
        kind = "window" if fa.window else "tensor"
        spec = ArgSpec(an, kind, base, ctype, fmt, esz, shape, section, f"exo_arg_{an}")
        if spec.nbytes > MAX_ARG_BYTES:
            raise HarnessError(
                f"{name}: argument '{an}' needs {spec.nbytes} bytes; the simulated memory "
                f"allows at most {MAX_ARG_BYTES} per argument"
            )
        args.append(spec)
    return Harness(name, args, _harness_c(name, args))


def _harness_c(name: str, args: list[ArgSpec]) -> str:
    lines = [
        "/* Generated by exo_lsp.rvm.harness for " + name + ". */",
        "#include <stdint.h>",
        "",
    ]
    params = ["void *ctxt"]
    call = ["exo_ctxt"]
    wins = set()
    for a in args:
        if a.kind == "size":
            lines.append(f"static const int_fast32_t {a.symbol} = {a.value};")
            params.append(f"int_fast32_t {a.name}")
            call.append(a.symbol)
            continue
        attr = f'__attribute__((section("{a.section}"), aligned(16)))'
        if a.kind == "scalar":
            lines.append(f"{a.ctype} {a.symbol} {attr};")
            params.append(f"{a.ctype} *{a.name}")
            call.append(f"&{a.symbol}")
            continue
        lines.append(f"{a.ctype} {a.symbol}[{a.count}] {attr};")
        if a.kind == "tensor":
            params.append(f"{a.ctype} *{a.name}")
            call.append(a.symbol)
        else:
            n = len(a.shape)
            wname = f"exo_h_win_{n}{a.basetype}"
            if wname not in wins:
                wins.add(wname)
                lines.append(
                    f"struct {wname} {{ {a.ctype} *data; int_fast32_t strides[{n}]; }};"
                )
            strides = []
            acc = 1
            for d in reversed(a.shape):
                strides.append(acc)
                acc *= d
            strides.reverse()
            params.append(f"struct {wname} {a.name}")
            call.append(f"(struct {wname}){{ {a.symbol}, {{ {', '.join(map(str, strides))} }} }}")
    lines += [
        "",
        "static char exo_ctxt[256] __attribute__((aligned(16)));",
        "volatile uint32_t exo_counters[4];",
        f"void {name}({', '.join(params)});",
        "",
        "int main(void) {",
        "    uint32_t c0, c1, i0, i1;",
        '    __asm__ volatile("csrr %0, mcycle" : "=r"(c0) :: "memory");',
        '    __asm__ volatile("csrr %0, minstret" : "=r"(i0) :: "memory");',
        f"    {name}({', '.join(call)});",
        '    __asm__ volatile("csrr %0, minstret" : "=r"(i1) :: "memory");',
        '    __asm__ volatile("csrr %0, mcycle" : "=r"(c1) :: "memory");',
        "    exo_counters[0] = c0; exo_counters[1] = c1;",
        "    exo_counters[2] = i0; exo_counters[3] = i1;",
        "    return 0;",
        "}",
        "",
    ]
    return "\n".join(lines)
