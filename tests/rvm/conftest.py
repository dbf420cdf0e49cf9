"""Fixtures for the RVM tests."""

from __future__ import annotations

import runpy

import pytest
from rvm_helpers import EXAMPLES


@pytest.fixture(scope="session")
def variants():
    return runpy.run_path(str(EXAMPLES / "conv1d_variants.py"))


@pytest.fixture(scope="session")
def case_study():
    return runpy.run_path(str(EXAMPLES / "conv1d.py"))
