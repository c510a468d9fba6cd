"""Typesetting of the annual report draft (domain.annual_document) as .docx (python-docx) and HTML.

Official-document conventions (GB/T 9704-2012 《党政机关公文格式》, as far as a report needs them):
A4, margins top 37 mm / bottom 35 mm / left 28 mm / right 26 mm; title 2号 方正小标宋简体 centred; body
3号 仿宋_GB2312, first line indented two characters, exact line spacing (22 lines a page); level-1
headings (一、) 黑体, level-2 headings (（一）) 楷体_GB2312; page numbers "— 1 —" in 4号 at the foot.
Font names are set in the styles for Latin and East Asian text (w:eastAsia), so Word/WPS use the
Chinese fonts; LibreOffice substitutes what the machine lacks.

The three tables are laid out as the 2021 national format lays them out: table 二 in four blocks
(第二十条第（一）（五）（六）（八）项), table 三 with the three-level row labels and the 申请人情况 /
法人或其他组织 merged headings, table 四 as one row of 15 numbers under 行政复议 / 行政诉讼 headings.
Both renderers use the same cell grid (`table_grid`), so the .docx and the HTML agree.
A placeholder 【待填：…】 is highlighted in both.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment

from domain import labels
from domain import report as R
from domain.annual_document import PLACEHOLDER_RE

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
H1_FONT = "黑体"
H2_FONT = "楷体_GB2312"
TODO_CELL = "【待填】"

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# ---------------------------------------------------------------------------------- cell grids


@dataclass
class Cell:
    row: int
    col: int
    text: str
    rowspan: int = 1
    colspan: int = 1
    head: bool = False
    num: bool = False
    todo: bool = False


def _v(x: Any) -> str:
    if x is None:
        return TODO_CELL
    return f"{x:g}" if isinstance(x, float) else str(x)


def _grid_table2(t2: dict) -> tuple[int, int, list[Cell]]:
    cells: list[Cell] = []
    r = 0

    def block(title: str, column_labels: list[str], rows: list[tuple[str, list[Any]]]):
        nonlocal r
        cells.append(Cell(r, 0, title, colspan=4, head=True))
        r += 1
        cells.append(Cell(r, 0, "信息内容", head=True))
        if len(column_labels) == 1:
            cells.append(Cell(r, 1, column_labels[0], colspan=3, head=True))
        else:
            for i, lab in enumerate(column_labels):
                cells.append(Cell(r, 1 + i, lab, head=True))
        r += 1
        for label, values in rows:
            cells.append(Cell(r, 0, label))
            if len(values) == 1:
                cells.append(Cell(r, 1, _v(values[0]), colspan=3, num=True, todo=values[0] is None))
            else:
                for i, v in enumerate(values):
                    cells.append(Cell(r, 1 + i, _v(v), num=True, todo=v is None))
            r += 1

    block(
        "第二十条第（一）项",
        [R.DOCUMENT_COLUMN_LABELS[c] for c in R.DOCUMENT_COLUMNS],
        [(labels.DOCUMENT_KINDS[k], [t2[k][c] for c in R.DOCUMENT_COLUMNS]) for k in R.DOCUMENT_KINDS],
    )
    block("第二十条第（五）项", ["本年处理决定数量"], [("行政许可", [t2["licensing"]["decisions"]])])
    block(
        "第二十条第（六）项",
        ["本年处理决定数量"],
        [("行政处罚", [t2["penalty"]["decisions"]]), ("行政强制", [t2["coercion"]["decisions"]])],
    )
    block("第二十条第（八）项", ["本年收费金额（单位：万元）"], [("行政事业性收费", [t2["fees"]["amount_10k_yuan"]])])
    return r, 4, cells


def _grid_table3(t3: dict) -> tuple[int, int, list[Cell]]:
    cells = [
        Cell(
            0,
            0,
            "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）",
            rowspan=3,
            colspan=3,
            head=True,
        ),
        Cell(0, 3, "申请人情况", colspan=7, head=True),
        Cell(1, 3, R.COLUMN_LABELS["natural_person"], rowspan=2, head=True),
        Cell(1, 4, "法人或其他组织", colspan=5, head=True),
        Cell(1, 9, R.COLUMN_LABELS["total"], rowspan=2, head=True),
    ]
    for i, c in enumerate(R.APPLICANT_COLUMNS[1:]):
        cells.append(Cell(2, 4 + i, R.COLUMN_LABELS[c], head=True))
    r = 3

    def values(code: str) -> None:
        for i, c in enumerate(R.COLUMNS):
            cells.append(Cell(r, 3 + i, _v(t3[code][c]), num=True))

    for code in ("new", "carried_in"):
        cells.append(Cell(r, 0, R.ROW_LABELS[code], colspan=3))
        values(code)
        r += 1
    n_outcome_rows = len(R.OUTCOME_ROWS) + 1  # + （七）总计
    cells.append(Cell(r, 0, R.OUTCOMES_HEADING, rowspan=n_outcome_rows))
    groups: dict[str, list[str]] = {}
    for code in R.OUTCOME_ROWS:
        if "." in code:
            groups.setdefault(code.split(".")[0], []).append(code)
    for code in R.OUTCOME_ROWS:
        group = code.split(".")[0] if "." in code else None
        if group is None:
            cells.append(Cell(r, 1, R.ROW_LABELS[code], colspan=2))
        else:
            if groups[group][0] == code:
                cells.append(Cell(r, 1, R.ROW_GROUPS[group], rowspan=len(groups[group])))
            cells.append(Cell(r, 2, R.ROW_LABELS[code]))
        values(code)
        r += 1
    cells.append(Cell(r, 1, R.ROW_LABELS["total"], colspan=2))
    values("total")
    r += 1
    cells.append(Cell(r, 0, R.ROW_LABELS["carried_out"], colspan=3))
    values("carried_out")
    return r + 1, 10, cells


def _grid_table4(t4: dict) -> tuple[int, int, list[Cell]]:
    cells = [
        Cell(0, 0, "行政复议", rowspan=2, colspan=5, head=True),
        Cell(0, 5, "行政诉讼", colspan=10, head=True),
        Cell(1, 5, "未经复议直接起诉", colspan=5, head=True),
        Cell(1, 10, "复议后起诉", colspan=5, head=True),
    ]
    col = 0
    for b in R.CASE_BLOCKS:
        for k in R.CASE_RESULTS:
            cells.append(Cell(2, col, R.CASE_RESULT_LABELS[k], head=True))
            cells.append(Cell(3, col, _v(t4[b][k]), num=True))
            col += 1
    return 4, 15, cells


TEXT_WIDTH_MM = 156  # A4 210 mm - 28 mm - 26 mm
COLUMN_WIDTHS_MM: dict[str, list[float]] = {
    "table2": [54, 34, 34, 34],
    "table3": [14, 18, 46] + [78 / 7] * 7,
    "table4": [TEXT_WIDTH_MM / 15] * 15,
}


def table_grid(name: str, tables: dict) -> tuple[int, int, list[Cell]]:
    """(rows, columns, cells) of table 二/三/四 in the national layout."""
    return {
        "table2": lambda: _grid_table2(tables["table2"]),
        "table3": lambda: _grid_table3(tables["table3"]),
        "table4": lambda: _grid_table4(tables["table4"]),
    }[name]()


# ---------------------------------------------------------------------------------- docx


def _set_fonts(rpr_owner, name: str) -> None:
    """Latin and East Asian font of a style or run, dropping theme fonts that would override them."""
    from docx.oxml.ns import qn

    rpr = rpr_owner.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)


def _style(
    doc,
    name: str,
    font: str,
    size: float,
    *,
    base=None,
    align=None,
    indent_chars: float = 0,
    line: float | None = 28.95,
    before: float = 0,
    after: float = 0,
    heading_level: int | None = None,
):
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt, RGBColor

    styles = doc.styles
    try:
        st = styles[name]
    except KeyError:
        st = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        if base is not None:
            st.base_style = base
    st.font.size = Pt(size)
    st.font.bold = False
    st.font.italic = False
    st.font.color.rgb = RGBColor(0, 0, 0)
    st.font.name = font
    _set_fonts(st.element, font)
    pf = st.paragraph_format
    pf.alignment = align
    pf.first_line_indent = Pt(size * indent_chars) if indent_chars else Pt(0)
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    from docx.enum.text import WD_LINE_SPACING

    if line:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(line)
    else:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    pf.widow_control = True
    if heading_level is not None:
        pf.keep_with_next = True
    return st


def _runs(paragraph, text: str, *, bold: bool = False) -> None:
    """Add `text` as runs; placeholders are highlighted so that nobody publishes them unfilled."""
    from docx.enum.text import WD_COLOR_INDEX

    pos = 0
    for m in PLACEHOLDER_RE.finditer(text):
        if m.start() > pos:
            paragraph.add_run(text[pos : m.start()]).bold = bold or None
        run = paragraph.add_run(m.group(0))
        run.font.highlight_color = WD_COLOR_INDEX.YELLOW
        pos = m.end()
    if pos < len(text):
        paragraph.add_run(text[pos:]).bold = bold or None


def _drop_border(style) -> None:
    """The default template's Title style has a bottom rule; an official title has none."""
    from docx.oxml.ns import qn

    ppr = style.element.pPr
    if ppr is not None:
        for el in ppr.findall(qn("w:pBdr")):
            ppr.remove(el)


