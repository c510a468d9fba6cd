"""The config in use, cached per process and reloaded when a config file changes: calendar, rules and
ladders (`engine()`), and through it the directory (departments and people), review and scoring config.

Reads config files only (no Temporal, no store). Activities turn a `ConfigError` at start into a
non-retryable activity failure (activities.clocks.activity_engine)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain import labels
from domain.calendar import WorkCalendar, load_calendar, load_calendar_refusing
from domain.config import ConfigError, config_dir
from domain.ladder import LadderConfig, load_ladders
from domain.rules import CountingLimits, Rule, load_correction_min, load_counting_limits, load_rules

if TYPE_CHECKING:
    from domain.channel_policy import ChannelPolicies
    from domain.directory import Directory
    from domain.review import ReviewConfig
    from domain.scoring import ScoringConfig


@dataclass
class Engine:
    calendar: WorkCalendar
    rules: dict[str, Rule]
    ladders: LadderConfig
    signature: tuple
    correction_min: int = 5
    limits: CountingLimits = field(default_factory=CountingLimits)
    # The rules of the config files; `rules` adds the registered rule source's (set_rule_source: the
    # catalogue duties' `duty_*` rules from the store), rebuilt when that source's version changes.
    file_rules: dict[str, Rule] = field(default_factory=dict)
    extra_version: Any = None

    def __post_init__(self) -> None:
        self.file_rules = dict(self.rules)

    # department -> (calendar region, node) as this data placed them, taken on first `department_map()`:
    # a later reload compares it with the new placement (a node moved to another calendar, a department to
    # another node: only those departments' clocks are recomputed)
    _placement: dict[str, tuple[str, str | None]] | None = field(default=None, repr=False, compare=False)

    def department_map(self) -> dict[str, tuple[str, str | None]]:
        """Each department's (calendar region, node), read from the directory once for this data."""
        if self._placement is None:
            self._placement = {d.id: (d.region, d.node) for d in self.directory.departments.values()}
        return self._placement

    @property
    def placement_known(self) -> bool:
        return self._placement is not None

    @property
    def rule_names(self) -> dict[str, str]:
        """Rule id -> Chinese name of the rules in use."""
        return labels.rule_names(self.rules)

    def rule_name(self, rule: str) -> str:
        """The Chinese name of one rule in use (its id when unknown)."""
        return self.rule_names.get(rule, rule)

    @property
    def directory(self) -> Directory:
        """Departments and people: from the registered source (the store, once seeded: see
        set_directory_source), else departments.toml, reloaded when the file or its variables change."""
        from domain.directory import load_directory

        source = _directory_source
        if source is not None:
            found = source()
            if found is not None:
                return found
        return _directory.get(lambda _root: load_directory())

    @property
    def urge(self):
        """The 督办单 practice: colour thresholds and number prefixes (urge.toml; defaults without it)."""
        from domain.urge import load_urge_config

        return _urge.get(load_urge_config)

    @property
    def review(self) -> ReviewConfig:
        """The late-entry review bounds (review.toml; defaults without the file)."""
        from domain.review import load_review_config

        return _review.get(load_review_config)

    @property
    def channels(self) -> ChannelPolicies:
        """Per channel kind: rate limits, caps, quiet hours, sizes (channels.toml; no limits without it), with
        SHIXIAN_SMS_QUIET_HOURS in place of the SMS kind's quiet hours when it is set."""
        from domain.channel_policy import load_policies, with_sms_quiet_hours
        from domain.settings import get_settings

        return with_sms_quiet_hours(_channels.get(load_policies), get_settings().sms_quiet_hours)

    @property
    def scoring(self) -> ScoringConfig:
        """The assessment schemes (scoring.toml)."""
        from domain.scoring import load_scoring

        return _scoring.get(lambda root: load_scoring(root / "scoring.toml"))


