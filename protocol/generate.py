"""Generate the client's view of the protocol from ``exo_lsp_protocol.messages``.

Writes (``python protocol/generate.py``; ``--check`` only compares):

* ``protocol/schema.json`` — JSON Schema of every message type, plus the method table;
* ``client-vscode/src/protocol.ts`` — TypeScript interfaces, a method -> params/result
  type map, and the typed method table the client sends and handles messages through
  (``Requests``, ``Notifications``: vscode-languageclient ``RequestType`` / ``NotificationType``
  objects; ``Commands``: ``workspace/executeCommand`` typed per command);
* the generated part of ``protocol/README.md`` — one section per message.

Descriptions come from the Structs' docstrings and from the string literal written under
a field (the convention of ``messages.py`` and ``simulate.py``).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import pathlib
import re
import sys
import textwrap
from typing import Any

import msgspec

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "protocol"))

from exo_lsp_protocol import messages  # noqa: E402

SCHEMA = ROOT / "protocol" / "schema.json"
TS = ROOT / "client-vscode" / "src" / "protocol.ts"
README = ROOT / "protocol" / "README.md"
BEGIN = "<!-- BEGIN GENERATED: python protocol/generate.py -->"
END = "<!-- END GENERATED -->"
SCHEMES = {"ProcScheme": "exo-proc", "CScheme": "exo-c"}


# --------------------------------------------------------------------------- schema


def _field_docs(cls: type) -> dict[str, str]:
    """Python field name -> the string literal written under it."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    out = {}
    for a, b in zip(body, body[1:]):
        if (isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name) and isinstance(b, ast.Expr)
                and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str)):
            out[a.target.id] = inspect.cleandoc(b.value.value)
    return out