def _page_number_footer(section, font: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run("— ")
    # a PAGE field: <w:fldSimple w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple> in the paragraph
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), "PAGE")
    p._p.append(fld)
    p.add_run(" —")
    num = p.add_run("1")
    fld.append(num._r)  # moves the run into the field (its cached result)
    for r in p.runs + [num]:
        r.font.size = Pt(14)
        _set_fonts(r._r, font)


def _docx_table(doc, name: str, tables: dict) -> None:
    from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
    from docx.shared import Mm, Pt

    nrows, ncols, cells = table_grid(name, tables)
    table = doc.add_table(rows=nrows, cols=ncols)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    size = {"table2": 12, "table3": 9, "table4": 9}[name]
    widths = COLUMN_WIDTHS_MM[name]
    for i, w in enumerate(widths):
        table.columns[i].width = Mm(w)  # the grid (LibreOffice reads it) ...
        for row in table.rows:  # ... and each cell (Word reads these)
            row.cells[i].width = Mm(w)
    for c in cells:
        cell = table.cell(c.row, c.col)
        if c.rowspan > 1 or c.colspan > 1:
            cell = cell.merge(table.cell(c.row + c.rowspan - 1, c.col + c.colspan - 1))
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        p = cell.paragraphs[0]
        p.style = doc.styles["表格文字"]
        p.paragraph_format.alignment = (
            WD_ALIGN_PARAGRAPH.CENTER if (c.head or c.num or c.rowspan > 1) else WD_ALIGN_PARAGRAPH.LEFT
        )
        run = p.add_run(c.text)
        run.font.size = Pt(size)
        if c.head:
            run.bold = True
        if c.todo:
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    # the header rows repeat on every page the table spans
    from docx.oxml import OxmlElement

    for r in range({"table2": 0, "table3": 3, "table4": 3}[name]):
        trpr = table.rows[r]._tr.get_or_add_trPr()
        el = OxmlElement("w:tblHeader")
        trpr.append(el)


