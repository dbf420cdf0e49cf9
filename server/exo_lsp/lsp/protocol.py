"""pygls's protocol with the checks a language server owes its clients.

- ``textDocument/didChange`` with a version not above the document's is dropped (and
  logged): applying it would put the server's text out of step with the editor's.
"""

from __future__ import annotations

import logging

from lsprotocol import types as lsp
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger("exo_lsp.protocol")


class ExoProtocol(LanguageServerProtocol):
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
