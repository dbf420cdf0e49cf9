"""The call-site scanner that completion and signature help read lines being typed with."""

from __future__ import annotations

from exo_lsp.shared.callsite import call_site

TEXT = '''p = divide_loop(p, "for ", 4, ["io", "ii"], perfect=True)
p = stage_mem(p, p.find_loop("c").expand(1, 0), "out[4
c = p.find_loop("c").ex
p = reorder_loops(p,
    "ii'''


def test_inside_a_pattern_string():
    s = call_site(TEXT, 0, 23)
    assert (s.callee, s.arg_index, s.args, s.in_string, s.string_prefix) == ("divide_loop", 1, ["p"], True, "for")
    assert s.string_range == (0, 20, 24)  # the literal's content, up to its closing quote


def test_keyword_and_list_arguments():
    s = call_site(TEXT, 0, 52)  # after `perfect=`
    assert (s.callee, s.arg_index, s.keyword, s.in_string) == ("divide_loop", 4, "perfect", False)
    s = call_site(TEXT, 0, 38)  # inside "ii" in the list: still the call's 4th argument
    assert (s.callee, s.arg_index, s.in_string) == ("divide_loop", 3, True)


def test_unclosed_string_with_a_cursor_chain_before_it():
    s = call_site(TEXT, 1, 58)
    assert s.callee == "stage_mem" and s.arg_index == 2
    assert s.args == ["p", 'p.find_loop("c").expand(1, 0)'] and s.string_prefix == "out[4"
    assert s.string_range == (1, 49, 54)  # no closing quote: to the end of the line


def test_member_after_a_chain_is_not_swallowed_by_the_line_above():
    s = call_site(TEXT, 2, 23)
    assert (s.callee, s.member_of, s.member_prefix, s.word_start) == (None, 'p.find_loop("c")', "ex", 21)


def test_continuation_lines():
    s = call_site(TEXT, 4, 7)
    assert (s.callee, s.arg_index, s.in_string, s.string_prefix, s.call_start) == ("reorder_loops", 1, True, "ii", (3, 4))