def render_docx(doc_data: dict) -> bytes:
    """The report as a .docx file (bytes)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
    sec.left_margin, sec.right_margin = Mm(28), Mm(26)
    sec.header_distance, sec.footer_distance = Mm(15), Mm(22)

    normal = _style(doc, "Normal", BODY_FONT, 16, indent_chars=2, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    title = _style(doc, "Title", TITLE_FONT, 22, align=WD_ALIGN_PARAGRAPH.CENTER, line=36, before=0, after=28.95)
    _drop_border(title)
    _style(doc, "Heading 1", H1_FONT, 16, indent_chars=2, heading_level=1)
    _style(doc, "Heading 2", H2_FONT, 16, indent_chars=2, heading_level=2)
    _style(doc, "表格文字", BODY_FONT, 10.5, base=normal, line=None, align=WD_ALIGN_PARAGRAPH.CENTER)
    _style(doc, "表题", H1_FONT, 14, base=normal, align=WD_ALIGN_PARAGRAPH.CENTER, before=6, after=6)
    _style(doc, "落款", BODY_FONT, 16, base=normal, align=WD_ALIGN_PARAGRAPH.RIGHT)
    doc.core_properties.title = doc_data["title"]
    doc.core_properties.author = doc_data["issuer"]
    doc.core_properties.language = "zh-CN"
    doc.core_properties.comments = "时限（Shixian）根据事件记录生成的年度报告草稿"

    doc.add_paragraph(doc_data["title"], style="Title")
    _runs(doc.add_paragraph(), doc_data["intro"])
    for section in doc_data["sections"]:
        doc.add_paragraph(section["heading"], style="Heading 1")
        for block in section["blocks"]:
            if block["type"] == "subheading":
                doc.add_paragraph(block["text"], style="Heading 2")
            elif block["type"] == "para":
                _runs(doc.add_paragraph(), block["text"])
            elif block["type"] == "table":
                _docx_table(doc, block["table"], doc_data)
                doc.add_paragraph()
    doc.add_paragraph()
    doc.add_paragraph(doc_data["issuer"], style="落款")
    y, m, d = (int(x) for x in doc_data["as_of"].split("-"))
    doc.add_paragraph(f"{y}年{m}月{d}日", style="落款")
    _page_number_footer(sec, "宋体")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def docx_text(data: bytes) -> dict[str, Any]:
    """Paragraph texts (with style names) and table cell texts of a .docx, for checks and tests."""
    from docx import Document

    doc = Document(io.BytesIO(data))
    return {
        "paragraphs": [(p.style.name if p.style else "", p.text) for p in doc.paragraphs],
        "tables": [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables],
    }


# ---------------------------------------------------------------------------------- html

_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ d.title }}</title>
<style>
@page { size: A4; margin: 37mm 26mm 35mm 28mm;
  @bottom-center { content: "— " counter(page) " —"; font: 14pt "宋体", "SimSun", serif; } }
body { font-family: "仿宋_GB2312", "仿宋", "FangSong", "STFangsong", "AR PL UMing CN", serif; font-size: 16pt;
  line-height: 28.95pt; color: #000; max-width: 156mm; margin: 2em auto; }
h1 { font-family: "方正小标宋简体", "小标宋", "STZhongsong", "宋体", "SimSun", serif; font-size: 22pt;
  font-weight: normal; text-align: center; line-height: 36pt; margin: 0 0 28.95pt; }
h2 { font-family: "黑体", "SimHei", "WenQuanYi Micro Hei", sans-serif; font-size: 16pt; font-weight: normal;
  text-indent: 2em; margin: 0; page-break-after: avoid; }
h3 { font-family: "楷体_GB2312", "楷体", "KaiTi", "AR PL UKai CN", serif; font-size: 16pt; font-weight: normal;
  text-indent: 2em; margin: 0; page-break-after: avoid; }
p { text-indent: 2em; margin: 0; text-align: justify; }
p.sign { text-align: right; text-indent: 0; }
mark.todo { background: #ff0; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0 1em; font-size: 10.5pt; line-height: 1.35;
  table-layout: fixed; break-inside: avoid; }
table.table3, table.table4 { font-size: 9pt; }
th, td { border: 1px solid #000; padding: 2px 4px; vertical-align: middle; }
th { font-weight: bold; text-align: center; }
td.n { text-align: center; } td.c { text-align: center; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
@media print { body { margin: 0; max-width: none; } }
</style></head><body>
<h1>{{ d.title }}</h1>
<p>{{ d.intro|todo }}</p>
{% for s in d.sections %}<h2>{{ s.heading }}</h2>
{% for b in s.blocks %}{% if b.type == 'subheading' %}<h3>{{ b.text }}</h3>
{% elif b.type == 'para' %}<p>{{ b.text|todo }}</p>
{% else %}{% set g = grids[b.table] %}<table class="{{ b.table }}">
<colgroup>{% for w in g.widths %}<col style="width:{{ '%.1f'|format(w / 1.56) }}%">{% endfor %}</colgroup>
{% if g.head_rows %}<thead>{% for row in g.rows[:g.head_rows] %}<tr>{% for c in row %}{{ cell(c) }}{% endfor %}</tr>{% endfor %}</thead>{% endif %}
<tbody>{% for row in g.rows[g.head_rows:] %}<tr>{% for c in row %}{{ cell(c) }}{% endfor %}</tr>
{% endfor %}</tbody></table>
{% endif %}{% endfor %}{% endfor %}
<p class="sign">{{ d.issuer }}</p>
<p class="sign">{{ date }}</p>
</body></html>
"""


