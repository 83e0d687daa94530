"""DAGSTER_HOME's dagster.yaml follows the repository's: an edit to the repository's file takes effect on the next
run, while a dagster.yaml a deployment put in the home itself is left alone."""

from __future__ import annotations

from pathlib import Path

from orchestration.run import sync_instance_config


def test_an_edit_to_the_repository_dagster_yaml_reaches_the_home(tmp_path: Path) -> None:
    source, home = tmp_path / "dagster.yaml", tmp_path / "home"
    home.mkdir()
    source.write_text("telemetry:\n  enabled: false\n")
    sync_instance_config(home, source)
    assert (home / "dagster.yaml").read_text() == source.read_text()

    source.write_text("telemetry:\n  enabled: false\nrun_monitoring:\n  enabled: true\n")
    sync_instance_config(home, source)
    assert (home / "dagster.yaml").read_text() == source.read_text()


def test_a_dagster_yaml_written_into_the_home_by_hand_is_kept(tmp_path: Path) -> None:
    source, home = tmp_path / "dagster.yaml", tmp_path / "home"
    home.mkdir()
    source.write_text("telemetry:\n  enabled: false\n")
    sync_instance_config(home, source)
    (home / "dagster.yaml").write_text("storage:\n  postgres: {}\n")  # a deployment's own instance
    source.write_text("telemetry:\n  enabled: true\n")
    sync_instance_config(home, source)
    assert (home / "dagster.yaml").read_text() == "storage:\n  postgres: {}\n"
    # A home that had a dagster.yaml before csops ever copied one is not csops' either.
    other = tmp_path / "other"
    other.mkdir()
    (other / "dagster.yaml").write_text("# my own instance\ntelemetry:\n  enabled: true\n")
    sync_instance_config(other, source)
    assert (other / "dagster.yaml").read_text().startswith("# my own instance\n")


def test_a_copy_made_before_csops_kept_a_hash_is_still_refreshed(tmp_path: Path) -> None:
    source, home = tmp_path / "dagster.yaml", tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("# Dagster instance configuration\ntelemetry:\n  enabled: true\n")
    source.write_text("# Dagster instance configuration\ntelemetry:\n  enabled: false\n")
    sync_instance_config(home, source)
    assert (home / "dagster.yaml").read_text() == source.read_text()
