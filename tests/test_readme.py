"""The README's Python blocks run as written and agree with each other."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API") : text.index("## Notebooks")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_python_api_blocks_run_and_the_stages_equal_the_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    all_at_once, stage_by_stage, over_time = python_blocks()
    (tmp_path / "data").symlink_to(ROOT / "data")
    monkeypatch.chdir(tmp_path)
    first: dict = {}
    exec(compile(all_at_once, "README.md (all at once)", "exec"), first)  # noqa: S102
    assert "cluster" in capsys.readouterr().out
    assert (tmp_path / "out" / "api" / "members.parquet").is_file()
    second: dict = {}
    exec(compile(stage_by_stage, "README.md (stage by stage)", "exec"), second)  # noqa: S102
    pipeline_members = first["result"].scored.members
    assert second["scored"].members.equals(pipeline_members)
    assert os.path.samefile(first["run"].path, tmp_path / "out" / "api")
    third: dict = {}
    exec(compile(over_time, "README.md (runs over time)", "exec"), third)  # noqa: S102
    today = third["today"]
    assert today.scored.members.equals(pipeline_members)  # the same input: the same ids
    assert set(today.tracked.changes["change"]) == {"unchanged"}


def test_the_readme_configuration_example_is_a_valid_config() -> None:
    import tomllib

    from acctgraph import Config

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        config = Config.from_dict(tomllib.loads(block))
        assert Config.from_dict(tomllib.loads(config.to_toml())) == config
