"""Repository-wide pytest setup (applies to the doctests under acctgraph/ too)."""

from __future__ import annotations

import tempfile

import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def _doctest_folders_under_pytest(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Doctests make folders with :func:`tempfile.mkdtemp`; put them under pytest's temporary
    root, which pytest prunes (it keeps the last three sessions), instead of leaving them in /tmp."""
    if isinstance(request.node, DoctestItem):
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("doctest")))
