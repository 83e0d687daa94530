"""The package boundaries a newcomer relies on: the product (ingestion/, activation/, orchestration/) never imports
the sandbox, which is a distribution of its own (sandbox/, csops-sandbox) that the product's wheel leaves out; the
CLI imports it only inside the commands that need it and says how to install it when it is missing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_SRC = ROOT / "sandbox" / "src"

# Top-level packages each product package must never import. activation/ stays free of the orchestrator too: it is
# called by Dagster and by `csops sync` alike.
FORBIDDEN = {
    "ingestion": {"sandbox", "csops"},
    "activation": {"sandbox", "dagster", "orchestration", "csops"},
    "orchestration": {"sandbox", "csops"},
}


def imported_packages(tree: ast.AST, *, at_import_time: bool = False) -> set[str]:
    """Top-level package names of the absolute imports in `tree`; with `at_import_time`, only those that run when the
    module is imported (not the ones inside functions)."""
    names: set[str] = set()
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        if not (at_import_time and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_product_code_never_imports_the_sandbox(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    offending = {
        str(path.relative_to(ROOT)): sorted(found)
        for path in files
        if (found := imported_packages(ast.parse(path.read_text())) & FORBIDDEN[package])
    }
    assert offending == {}


def test_csops_imports_the_sandbox_only_inside_commands() -> None:
    eager = {
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "csops").rglob("*.py"))
        if "sandbox" in imported_packages(ast.parse(path.read_text()), at_import_time=True)
    }
    assert eager == set()
    lazy = imported_packages(ast.parse((ROOT / "csops" / "cli.py").read_text()))
    assert "sandbox" in lazy  # the scan sees imports inside functions, so the check above can fail


def test_the_product_wheel_leaves_the_sandbox_out() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "sandbox" not in project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    sandbox = tomllib.loads((SANDBOX_SRC.parent / "pyproject.toml").read_text())
    assert sandbox["project"]["name"] in project["dependency-groups"]["dev"]


@pytest.mark.parametrize("command", [["sandbox", "generate"], ["demo"], ["run", "--sandbox", "data/sandbox"]])
def test_commands_that_need_the_sandbox_say_how_to_install_it(command: list[str], tmp_path: Path) -> None:
    # Without the distribution on sys.path, `sandbox` is at most the repository's folder (a namespace package).
    script = (
        "import sys\n"
        f"sys.path = [p for p in sys.path if p != {str(SANDBOX_SRC)!r}]\n"
        "from csops.cli import entrypoint\n"
        f"sys.argv = ['csops', *{command!r}]\n"
        "entrypoint()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    assert "the sandbox is not installed: run make install" in result.stderr
    assert "Traceback" not in result.stderr
