"""Every touch of Exo internals, pinned to exo-lang 1.0.0."""
