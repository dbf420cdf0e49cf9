"""Initialization options: typed, and a bad value costs only that option."""

from exo_lsp.lsp.settings import InitOptions, read_options


def test_defaults_without_options():
    assert read_options(None) == (InitOptions(), [])


def test_camel_case_names_are_read():
    opts, notes = read_options({"trusted": True, "timeoutSeconds": 12, "memoryMb": 0, "debounceMs": 50,
                                "workerPython": "/usr/bin/python3", "actionBudgetMs": 100})
    assert notes == []
    assert opts == InitOptions(trusted=True, timeout_seconds=12.0, memory_mb=0, worker_python="/usr/bin/python3",
                               debounce_ms=50.0, action_budget_ms=100.0)


def test_each_bad_value_falls_back_to_its_default_and_is_named():
    opts, notes = read_options({"trusted": True, "timeoutSeconds": "soon", "debounceMs": -5, "memoryMb": 64})
    assert opts == InitOptions(trusted=True, memory_mb=64)
    assert [n.split(":")[0] for n in notes] == ["timeoutSeconds", "debounceMs"]
    assert "'soon'" in notes[0] and "using the default" in notes[0]


def test_unknown_options_are_ignored_and_a_non_object_is_reported():
    assert read_options({"somethingElse": 1}) == (InitOptions(), [])
    opts, notes = read_options(["trusted"])
    assert opts == InitOptions() and notes == ["initializationOptions must be an object, not list"]
