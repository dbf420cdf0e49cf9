"""Views as read-only files, for editors that cannot open ``exo-proc:``/``exo-c:`` documents.

Only VS Code (through our extension) reads the views as virtual documents. Every other
editor gets each view it asks for as a file under the user cache folder, one per script,
proc, step and kind, rewritten after every run of its script so it stays current, and
opened with ``window/showDocument``. The file holds exactly the view's text, so the view
maps (hover, definition back into the script) work on it as on the virtual document.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import re
import stat
from urllib.parse import parse_qs, unquote, urlsplit

import platformdirs

CACHE_ENV = "EXO_LSP_CACHE_DIR"  # tests and CI point the cache elsewhere


def cache_root() -> pathlib.Path:
    base = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("exo-lsp", appauthor=False)
    return pathlib.Path(base)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class ViewFiles:
    def __init__(self, root: pathlib.Path | None = None) -> None:
        self.root = (root or cache_root()) / "views"
        self.by_file: dict[str, str] = {}  # file path -> view URI
        self.by_view: dict[str, pathlib.Path] = {}  # view URI -> file path (written at least once)

    def file_for(self, view_uri: str) -> pathlib.Path:
        """Where the view lives on disk (a pure function of its URI)."""
        parts = urlsplit(view_uri)
        script = unquote(parts.path)
        query = parse_qs(parts.query)
        proc = query.get("proc", ["proc"])[0]
        step = query.get("step", ["last"])[0]
        digest = hashlib.sha1(script.encode()).hexdigest()[:10]
        folder = self.root / f"{_UNSAFE.sub('_', pathlib.Path(script).stem)}-{digest}"
        suffix = {"exo-c": ".c", "exo-diff": ".diff"}.get(parts.scheme, ".py")
        name = f"{_UNSAFE.sub('_', proc)}.{'defined' if step == '-1' else 'step' + step if step != 'last' else 'last'}"
        path = folder / (name + suffix)
        self.by_file[str(path)] = view_uri
        return path

    def write(self, view_uri: str, text: str) -> pathlib.Path:
        """Write the view read-only (replacing the previous version atomically)."""
        path = self.file_for(view_uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(tmp, path)
        self.by_view[view_uri] = path
        return path

    def view_of(self, file_path: str) -> str | None:
        """The view URI a file of ours shows, or None for any other file."""
        return self.by_file.get(os.path.abspath(file_path))

    def written_for(self, script_path: str) -> list[str]:
        """View URIs already written for a script (kept current after each run)."""
        quoted = {script_path}
        return [v for v in self.by_view if unquote(urlsplit(v).path) in quoted]