def render_html(doc_data: dict) -> str:
    from markupsafe import Markup, escape

    def todo(text: str) -> Markup:
        out, pos = [], 0
        for m in PLACEHOLDER_RE.finditer(text):
            out.append(escape(text[pos : m.start()]))
            out.append(Markup('<mark class="todo">') + escape(m.group(0)) + Markup("</mark>"))
            pos = m.end()
        out.append(escape(text[pos:]))
        return Markup("").join(out)

    def cell(c: Cell) -> Markup:
        tag = "th" if c.head else "td"
        attrs = ""
        if c.rowspan > 1:
            attrs += f' rowspan="{c.rowspan}"'
        if c.colspan > 1:
            attrs += f' colspan="{c.colspan}"'
        if not c.head and (c.num or c.rowspan > 1):
            attrs += ' class="n"'
        body = Markup('<mark class="todo">') + escape(c.text) + Markup("</mark>") if c.todo else escape(c.text)
        return Markup(f"<{tag}{attrs}>") + body + Markup(f"</{tag}>")

    grids = {}
    for name, head_rows in (("table2", 0), ("table3", 3), ("table4", 3)):
        nrows, _ncols, cells = table_grid(name, doc_data)
        rows: list[list[Cell]] = [[] for _ in range(nrows)]
        for c in sorted(cells, key=lambda c: (c.row, c.col)):
            rows[c.row].append(c)
        grids[name] = {"rows": rows, "head_rows": head_rows, "widths": COLUMN_WIDTHS_MM[name]}
    env = Environment(autoescape=True)
    env.filters["todo"] = todo
    y, m, d = (int(x) for x in doc_data["as_of"].split("-"))
    return env.from_string(_HTML).render(d=doc_data, grids=grids, cell=cell, date=f"{y}年{m}月{d}日")


def write_document(doc_data: dict, fmt: str, out: Path) -> Path:
    """Write the report draft as docx / html / json."""
    import json

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "docx":
        out.write_bytes(render_docx(doc_data))
    elif fmt == "html":
        out.write_text(render_html(doc_data), encoding="utf-8")
    elif fmt == "json":
        out.write_text(json.dumps(doc_data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    else:
        raise ValueError(f"不支持的格式：{fmt}（可用：docx、html、json）")
    return out


__all__ = ["render_docx", "render_html", "write_document", "table_grid", "docx_text", "DOCX_MIME", "Cell", "TODO_CELL"]
