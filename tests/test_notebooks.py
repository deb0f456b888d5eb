"""The investigator notebooks: each runs top to bottom from a clean kernel, and is stored clean and paired.

Every notebook is executed with nbclient in a fresh kernel of *this* Python (a
kernel spec written into a temporary Jupyter path, so that no ``python3``
kernel installed elsewhere on the machine can stand in for the project's
environment), with the working directory ``notebooks/`` as Jupyter uses, and
its outputs written to a temporary folder (``ACCTGRAPH_NOTEBOOK_OUT``). A cell
that raises fails the test; so does a warning printed by any cell, and a
notebook that takes more than a minute.

The committed ``.ipynb`` files must carry no outputs and no execution counts,
and hold the same cells as their paired jupytext ``.py`` scripts.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import jupytext
import nbclient
import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = (
    "01_quickstart",
    "02_investigate_a_cluster",
    "03_from_known_bad_accounts",
    "04_tuning_and_evaluation",
    "05_runs_over_time",
)
KERNEL_NAME = "acctgraph-test-python"
CELL_TIMEOUT = 300


def read_ipynb(name: str):
    return nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)


# --- stored form ----------------------------------------------------------------------------


def test_every_notebook_is_listed_and_paired() -> None:
    stems = {path.stem for path in NOTEBOOKS_DIR.glob("*.ipynb")}
    scripts = {path.stem for path in NOTEBOOKS_DIR.glob("*.py")}
    assert stems == scripts == set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    notebook = read_ipynb(name)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], (
                f"{name}.ipynb cell {index} has outputs: clear them before committing"
            )
            assert cell.execution_count is None, f"{name}.ipynb cell {index} has an execution count"
        assert "attachments" not in cell, f"{name}.ipynb cell {index} has attachments"
        assert "execution" not in cell.metadata, f"{name}.ipynb cell {index} has execution timings"
    assert "widgets" not in notebook.metadata
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_matches_its_script(name: str) -> None:
    """The .ipynb holds exactly the cells of the .py (run `jupytext --sync notebooks/*.py` after an edit)."""
    stored = read_ipynb(name)
    script = jupytext.read(NOTEBOOKS_DIR / f"{name}.py")
    assert [(c.cell_type, c.source) for c in stored.cells] == [
        (c.cell_type, c.source) for c in script.cells
    ], (
        f"notebooks/{name}.ipynb and notebooks/{name}.py differ: run `.venv/bin/jupytext --sync notebooks/{name}.py`"
    )
    assert script.metadata.kernelspec == stored.metadata.kernelspec


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_first_cell_says_what_it_is_for(name: str) -> None:
    first = read_ipynb(name).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")


def test_the_quickstart_opens_with_what_acctgraph_does() -> None:
    first = read_ipynb("01_quickstart").cells[0].source
    for words in (
        "finds the operations behind fake accounts",
        "account table and request log",
        "share",
        "Leiden",
        "scores each cluster",
        "Precision comes first",
    ):
        assert words in first


# --- execution --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Jupyter data folder holding one kernel spec: this interpreter running ipykernel."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "acctgraph tests",
                "language": "python",
                "metadata": {"debugger": False},
            }
        ),
        encoding="utf-8",
    )
    return root


def printed_warnings(notebook) -> list[str]:
    """Text of every stderr stream output that reports a warning."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if (
                output.get("output_type") == "stream"
                and output.get("name") == "stderr"
                and "Warning" in output.get("text", "")
            ):
                found.append(f"cell {index}: {output['text'].strip()[:500]}")
    return found


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_from_a_clean_kernel(
    name: str, jupyter_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "JUPYTER_PATH", os.pathsep.join([str(jupyter_path), os.environ.get("JUPYTER_PATH", "")])
    )
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # (jupyter_core warns without it)
    monkeypatch.setenv("ACCTGRAPH_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    notebook = read_ipynb(name)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT,
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    try:
        client.execute()
    finally:
        nbformat.write(notebook, tmp_path / f"{name}.executed.ipynb")  # for a look after a failure
    assert printed_warnings(notebook) == []
    images = sum(
        1
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    )
    charts = {"02_investigate_a_cluster": 1, "04_tuning_and_evaluation": 3}
    assert images == charts.get(name, 0)
