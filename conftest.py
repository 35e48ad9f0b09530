"""Test-session setup shared by tests/ and the doctests in src/: keep caches out of $HOME."""

import os
import shutil
import tempfile

_HOME = tempfile.mkdtemp(prefix="ladle-test-home-")
os.environ["LADLE_HOME"] = _HOME
os.environ.setdefault("KERAS_BACKEND", "torch")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_HOME, ignore_errors=True)
