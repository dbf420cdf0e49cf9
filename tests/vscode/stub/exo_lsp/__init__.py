"""A stand-in for the exo-lsp server that speaks only the custom protocol, with canned answers.

The VS Code e2e runs the extension against it (through ``../python``) to check the client's side
of the contract independently of the real engine. Not a server: no Exo is ever run.
"""
