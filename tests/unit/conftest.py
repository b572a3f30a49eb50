"""The unit tier: the engines and pure helpers, with no services at all (`pytest tests/unit`).

The integration tests' session fixture that starts Redis, SeaweedFS and clamd is overridden here by one
that starts nothing; pytest-django refuses database access to tests not marked for it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def stack() -> None:
    """Nothing to start."""
