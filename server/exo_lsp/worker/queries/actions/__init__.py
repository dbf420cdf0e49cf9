"""Code actions, worker side: the transforms that really apply at a place.

A *place* is a node of the proc after some step: what a pattern/cursor argument of that
step selected (forwarded through the step), the statements an algorithm source line became
at the end of the schedule, a statement of the proc view, or the whole proc. For each node
we enumerate candidate scheduling calls by its kind, written as the one line the user would
type (``reorder_loops(p, "ii jo")``), and *validate each by evaluating exactly that text*
on the in-memory proc in the script's namespace: only calls that run and change the proc
are offered, and the proc they produced is the preview.

Validation is the cost (Exo's effect checks run an SMT solver), so:
  * structural filters drop what cannot apply before Exo is asked (no perfect nest, bound not
    divisible, instruction body of another shape, ...);
  * nothing is printed or compiled while validating (procs are compared with the raw printer);
  * cheap calls are validated before the ones that run effect checks, within a time budget;
    the rest is reported as pending and finished by a follow-up query;
  * outcomes are cached by (proc, call text): a proc the memo keeps across runs is never
    re-validated, and a preview reuses the validated result.

Modules: ``places`` (where the actions apply, and the script's scope there), ``nodes``
(cursor helpers and pattern strings that select one node), ``candidate`` (groups, ranks,
costs), ``enumerator`` (candidates by node kind: loops, allocations, accesses, ifs, blocks,
staging), ``windows`` (stage_mem windows), ``replace`` (instruction replacements and the
memory fixes they need), ``validation`` (applying a candidate: budget, cache), and
``handlers`` (the ``actions.list`` and ``actions.preview`` queries).
"""
