"""The worker process: runs user schedule scripts, traces them and answers queries about
their procs. The only side of exo-lsp that imports Exo (through ``worker.exo``)."""