log = logging.getLogger("shixian.config")
_lock = threading.Lock()
_engine: Engine | None = None
_problem: str | None = None  # why the files on disk are not the data in use (None: they are)
# The data (calendar, rules, placement) in use before the engine last reloaded, kept until a calendar reload
# compares it with the new one (services/calendar.py: re-projection per node and rule); the oldest not yet
# compared when several reloads came. Kept per config directory: data of another directory (a test, a second
# demo) is not a change of this one.
_superseded: tuple[str, Engine] | None = None


def config_signature() -> tuple:
    """Names, sizes and mtimes of the config files: cheap to stat, changes when data changes."""
    root = config_dir()
    files = [
        root / "rules.toml",
        root / "reminders.toml",
        root / "regions.toml",
        root / "jurisdictions.toml",  # its [[node.deadline]] entries are rules (domain.rules.internal_rules)
        *sorted((root / "calendars").glob("*.toml")),
    ]
    sig: list[tuple[str, int | None, int | None]] = []
    for f in files:
        try:
            st = f.stat()
            sig.append((f.name, st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            sig.append((f.name, None, None))
    return (str(root), tuple(sig))


def engine() -> Engine:
    """The calendar, rules and ladders, reloaded whenever a config file changes; with the rules of the
    registered rule source (set_rule_source) joined to the files' rules."""
    return _with_source_rules(_file_engine())


# Rules built at run time from data outside the config files (services/catalogue.py: one rule per catalogue
# duty of the store), registered by the composition roots. The callable returns (version, rules) and caches
# itself; a rule of the files keeps its id (a source cannot replace a statutory rule).
_rule_source: Callable[[], tuple[Any, dict[str, Rule]]] | None = None


def set_rule_source(source: Callable[[], tuple[Any, dict[str, Rule]]] | None) -> None:
    global _rule_source
    _rule_source = source


def rule_in_use(eng: Engine, rule_id: str) -> Rule:
    """`eng.rules[rule_id]`; a rule the registered source may just have gained (a catalogue imported by
    another process within the source's check interval) is looked up once more before KeyError."""
    rule = eng.rules.get(rule_id)
    if rule is not None:
        return rule
    refresh = getattr(_rule_source, "refresh", None)
    if refresh is not None:
        refresh()
        rule = _with_source_rules(eng).rules.get(rule_id)
    if rule is None:
        raise KeyError(rule_id)
    return rule


def _with_source_rules(eng: Engine) -> Engine:
    source = _rule_source
    if source is None:
        if eng.extra_version is not None:
            eng.rules, eng.extra_version = dict(eng.file_rules), None
        return eng
    try:
        version, extra = source()
    except Exception as exc:  # the store unreachable: the rules built last stay in use
        log.warning("rule source not readable: %s", exc)
        return eng
    if version != eng.extra_version:
        eng.rules = {**{k: v for k, v in extra.items() if k not in eng.file_rules}, **eng.file_rules}
        eng.extra_version = version
    return eng


def _file_engine() -> Engine:
    """The calendar, rules and ladders, reloaded whenever a config file changes.

    A file that breaks while the system runs (a half-edited notice) keeps the last good data in use and
    is reported, instead of failing every computation; a process started beside a bad calendar notice
    refuses that file and uses the rest; with nothing usable at start the `ConfigError` is raised."""
    global _engine, _problem, _superseded
    sig = config_signature()
    with _lock:
        if _engine is None or _engine.signature != sig:
            try:
                fresh = Engine(
                    load_calendar(), load_rules(), load_ladders(), sig, load_correction_min(), load_counting_limits()
                )
                _problem = None
            except ConfigError as exc:
                if _engine is None:
                    # a process started beside a bad calendar notice: refuse that file, use the rest
                    cal, errors = load_calendar_refusing()
                    fresh = Engine(
                        cal, load_rules(), load_ladders(), sig, load_correction_min(), load_counting_limits()
                    )
                    _problem = "；".join(errors)
                    log.error("日历文件有误，已拒绝该文件（其余日历照常使用）：%s", _problem)
                    _engine = fresh
                    return _engine
                _problem = str(exc)
                log.error("配置文件有误，继续使用上一版有效配置：%s", exc)
                _engine.signature = sig  # report once per change
                return _engine
            if _engine is not None and (_superseded is None or _superseded[0] != sig[0]):
                _superseded = (_engine.signature[0], _engine) if _engine.signature[0] == sig[0] else None
            _engine = fresh
        return _engine


def take_superseded() -> Engine | None:
    """The data in use before the last reload(s) not yet compared, and forget it (None: none since)."""
    global _superseded
    root = str(config_dir())
    with _lock:
        old, _superseded = _superseded, None
        return old[1] if old is not None and old[0] == root else None


def take_superseded_calendar() -> WorkCalendar | None:
    """The calendar in use before the last reload(s) not yet compared, and forget it (None: none since)."""
    old = take_superseded()
    return old.calendar if old is not None else None


class _Section:
    """One more config file served beside the engine: loaded on first use, reloaded when its file changes
    (or, for the directory, when the text or a variable it names changes: `load_directory` keys on both),
    the last good data kept while an edit is broken; with nothing loaded yet for this config directory the
    `ConfigError` is raised, as a direct load would."""

    def __init__(self, filename: str, *, always_load: bool = False) -> None:
        self.filename = filename
        self.always_load = always_load  # the loader has its own cheap cache keyed on content
        self.lock = threading.Lock()
        self.value: Any = None
        self.signature: tuple | None = None

    def _signature(self, root: Path) -> tuple:
        try:
            st = (root / self.filename).stat()
            return (str(root), st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            return (str(root), None, None)

    def get(self, load: Callable[[Path], Any]) -> Any:
        root = config_dir()
        sig = self._signature(root)
        with self.lock:
            if self.value is not None and self.signature == sig and not self.always_load:
                return self.value
            try:
                self.value = load(root)
            except ConfigError as exc:
                if self.value is None or self.signature is None or self.signature[0] != str(root):
                    raise
                if self.signature != sig:
                    log.error("%s 有误，继续使用上一版有效配置：%s", self.filename, exc)
            self.signature = sig
            return self.value

    def reset(self) -> None:
        with self.lock:
            self.value = None
            self.signature = None


_directory = _Section("departments.toml", always_load=True)
# Where the directory comes from when not the file: registered by the composition roots (services/directory.py
# reads the store; domain/ does no I/O against it). The callable returns None while it has no directory (a
# store never seeded), and caches itself: it is called for every notice.
_directory_source: Callable[[], Directory | None] | None = None


def set_directory_source(source: Callable[[], Directory | None] | None) -> None:
    """Serve the directory from `source` (None: departments.toml only)."""
    global _directory_source
    _directory_source = source


def directory_source() -> Callable[[], Directory | None] | None:
    return _directory_source


# Why the registered source's directory is not the stored one (its entries stopped parsing: the last good one
# is in use), reported beside the files' problems by config_problem(); None: none.
_directory_problem: str | None = None


def set_directory_problem(problem: str | None) -> None:
    global _directory_problem
    _directory_problem = problem


_review = _Section("review.toml")
_scoring = _Section("scoring.toml")
_urge = _Section("urge.toml")
_channels = _Section("channels.toml")


def reset() -> None:
    """Forget the cached data and any reported problem, as a freshly started process would (tests use it
    to load a config directory from scratch)."""
    global _engine, _problem, _superseded, _directory_problem
    with _lock:
        _engine = None
        _problem = None
        _superseded = None
        _directory_problem = None
    for section in (_directory, _review, _scoring, _urge, _channels):
        section.reset()


def config_problem() -> str | None:
    """The error of a config file that was refused (the data in use is the last good one), or None."""
    engine()
    problems = [p for p in (_problem, _directory_problem) if p]
    return "；".join(problems) if problems else None
