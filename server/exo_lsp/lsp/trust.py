"""Which folders' scripts the server may run, remembered per user.

A folder is trusted when the client says so (the ``trusted`` initialization option, from
VS Code's Workspace Trust) or when the user answered "Trust" to the server's question
(``window/showMessageRequest``) once; the answer is kept in a JSON file in the user's
config directory (platformdirs), or at ``$EXO_LSP_TRUST_FILE``. Pre-trust a folder for CI
with ``exo-lsp trust <folder>``. A script is trusted when a trusted folder contains it.
"""

from __future__ import annotations

import json
import os
import pathlib

import platformdirs

ENV = "EXO_LSP_TRUST_FILE"


def store_path() -> pathlib.Path:
    given = os.environ.get(ENV)
    if given:
        return pathlib.Path(given)
    return pathlib.Path(platformdirs.user_config_dir("exo-lsp")) / "trusted-folders.json"


def trusted_folders() -> list[str]:
    try:
        data = json.loads(store_path().read_text())
    except (OSError, ValueError):
        return []
    folders = data.get("folders") if isinstance(data, dict) else None
    return [f for f in folders if isinstance(f, str)] if isinstance(folders, list) else []


def remember(folder: str) -> None:
    folder = os.path.realpath(folder)
    folders = trusted_folders()
    if folder in folders:
        return
    path = store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"folders": folders + [folder]}, indent=1) + "\n")
    os.replace(tmp, path)


def contains(folder: str, path: str) -> bool:
    folder, path = os.path.realpath(folder), os.path.realpath(path)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def is_trusted(path: str) -> bool:
    return any(contains(f, path) for f in trusted_folders())
