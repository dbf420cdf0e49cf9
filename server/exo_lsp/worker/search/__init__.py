"""Schedule search: sequences of Exo-validated scheduling steps, scored by the RVM
simulator's cycles, accepted only when bit-exact with the algorithm.

Modules: ``session`` (the script loaded once per process, schedules replayed with a prefix
memo), ``recipes`` (multi-step actions derived from the @instr procs and memories in scope),
``space`` (the action list at a proc: recipes + the code-action enumerator), ``rollout`` (a
task: replay a prefix, extend it by seeded random steps, simulate), ``backends`` (serial,
process pool, Ray), ``engine`` (beam search with rollouts; random and greedy baselines),
``script`` (the readable schedule script).
"""
