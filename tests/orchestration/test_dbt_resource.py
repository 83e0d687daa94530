"""The dbt resource the assets use: dagster-dbt's, told the version of the dbt it runs instead of asking `dbt
--version` (which also asks PyPI for the latest release) and building no dbt adapter in the Dagster process; and the
partial-parse state a build leaves is the one the next build starts from."""

from __future__ import annotations

import subprocess
from pathlib import Path

from orchestration.dbt_resource import DbtResource
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR


def test_the_version_is_the_one_of_the_dbt_the_resource_runs() -> None:
    resource = DbtResource(project_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE)
    interpreter = Path(DBT_EXECUTABLE).read_text().splitlines()[0].removeprefix("#!").strip()
    installed = subprocess.run(
        [interpreter, "-c", "import dbt.version; print(dbt.version.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert str(resource._cli_version) == installed
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_a_build_leaves_its_parse_state_for_the_next(tmp_path: Path) -> None:
    from orchestration.defs.transformation import PARTIAL_PARSE, keep_parse_state

    target, invocation = tmp_path / "target", tmp_path / "target" / "dbt_models-1234567-abcdef0"
    invocation.mkdir(parents=True)
    assert keep_parse_state(invocation, target) is None  # a build that wrote none leaves the old one
    (target / PARTIAL_PARSE).write_bytes(b"older state")
    (invocation / PARTIAL_PARSE).write_bytes(b"state of this build")
    assert keep_parse_state(invocation, target) == target / PARTIAL_PARSE
    assert (target / PARTIAL_PARSE).read_bytes() == b"state of this build"
    assert sorted(p.name for p in target.iterdir()) == ["dbt_models-1234567-abcdef0", PARTIAL_PARSE]
