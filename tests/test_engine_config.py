"""A calendar file broken while the system runs keeps the last good data in use (and is reported)."""

import shutil
from pathlib import Path

import pytest

import domain.engine as ac
from domain.config import ConfigError

REPO_CONFIG = Path(__file__).resolve().parents[1] / "config"


def test_broken_file_keeps_last_good_engine(tmp_path, monkeypatch, caplog):
    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    ac.reset()
    good = ac.engine()
    (cfg / "calendars" / "broken.toml").write_text(
        'region = "national"\n[days_off]\n"2027-01-01" = "元旦"\n', encoding="utf-8"
    )
    assert ac.engine() is good  # computations go on with the last good data
    assert "broken.toml" in caplog.text and "缺少 source" in caplog.text
    (cfg / "calendars" / "broken.toml").unlink()
    assert ac.engine() is not good  # a fixed directory is picked up again


def test_broken_config_at_start_is_an_error(tmp_path, monkeypatch):
    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    (cfg / "rules.toml").write_text("[rules.x]\nunit = 'weeks'\n", encoding="utf-8")
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    ac.reset()
    with pytest.raises(ConfigError, match="rules.toml"):
        ac.engine()


def test_reset_loads_from_scratch(tmp_path, monkeypatch):
    """After reset() a bad calendar file is handled as at start (refused and reported), not as a
    file broken while running (last good data kept)."""
    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    ac.reset()
    good = ac.engine()
    (cfg / "calendars" / "broken.toml").write_text('region = "national"\n[days_off]\n', encoding="utf-8")
    assert ac.engine() is good and "broken.toml" in (ac.config_problem() or "")
    ac.reset()
    fresh = ac.engine()
    assert fresh is not good and "broken.toml" in (ac.config_problem() or "")
    (cfg / "calendars" / "broken.toml").unlink()
    ac.reset()
    assert ac.config_problem() is None


def test_directory_review_and_scoring_follow_their_files(tmp_path, monkeypatch, caplog):
    """engine() serves departments.toml, review.toml and scoring.toml like the calendar: an edit is picked
    up, a broken edit keeps the last good data, and a broken file with nothing loaded yet is an error."""
    import os

    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    ac.reset()
    good = ac.engine().directory
    assert ac.engine().directory is good and ac.engine().scoring is ac.engine().scoring
    review = ac.engine().review
    dep = cfg / "departments.toml"
    text = dep.read_text(encoding="utf-8")
    dep.write_text(text + "\n[[broken\n", encoding="utf-8")
    assert ac.engine().directory is good
    assert "departments.toml" in caplog.text
    (cfg / "review.toml").write_text("late_entry_working_days = 5\n", encoding="utf-8")
    os.utime(cfg / "review.toml", ns=(1, 1))
    assert ac.engine().review is not review and ac.engine().review.late_entry_working_days == 5
    ac.reset()
    with pytest.raises(ConfigError, match="departments.toml"):
        _ = ac.engine().directory
    dep.write_text(text, encoding="utf-8")
    assert ac.engine().directory.departments.keys() == good.departments.keys()
    ac.reset()
