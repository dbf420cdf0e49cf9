"""pygls's protocol with the checks a language server owes its clients.

- ``textDocument/didChange`` with a version not above the document's is dropped (and
  logged): applying it would put the server's text out of step with the editor's.
- a request whose params do not fit its method's types gets -32602 Invalid params (pygls
  fails to read it before it knows where to answer, and sends nothing); a notification
  like that is dropped and logged.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger("exo_lsp.protocol")


_DROPPED = SimpleNamespace(jsonrpc="(dropped: invalid params)")  # handle_message ignores it


class ExoProtocol(LanguageServerProtocol):
    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not (isinstance(data, dict) and "method" in data):
                raise
            if "id" in data:
                error = exc if isinstance(exc, JsonRpcInvalidParams) else JsonRpcInvalidParams()
                error.message = f"invalid params for {data['method']}: {exc.__cause__ or exc}"
                self._send_response(data["id"], error=error.to_response_error())
            else:
                log.warning("dropped %s: invalid params: %s", data["method"], exc.__cause__ or exc)
            return _DROPPED

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams):
        doc = self.workspace.text_documents.get(params.text_document.uri)
        if doc is None:
            log.warning("didChange for a document that is not open: %s", params.text_document.uri)
            return
        if doc.version is not None and params.text_document.version <= doc.version:
            log.warning(
                "didChange to version %s of %s, which is at version %s: ignored",
                params.text_document.version, params.text_document.uri, doc.version,
            )
            return
        yield from super().lsp_text_document__did_change(params)
