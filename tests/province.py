"""A three-level jurisdictions tree for tests: a province, two cities, three counties, departments in each.

`write_province(config_dir)` replaces jurisdictions.toml and departments.toml in a copied config directory
(shutil.copytree(REPO_CONFIG, …)) and returns the Province description the tests assert against. Calendar
regions stay national and guangxi so the tree is independent of the regional calendar data.

    广西壮族自治区 (gx, province, calendar guangxi)
    ├── 钦州市 (qz, city)            departments qz-zfb (government), qz-fgw
    │   ├── 灵山县 (ls, county)      ls-zfb (government), ls-jyj
    │   └── 浦北县 (pb, county)      pb-zfb (government), pb-jyj
    └── 北海市 (bh, city)            bh-zfb (government), bh-fgw
        └── 合浦县 (hp, county)      hp-zfb (government), hp-jyj
    province departments: gx-zfb (government), gx-fgw
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

NODES = [
    # id, name, level, code, parent
    ("gx", "广西壮族自治区", "province", "450000", None),
    ("qz", "钦州市", "city", "450700", "gx"),
    ("ls", "灵山县", "county", "450721", "qz"),
    ("pb", "浦北县", "county", "450722", "qz"),
    ("bh", "北海市", "city", "450500", "gx"),
    ("hp", "合浦县", "county", "450521", "bh"),
]
DEPARTMENTS = {
    # node: [(id, name, government?)]
    "gx": [("gx-zfb", "广西壮族自治区人民政府办公厅", True), ("gx-fgw", "广西壮族自治区发展和改革委员会", False)],
    "qz": [("qz-zfb", "钦州市人民政府办公室", True), ("qz-fgw", "钦州市发展和改革委员会", False)],
    "ls": [("ls-zfb", "灵山县人民政府办公室", True), ("ls-jyj", "灵山县教育局", False)],
    "pb": [("pb-zfb", "浦北县人民政府办公室", True), ("pb-jyj", "浦北县教育局", False)],
    "bh": [("bh-zfb", "北海市人民政府办公室", True), ("bh-fgw", "北海市发展和改革委员会", False)],
    "hp": [("hp-zfb", "合浦县人民政府办公室", True), ("hp-jyj", "合浦县教育局", False)],
}
# Node-scoped people: "sup-<node>" supervisor, "ass-<node>" assessor, "adm-<node>" admin; per department a
# liaison "li-<dept>" and head "hd-<dept>".


@dataclass
class Province:
    config: Path
    nodes: list[str] = field(default_factory=lambda: [n[0] for n in NODES])
    departments: dict[str, list[str]] = field(
        default_factory=lambda: {k: [d[0] for d in v] for k, v in DEPARTMENTS.items()}
    )

    def subtree(self, node: str) -> list[str]:
        out = [node]
        for nid, _, _, _, parent in NODES:
            if parent == node:
                out += self.subtree(nid)
        return out

    def departments_under(self, node: str) -> set[str]:
        return {d for n in self.subtree(node) for d in self.departments[n]}


def jurisdictions_toml() -> str:
    parts = []
    for nid, name, level, code, parent in NODES:
        lines = ["[[node]]", f'id = "{nid}"', f'name = "{name}"', f'level = "{level}"', f'code = "{code}"']
        if parent:
            lines.append(f'parent = "{parent}"')
        else:
            lines.append('calendar = "guangxi"')
        parts.append("\n".join(lines))
    return "# 测试用三级行政区划（tests/province.py）\n\n" + "\n\n".join(parts) + "\n"


def departments_toml(notify: dict[str, list[str]] | None = None) -> str:
    notify = notify or {}
    parts = []
    for node, depts in DEPARTMENTS.items():
        for did, name, gov in depts:
            lines = ["[[department]]", f'id = "{did}"', f'name = "{name}"', f'node = "{node}"', f'head = "hd-{did}"']
            if gov:
                lines.append('annual_reports = ["department", "government"]')
            parts.append("\n".join(lines))

    def person(pid: str, name: str, roles: list[str], department: str | None = None, node: str | None = None) -> str:
        lines = ["[[person]]", f'id = "{pid}"', f'name = "{name}"']
        if department:
            lines.append(f'department = "{department}"')
        if node:
            lines.append(f'node = "{node}"')
        lines.append("roles = [" + ", ".join(f'"{r}"' for r in roles) + "]")
        if pid in notify:
            lines.append("notify = [" + ", ".join(f'"{u}"' for u in notify[pid]) + "]")
        return "\n".join(lines)

    for _node, depts in DEPARTMENTS.items():
        for did, name, _ in depts:
            parts.append(person(f"li-{did}", f"{name}联络员", ["liaison"], department=did))
            parts.append(person(f"hd-{did}", f"{name}负责人", ["head"], department=did))
    for nid, name, _, _, _ in NODES:
        parts.append(person(f"sup-{nid}", f"{name}政务公开办督办", ["supervisor"], node=nid))
        parts.append(person(f"ass-{nid}", f"{name}绩效考评办", ["assessor"], node=nid))
        parts.append(person(f"adm-{nid}", f"{name}管理员", ["admin"], node=nid))
    return "# 测试用人员名录（tests/province.py）\n\n" + "\n\n".join(parts) + "\n"


def write_province(config_dir: Path, notify: dict[str, list[str]] | None = None) -> Province:
    (config_dir / "jurisdictions.toml").write_text(jurisdictions_toml(), encoding="utf-8")
    (config_dir / "departments.toml").write_text(departments_toml(notify), encoding="utf-8")
    return Province(config_dir)
