"""The text of suggestions: the search's calls (on `p`) in the script's variable, and the
lines of a whole schedule."""

from __future__ import annotations

from exo_lsp.lsp.suggest_text import rename_var, schedule_lines, step_lines
from exo_lsp.shared.contract import FoundSchedule


def test_rename_var_renames_the_variable_only():
    call = 'fission(p, p.find("out[_] = _").after(), n_lifts=2)'
    assert rename_var(call, "p", "q") == 'fission(q, q.find("out[_] = _").after(), n_lifts=2)'
    # not an attribute, a keyword argument, a string or a longer name
    assert rename_var('f(p, x.p, p=1, "p", pp)', "p", "sched") == 'f(sched, x.p, p=1, "p", pp)'
    assert rename_var("divide_loop(p, 'for i in _:_', 4)", "p", "p") == "divide_loop(p, 'for i in _:_', 4)"
    assert rename_var("not python (", "p", "q") == "not python ("  # left alone


def test_step_and_schedule_lines():
    assert step_lines(["a(p, 1)", "b(p)"], "proc_v", "    ") == "    proc_v = a(proc_v, 1)\n    proc_v = b(proc_v)\n"
    s = FoundSchedule(["a(p, 1)", "b(p, p.find('x'))"], ["a", "b"], 1234, 2.5)
    assert schedule_lines(s, "v", None, "", 9) == (
        "# Suggested by exo-lsp search from line 10: 1,234 cycles, 2.50x over the algorithm.\n"
        "v = a(v, 1)\nv = b(v, v.find('x'))\n"
    )
    assert schedule_lines(s, "v", "v_searched", "  ", 9, "k_searched") == (
        "  # Suggested by exo-lsp search from line 10: 1,234 cycles, 2.50x over the algorithm.\n"
        '  v_searched = rename(v, "k_searched")\n'
        "  v_searched = a(v_searched, 1)\n  v_searched = b(v_searched, v_searched.find('x'))\n"
    )
