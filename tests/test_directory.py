"""Directory of departments and people (config/departments.toml)."""

from __future__ import annotations

import pytest

from domain.directory import DirectoryError, load_directory, parse_directory

GOOD = """
[[department]]
id = "qz-fgw"
name = "钦州市发展和改革委员会"
region = "guangxi"
head = "head-fgw"

[[person]]
id = "liaison-fgw"
name = "联络员甲"
department = "qz-fgw"
roles = ["liaison"]
notify = ["json://127.0.0.1:9000/hook", "mailto://u:${SMTP_PW}@127.0.0.1:2525?to=a@example.org"]

[[person]]
id = "head-fgw"
name = "负责人"
department = "qz-fgw"
roles = ["head"]

[[person]]
id = "sup"
name = "督办员"
roles = ["supervisor", "assessor"]
"""


def test_shipped_directory_loads():
    d = load_directory()
    assert {"qz-fgw", "qz-czj", "qz-jyj", "qz-zfb", "qz-zrzyj"} <= set(d.departments)
    assert d.department("qz-fgw").name == "钦州市发展和改革委员会"
    for dep in d.departments.values():
        assert d.people_for(dep.id, "liaison"), dep.id
        assert d.people_for(dep.id, "head"), dep.id
        assert d.region_of(dep.id) == "guangxi"
    assert d.supervisors()
    assert d.with_role("assessor") and d.with_role("admin")
    # harmless defaults: nothing leaves the machine
    for p in d.people.values():
        for url in p.notify:
            assert "127.0.0.1" in url, url


def test_env_secret_and_helpers():
    d = parse_directory(GOOD, env={"SMTP_PW": "s3cret"})
    p = d.person("liaison-fgw")
    assert p.notify[1] == "mailto://u:s3cret@127.0.0.1:2525?to=a@example.org"
    assert [x.id for x in d.people_for("qz-fgw", "liaison")] == ["liaison-fgw"]
    assert [x.id for x in d.people_for("qz-fgw", "head")] == ["head-fgw"]
    assert [x.id for x in d.supervisors()] == ["sup"]
    assert d.person("sup").department is None
    assert d.region_of("qz-fgw") == "guangxi"
    assert d.region_of("nowhere") == "national"
    assert d.region_of(None) == "national"
    with pytest.raises(KeyError):
        d.department("qz-xxx")


def test_load_from_dir(tmp_path, monkeypatch):
    (tmp_path / "departments.toml").write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("SMTP_PW", "x")
    assert "qz-fgw" in load_directory(tmp_path).departments
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(tmp_path))
    assert load_directory().person("liaison-fgw").notify[1].startswith("mailto://u:x@")


def test_missing_env_names_person_and_variable():
    with pytest.raises(DirectoryError) as e:
        parse_directory(GOOD, env={})
    msg = str(e.value)
    assert 'person "liaison-fgw"' in msg and "SMTP_PW" in msg and msg.startswith("departments.toml")


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda t: t.replace(
                'department = "qz-fgw"\nroles = ["liaison"]', 'department = "qz-xxx"\nroles = ["liaison"]'
            ),
            'departments.toml: person "liaison-fgw": unknown department "qz-xxx"',
        ),
        (
            lambda t: t.replace('roles = ["supervisor", "assessor"]', 'roles = ["boss"]'),
            'departments.toml: person "sup": unknown role "boss"',
        ),
        (
            lambda t: t.replace('id = "sup"', 'id = "head-fgw"'),
            'departments.toml: person "head-fgw": duplicate person id "head-fgw"',
        ),
        (
            lambda t: t + '\n[[department]]\nid = "qz-fgw"\nname = "重复"\n',
            'departments.toml: department "qz-fgw": duplicate department id "qz-fgw"',
        ),
        (lambda t: t.replace('name = "督办员"\n', ""), 'departments.toml: person "sup": missing required key "name"'),
        (lambda t: t.replace('id = "sup"\n', ""), 'departments.toml: person #3: missing required key "id"'),
        (
            lambda t: t.replace('name = "钦州市发展和改革委员会"', 'name = "钦州市发展和改革委员会'),
            "departments.toml: malformed TOML",
        ),
        (
            lambda t: t.replace('department = "qz-fgw"\nroles = ["head"]', 'roles = ["head"]'),
            'departments.toml: person "head-fgw": role "head" needs a department',
        ),
        (
            lambda t: t.replace('head = "head-fgw"', 'head = "nobody"'),
            'departments.toml: department "qz-fgw": head "nobody" is not a [[person]]',
        ),
    ],
)
def test_validation_errors_name_the_entry(mutate, expected):
    with pytest.raises(DirectoryError) as e:
        parse_directory(mutate(GOOD), env={"SMTP_PW": "x"})
    assert str(e.value).startswith(expected), str(e.value)


def test_malformed_toml_has_line():
    bad = GOOD.replace('region = "guangxi"', "region = guangxi")
    with pytest.raises(DirectoryError) as e:
        parse_directory(bad, env={"SMTP_PW": "x"})
    assert "line 5" in str(e.value)


def test_go_live_date_parsed_and_checked():
    from domain.directory import DirectoryError, parse_directory

    text = '[[department]]\nid = "d"\nname = "部门"\ngo_live = 2026-12-01\n[[department]]\nid = "e"\nname = "乙"\ngo_live = "2027-01-04"\n'
    d = parse_directory(text, env={})
    assert str(d.departments["d"].go_live) == "2026-12-01" and str(d.departments["e"].go_live) == "2027-01-04"
    assert parse_directory('[[department]]\nid = "f"\nname = "丙"\n', env={}).departments["f"].go_live is None
    import pytest

    with pytest.raises(DirectoryError, match="go_live"):
        parse_directory('[[department]]\nid = "g"\nname = "丁"\ngo_live = "明天"\n', env={})


def test_the_people_page_says_the_sms_quiet_hours_the_sending_path_uses(monkeypatch, tmp_path):
    """services/directory.py sms_quiet_text reads [kind.sms] quiet_hours, or SHIXIAN_SMS_QUIET_HOURS over it."""
    import shutil

    from domain import engine as engine_mod
    from domain.config import REPO_CONFIG
    from services.directory import sms_quiet_text

    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    monkeypatch.delenv("SHIXIAN_SMS_QUIET_HOURS", raising=False)
    engine_mod.reset()
    assert sms_quiet_text() == "22:00–07:30"
    text = (cfg / "channels.toml").read_text(encoding="utf-8")
    tail = text[text.index("[kind.sms]") :]
    (cfg / "channels.toml").write_text(
        text.replace(tail, tail.replace('quiet_hours = "22:00-07:30"', 'quiet_hours = "21:30-08:00"')), encoding="utf-8"
    )
    engine_mod.reset()
    assert sms_quiet_text() == "21:30–08:00"
    monkeypatch.setenv("SHIXIAN_SMS_QUIET_HOURS", "23:00-06:00")
    assert sms_quiet_text() == "23:00–06:00"
    monkeypatch.setenv("SHIXIAN_SMS_QUIET_HOURS", "off")
    assert sms_quiet_text() == ""
    engine_mod.reset()