def _structs(tp: Any, seen: dict[str, type]) -> None:
    """Every Struct reachable from `tp` (for field docs)."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        if tp.__name__ in seen:
            return
        seen[tp.__name__] = tp
        for f in msgspec.structs.fields(tp):
            _structs(f.type, seen)
        return
    for arg in getattr(tp, "__args__", ()) or ():
        _structs(arg, seen)


def build_schema() -> dict:
    types = []
    for meth in messages.METHODS:
        types.append(meth.params)
        if meth.result is not None:
            types.append(meth.result)
    _, defs = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    structs: dict[str, type] = {}
    for t in types:
        _structs(t, structs)
    for name, cls in structs.items():
        docs = _field_docs(cls)
        props = defs.get(name, {}).get("properties", {})
        for f in msgspec.structs.fields(cls):
            if f.name in docs and f.encode_name in props:
                props[f.encode_name]["description"] = docs[f.name]
    methods = [
        {
            "method": meth.name,
            "kind": meth.kind,
            "direction": meth.direction,
            "params": {"$ref": f"#/$defs/{meth.params.__name__}"},
            "result": None if meth.result is None else {"$ref": f"#/$defs/{meth.result.__name__}"},
            "description": inspect.cleandoc(meth.doc or ""),
        }
        for meth in messages.METHODS
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "exo-lsp custom messages",
        "description": "Generated from protocol/exo_lsp_protocol by protocol/generate.py; do not edit.",
        "methods": methods,
        "uriSchemes": SCHEMES,
        "$defs": dict(sorted(defs.items())),
    }


def schema_text(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- TypeScript


def _ts_type(s: dict) -> str:
    if "$ref" in s:
        return s["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in s:
        parts = []
        for sub in s["anyOf"]:
            t = _ts_type(sub)
            if t not in parts:
                parts.append(t)
        return " | ".join(parts)
    if "enum" in s:
        return " | ".join(json.dumps(v) for v in s["enum"])
    if "const" in s:
        return json.dumps(s["const"])
    t = s.get("type")
    if t in ("integer", "number"):
        return "number"
    if t == "string":
        return "string"
    if t == "boolean":
        return "boolean"
    if t == "null":
        return "null"
    if t == "array":
        if "prefixItems" in s:
            return "[" + ", ".join(_ts_type(x) for x in s["prefixItems"]) + "]"
        inner = _ts_type(s.get("items", {}))
        return f"({inner})[]" if " " in inner else f"{inner}[]"
    if t == "object":
        if "additionalProperties" in s:
            return f"Record<string, {_ts_type(s['additionalProperties'])}>"
        return "Record<string, unknown>"
    return "unknown"


def _doc(text: str, indent: str) -> list[str]:
    if not text:
        return []
    text = text.replace("*/", "*\u200b/")
    lines = text.split("\n")
    if len(lines) == 1:
        return [f"{indent}/** {lines[0]} */"]
    return [f"{indent}/**"] + [f"{indent} * {ln}".rstrip() for ln in lines] + [f"{indent} */"]


def _const_name(method: str) -> str:
    tail = re.split(r"[/.]", method, maxsplit=1)[-1]
    return tail[0].lower() + tail[1:]


def _type_name(ref: dict | None) -> str | None:
    return None if ref is None else ref["$ref"].rsplit("/", 1)[-1]


def _ts_method_table(schema: dict) -> list[str]:
    """``Requests``, ``Notifications`` and ``Commands``: one typed object per method."""
    by_kind: dict[str, list[dict]] = {"request": [], "notification": [], "command": []}
    for meth in schema["methods"]:
        by_kind[meth["kind"]].append(meth)
    out = [
        "/** The custom requests, typed: `client.sendRequest(Requests.viewText, params, token)`. */",
        "export const Requests = {",
    ]
    for meth in by_kind["request"]:
        params, result = _type_name(meth["params"]), _type_name(meth["result"])
        out += _doc(f"{meth['direction']}: {meth['description']}", "  ")
        out.append(f"  {_const_name(meth['method'])}: new RequestType<{params}, {result}, void>({json.dumps(meth['method'])}),")
    out += [
        "} as const;",
        "",
        "/**",
        " * The custom notifications, typed: `client.onNotification(Notifications.runStatus, handler)` for",
        " * those the server sends, `client.sendNotification(Notifications.trustChanged, params)` for the others.",
        " */",
        "export const Notifications = {",
    ]
    for meth in by_kind["notification"]:
        params = _type_name(meth["params"])
        out += _doc(f"{meth['direction']}: {meth['description']}", "  ")
        out.append(f"  {_const_name(meth['method'])}: new NotificationType<{params}>({json.dumps(meth['method'])}),")
    out += [
        "} as const;",
        "",
        "/** A command the server executes: `workspace/executeCommand` with its name and its one argument. */",
        "export class CommandType<A, R> {",
        "  /** `workspace/executeCommand`, typed for this command. */",
        "  readonly request = new RequestType<{ command: string; arguments: [A] }, R | null, void>(ExecuteCommandRequest.method);",
        "",
        "  constructor(readonly command: string) {}",
        "",
        "  params(argument: A): { command: string; arguments: [A] } {",
        "    return { command: this.command, arguments: [argument] };",
        "  }",
        "}",
        "",
        "/** The server's commands, typed: `client.sendRequest(c.request, c.params(argument), token)`. */",
        "export const Commands = {",
    ]
    for meth in by_kind["command"]:
        params, result = _type_name(meth["params"]), _type_name(meth["result"])
        out += _doc(meth["description"], "  ")
        out.append(f"  {_const_name(meth['method'])}: new CommandType<{params}, {result}>({json.dumps(meth['method'])}),")
    out += ["} as const;", ""]
    return out


def build_ts(schema: dict) -> str:
    out = [
        "// Generated by protocol/generate.py from protocol/exo_lsp_protocol — do not edit.",
        "// Types of exo-lsp's custom LSP messages (field names as on the wire), and the typed",
        "// method table the client sends and handles them through.",
        "",
        'import { ExecuteCommandRequest, NotificationType, RequestType } from "vscode-languageclient";',
        "",
    ]
    for name, s in schema["$defs"].items():
        out += _doc(s.get("description", ""), "")
        if s.get("type") == "object" and "properties" in s:
            out.append(f"export interface {name} {{")
            required = set(s.get("required", []))
            for prop, ps in s["properties"].items():
                out += _doc(ps.get("description", ""), "  ")
                opt = "" if prop in required else "?"
                out.append(f"  {prop}{opt}: {_ts_type(ps)};")
            out.append("}")
        else:
            out.append(f"export type {name} = {_ts_type(s)};")
        out.append("")
    out += _ts_method_table(schema)
    out.append("/** Params and result type of each method. */")
    out.append("export interface MethodTypes {")
    for meth in schema["methods"]:
        params = meth["params"]["$ref"].rsplit("/", 1)[-1]
        result = "void" if meth["result"] is None else meth["result"]["$ref"].rsplit("/", 1)[-1]
        out += _doc(f"{meth['kind']}, {meth['direction']}: {meth['description']}", "  ")
        out.append(f"  {json.dumps(meth['method'])}: {{ params: {params}; result: {result} }};")
    out.append("}")
    out.append("")
    out.append("/** URI schemes of the views: `<scheme>:<script path>?proc=<name>&step=<n|last|-1>`. */")
    for k, v in SCHEMES.items():
        out.append(f"export const {k} = {json.dumps(v)};")
    out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- README


def _md_type(s: dict) -> str:
    return "`" + _ts_type(s).replace("|", "\\|") + "`"


def _md_fields(schema: dict, name: str) -> list[str]:
    s = schema["$defs"][name]
    props = s.get("properties")
    if not props:
        return [f"`{name}` = {_md_type(s)}", ""]
    required = set(s.get("required", []))
    rows = [f"`{name}`" + (f": {s['description']}" if s.get("description") else ""), "",
            "| field (= default: may be omitted) | type | |", "|---|---|---|"]
    for prop, ps in props.items():
        desc = ps.get("description", "").replace("\n", " ").replace("|", "\\|")
        opt = "" if prop in required else f" = `{json.dumps(ps.get('default'))}`"
        rows.append(f"| `{prop}`{opt} | {_md_type(ps)} | {desc} |")
    rows.append("")
    return rows


def _refs(s: Any) -> list[str]:
    if isinstance(s, dict):
        if "$ref" in s:
            return [s["$ref"].rsplit("/", 1)[-1]]
        return [r for v in s.values() for r in _refs(v)]
    if isinstance(s, list):
        return [r for v in s for r in _refs(v)]
    return []


def build_readme_section(schema: dict) -> str:
    out = [BEGIN, ""]
    shown: set[str] = {"SimulationResult"}  # documented field by field in simulate.py
    for meth in schema["methods"]:
        params = meth["params"]["$ref"].rsplit("/", 1)[-1]
        result = None if meth["result"] is None else meth["result"]["$ref"].rsplit("/", 1)[-1]
        out.append(f"### `{meth['method']}`")
        out.append("")
        out.append(f"*{meth['kind']}, {meth['direction']}.* {meth['description']}")
        out.append("")
        out.append("Params: " + " ".join(_md_fields(schema, params)[:1]))
        out += _md_fields(schema, params)[1:]
        if result is not None:
            out.append("Result: " + " ".join(_md_fields(schema, result)[:1]))
            out += _md_fields(schema, result)[1:]
        shown.update(n for n in (params, result) if n)
        todo = [r for n in (params, result) if n for r in _refs(schema["$defs"][n])]
        while todo:  # the types they use, once each
            name = todo.pop(0)
            if name in shown or name in ("Position", "Range"):
                continue
            shown.add(name)
            out.append("Where " + " ".join(_md_fields(schema, name)[:1]))
            out += _md_fields(schema, name)[1:]
            todo += _refs(schema["$defs"][name])
    out.append("`Position` and `Range` are LSP's. The simulation result types are documented in "
               "`exo_lsp_protocol/simulate.py`; all types are in `schema.json` and `protocol.ts`.")
    out.append("")
    out.append(END)
    return "\n".join(out)


def readme_text(current: str, schema: dict) -> str:
    section = build_readme_section(schema)
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + section + tail
    return current.rstrip("\n") + "\n\n" + section + "\n"


# --------------------------------------------------------------------------- main


def outputs() -> dict[pathlib.Path, str]:
    schema = build_schema()
    readme = README.read_text(encoding="utf-8") if README.exists() else "# exo-lsp protocol\n"
    return {SCHEMA: schema_text(schema), TS: build_ts(schema), README: readme_text(readme, schema)}


def stale() -> list[pathlib.Path]:
    return [p for p, text in outputs().items() if not p.exists() or p.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    args = ap.parse_args(argv)
    if args.check:
        bad = stale()
        for p in bad:
            print(f"stale: {p.relative_to(ROOT)} (run: python protocol/generate.py)", file=sys.stderr)
        return 1 if bad else 0
    for p, text in outputs().items():
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
            print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
