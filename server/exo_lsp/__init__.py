"""exo-lsp: the IDE for Exo scheduling."""
