"""Channel policy (config/channels.toml) and consolidation: pure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.channel_policy import (
    Entry,
    bucket_of,
    consolidate,
    individual,
    load_policies,
    parse_policies,
    quiet_until,
)
from domain.config import REPO_CONFIG, ConfigError
from domain.shanghai import SHANGHAI


def test_shipped_policies_name_their_sources_and_the_bot_limits():
    p = load_policies(REPO_CONFIG)
    wecom = p.for_url("wecombot://abc")
    assert (wecom.rate_per_minute, wecom.max_bytes) == (20, 2048)
    assert "20条/分钟" in wecom.source
    assert p.for_url("dingtalk://s@t/").rate_per_minute == 20
    zzd = p.for_scheme("zzd")
    assert (zzd.daily_cap, zzd.identical_per_day) == (100, 1)
    assert p.for_url("mailto://x?to=a@b.cn").rate_per_minute is None
    assert p.for_url("smsaliyun://k@s/1").daily_cap == 10
    assert p.for_url("unknown://x").kind == "default"
    for policy in [p.default, *p.kinds.values()]:
        assert policy.source  # every limit cites where it comes from


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[kind.a]\nschemes = ["x"]\n', "缺少 source"),
        ('[kind.a]\nschemes = ["x"]\nsource = "s"\nrate_per_minute = 0\n', "rate_per_minute"),
        ('[kind.a]\nschemes = ["x"]\nsource = "s"\nquiet_hours = "22:00"\n', "quiet_hours"),
        ('[kind.a]\nschemes = ["x"]\nsource = "s"\nquiet_hours = "25:00-07:00"\n', "HH:MM"),
        ('[kind.a]\nschemes = ["x"]\nsource = "s"\nspeed = 3\n', "未知字段 speed"),
        ('[kind.a]\nsource = "s"\n', "缺少 schemes"),
        ('[kind.a]\nschemes = ["x"]\nsource = "s"\n[kind.b]\nschemes = ["x"]\nsource = "s"\n', "已在 [kind.a]"),
        ('[kind.a]\nschemes = ["x"]\nsource = "s"\nmax_bytes = 10\n', "max_bytes"),
    ],
)
def test_bad_policy_names_file_entry_and_field(tmp_path: Path, text: str, needle: str):
    (tmp_path / "channels.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_policies(tmp_path)
    assert str(tmp_path / "channels.toml") in str(e.value) and needle in str(e.value)


def test_quiet_hours_across_midnight():
    q = parse_policies({"kind": {"b": {"schemes": ["x"], "source": "s", "quiet_hours": "22:00-07:30"}}}).kinds["b"]
    assert q.quiet_hours is not None
    night = datetime(2026, 3, 2, 23, 15, tzinfo=SHANGHAI)
    early = datetime(2026, 3, 3, 6, 0, tzinfo=SHANGHAI)
    morning = datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI)
    assert q.quiet_hours.contains(night) and q.quiet_hours.contains(early)
    assert not q.quiet_hours.contains(morning)
    assert quiet_until(q, night) == datetime(2026, 3, 3, 7, 30, tzinfo=SHANGHAI)
    assert quiet_until(q, early) == datetime(2026, 3, 3, 7, 30, tzinfo=SHANGHAI)
    assert quiet_until(q, morning) is None
    assert quiet_until(q, night.astimezone(UTC)) == datetime(2026, 3, 3, 7, 30, tzinfo=SHANGHAI)  # any zone in


def _entry(n: int, left: int | None = None, over: int | None = None, title: str = "") -> Entry:
    return Entry(
        key=f"doc-{n:03d}:policy_publication:t_minus_1:p",
        item_id=f"doc-{n:03d}",
        title=title or f"关于印发第{n}号文件的通知",
        rule_name="政策文件主动公开",
        step_name="到期前1个工作日",
        due_text="2026年3月3日",
        link=f"https://gk.example/items/doc-{n:03d}",
        working_days_left=left,
        overdue_working_days=over,
    )


def test_consolidated_most_urgent_first_each_item_once():
    entries = [_entry(1, left=3), _entry(2, over=4), _entry(3, left=0), _entry(4, left=1), _entry(5, over=1)]
    (msg,) = consolidate(entries, person_name="发改委联络员", max_bytes=16000)
    order = [msg.body.index(f"（doc-{n:03d}）") for n in (2, 5, 3, 4, 1)]
    assert order == sorted(order)  # 4 days overdue, 1 day overdue, due today, 1 day left, 3 left
    assert "已逾期4个工作日" in msg.body and "今日到期" in msg.body and "剩3个工作日" in msg.body
    assert "其中已逾期 2 项" in msg.body
    assert set(msg.keys) == {e.key for e in entries}
    assert "https://gk.example/items/doc-004" in msg.body


def test_split_at_the_channel_size_every_item_in_exactly_one_part():
    entries = [_entry(n, left=n % 4) for n in range(1, 61)]
    parts = consolidate(entries, person_name="发改委联络员", max_bytes=2048)
    assert len(parts) > 1
    assert all(m.size <= 2048 for m in parts)
    keys = [k for m in parts for k in m.keys]
    assert sorted(keys) == sorted(e.key for e in entries) and len(keys) == len(set(keys))
    assert parts[0].title.endswith(f"（第1/{len(parts)}条）")
    # urgency holds across parts: the first part's last item is no less urgent than the next part's first
    lefts = [int(k[4:7]) % 4 for m in parts for k in m.keys]
    assert lefts == sorted(lefts)


def test_an_overlong_title_is_clipped_not_dropped():
    e = _entry(7, left=1, title="长" * 2000)
    (msg,) = consolidate([e], person_name="甲", max_bytes=1000)
    assert msg.size <= 1000 and msg.keys == (e.key,) and "…" in msg.body


def test_hour_rules_and_urges_stay_individual():
    assert individual("t_minus_1h", hours_rule=True)
    assert individual("overdue_1", hours_rule=True)  # the 5-hour opinion response's overdue warning
    assert individual("urge", hours_rule=False)
    assert not individual("due_today", hours_rule=False)
    assert not individual("overdue_repeat", hours_rule=False)


def test_bucket_is_per_url_and_hides_the_secret():
    a, b = bucket_of("wecombot://KEY-ONE"), bucket_of("wecombot://KEY-TWO")
    assert a != b and "KEY" not in a and len(a) == 32


def test_config_check_reports_a_bad_channels_file(tmp_path: Path):
    import shutil

    from domain.config_check import check_config

    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    assert not [p for p in check_config(cfg) if "channels.toml" in p]
    (cfg / "channels.toml").write_text('[kind.wecom]\nschemes = ["wecombot"]\nrate_per_minute = "20"\nsource = "x"\n')
    assert [p for p in check_config(cfg) if "channels.toml" in p and "rate_per_minute" in p]
