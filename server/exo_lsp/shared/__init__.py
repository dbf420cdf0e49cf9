"""What both processes share, with neither Exo nor pygls: the trace data, text positions,
the worker query contract and the framing of messages between the server and its worker."""
