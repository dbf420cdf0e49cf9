"""The language server process: LSP methods, settings, the worker client and the features.
Nothing here imports Exo; everything about procs is asked of the worker."""
