"""Real-editor tests: a failing test shows the editor run's logs (server stderr included)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        run = getattr(item.module, "EDITOR_RUN", None)
        if run is not None:
            report.sections.append((f"{run.name} run and logs", run.report()))
