"""The generated protocol files (JSON Schema, TypeScript, README reference) match the
msgspec definitions in protocol/exo_lsp_protocol; regenerate with
``python protocol/generate.py``."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re

import msgspec

from exo_lsp_protocol import messages

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("protocol_generate", ROOT / "protocol" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _generator()


def test_generated_files_are_up_to_date():
    for path, text in gen.outputs().items():
        assert path.exists(), f"{path} is missing: run python protocol/generate.py"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python protocol/generate.py"


def test_every_method_is_in_schema_typescript_and_readme():
    schema = json.loads(gen.SCHEMA.read_text(encoding="utf-8"))
    ts = gen.TS.read_text(encoding="utf-8")
    readme = gen.README.read_text(encoding="utf-8")
    names = [m.name for m in messages.METHODS]
    assert [m["method"] for m in schema["methods"]] == names
    assert len(set(names)) == len(names)
    for meth in messages.METHODS:
        assert meth.params.__name__ in schema["$defs"]
        assert f"export interface {meth.params.__name__} {{" in ts
        assert f'"{meth.name}": {{ params: {meth.params.__name__}; ' in ts
        assert f"### `{meth.name}`" in readme
        assert meth.doc, f"{meth.name} has no description"
    # the typed method table the client sends and handles messages through
    for meth in messages.METHODS:
        key = gen._const_name(meth.name)
        params = meth.params.__name__
        if meth.kind == "request":
            want = f"  {key}: new RequestType<{params}, {meth.result.__name__}, void>({json.dumps(meth.name)}),"
        elif meth.kind == "notification":
            want = f"  {key}: new NotificationType<{params}>({json.dumps(meth.name)}),"
        else:
            want = f"  {key}: new CommandType<{params}, {meth.result.__name__}>({json.dumps(meth.name)}),"
        assert re.search(rf"^{re.escape(want)}$", ts, re.M), want
    for key in ("viewMap", "stepDiff", "stepChange", "viewText", "steps"):
        assert re.search(rf'^  {key}: new RequestType<\w+, \w+, void>\("exo/{key}"\),$', ts, re.M)
    assert re.search(r'^  viewsChanged: new NotificationType<ViewsChangedParams>\("exo/viewsChanged"\),$', ts, re.M)


def test_staleness_is_detected(tmp_path, monkeypatch):
    # a changed definition makes the check fail
    class Extra(messages._Msg):
        uri: str

    monkeypatch.setattr(messages, "METHODS", messages.METHODS + [
        messages.Method("exo/extra", "request", "client->server", Extra, None, "An extra message.")])
    assert set(gen.stale()) == {gen.SCHEMA, gen.TS, gen.README}


def test_schema_validates_wire_names():
    schema = json.loads(gen.SCHEMA.read_text(encoding="utf-8"))
    props = schema["$defs"]["ViewStatement"]["properties"]
    assert list(props) == [f.encode_name for f in msgspec.structs.fields(messages.ViewStatement)]
    assert "procLines" in props and props["createdStep"]["description"].startswith("Index of the step")
    assert schema["$defs"]["StepDiffParams"]["required"] == ["uri", "fromStep", "toStep"]
