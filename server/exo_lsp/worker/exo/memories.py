"""Memory classes built on Exo's internals (``StaticMemory``'s class-level free list,
``MemGenError``, ``exo.libs.memories.DRAM_STATIC``), so that a target (``rvm/isa.py``)
declares its memories with the helpers here and Exo's public API alone."""

from __future__ import annotations

from collections.abc import Sequence

from exo.core.memory import MemGenError, StaticMemory
from exo.libs.memories import DRAM_STATIC

__all__ = ["DRAM_STATIC", "static_dram_in_section", "tile_register_memory"]


def tile_register_memory(
    name: str,
    *,
    module: str,
    registers: Sequence[str],
    shape: tuple[int, ...],
    elem: str,
    ctype: str,
    label: str,
    article: str = "a",
    doc: str | None = None,
) -> type[StaticMemory]:
    """A memory class `name` of tile registers: each buffer in it is one tile of `shape`
    with `elem` (C type `ctype`) elements, held in one of `registers`, handed out in that
    order and freed again (``reset_allocations`` forgets them all).

    C has no notion of such registers, so a buffer "lives" in one by a
    ``#define name "register"`` that instruction templates splice into their asm. The CPU
    cannot read them. Codegen errors name the memory by `label` ("RVM tile")."""
    registers = tuple(registers)
    want = [str(n) for n in shape]
    dims = "x".join(want)

    class TileRegisters(StaticMemory):
        NUM_TILES = len(registers)
        tile_of: dict[str, int] = {}

        @classmethod
        def reset_allocations(cls):
            cls.init_state(cls.NUM_TILES)
            cls.tile_of = {}

        @classmethod
        def can_read(cls):
            return False

        @classmethod
        def alloc(cls, new_name, prim_type, shape, srcinfo):
            if prim_type != ctype:
                raise MemGenError(f"{srcinfo}: {label}s hold {elem}, not {prim_type}")
            if len(shape) != len(want) or shape != want:
                raise MemGenError(
                    f"{srcinfo}: {article} {label} is {dims}; "
                    f"'{new_name}' has shape [{', '.join(shape)}] (unroll_buffer the extra dimensions)"
                )
            live = [n for n in cls.tile_of]
            try:
                idx = cls.find_free_chunk()
            except MemGenError:
                raise MemGenError(
                    f"{srcinfo}: no free {label} register for '{new_name}': all "
                    f"{cls.NUM_TILES} are live ({', '.join(live)})"
                ) from None
            cls.mark(idx)
            cls.tile_of[new_name] = idx
            return f'#define {new_name} "{registers[idx]}"'

        @classmethod
        def free(cls, new_name, prim_type, shape, srcinfo):
            idx = cls.tile_of.pop(new_name)
            cls.unmark(idx)
            return f"#undef {new_name}"

    TileRegisters.__name__ = TileRegisters.__qualname__ = name
    TileRegisters.__module__ = module
    TileRegisters.__doc__ = doc
    TileRegisters.init_state(TileRegisters.NUM_TILES)
    return TileRegisters


def static_dram_in_section(name: str, section: str, *, module: str, doc: str | None = None) -> type[DRAM_STATIC]:
    """A memory class `name`: ``DRAM_STATIC`` buffers placed in the linker section `section`."""

    class InSection(DRAM_STATIC):
        @classmethod
        def alloc(cls, new_name, prim_type, shape, srcinfo):
            decl = super().alloc(new_name, prim_type, shape, srcinfo)
            return f'__attribute__((section("{section}"))) ' + decl

    InSection.__name__ = InSection.__qualname__ = name
    InSection.__module__ = module
    InSection.__doc__ = doc
    return InSection
