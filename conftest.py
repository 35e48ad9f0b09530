"""Test-session setup shared by tests/ and the doctests in src/: keep caches out of $HOME."""

import os
import shutil
import tempfile

import pytest

_HOME = tempfile.mkdtemp(prefix="ladle-test-home-")
os.environ["LADLE_HOME"] = _HOME
os.environ.setdefault("KERAS_BACKEND", "torch")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    # After the fixtures' own teardown (monkeypatch restores what it changed): a test or doctest
    # that leaves LADLE_HOME changed would send later caches into the real HOME.
    result = yield
    assert os.environ.get("LADLE_HOME") == _HOME, f"{item.nodeid} changed LADLE_HOME"
    return result
