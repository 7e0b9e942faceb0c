"""The package's documents: 网络在线提取笔录 (DOCX and PDF) and 处置通知/协查函 (DOCX).

Both DOCX files set East Asian fonts on every style and run they use (``w:eastAsia``: 宋体 for
text, 黑体 for headings), so Word and WPS show the Chinese in the intended faces instead of
falling back per character. The PDF is the same record laid out by WeasyPrint from HTML in
Noto CJK, for recipients without a word processor.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from evidence.config import EvidenceConfig

CATEGORY_NAMES = {
    "surrogacy": "代孕", "gamete_trade": "非法采供精、采供卵", "sex_selection": "非法鉴定胎儿性别",
    "unlicensed_art": "未经批准开展人类辅助生殖技术", "birth_certificate": "违规开具、买卖出生医学证明",
    "fertility_drugs": "非法销售辅助生殖药品器械",
}
BODY_FONT, HEAD_FONT, LATIN_FONT, MONO_FONT = "宋体", "黑体", "Times New Roman", "Consolas"

# 处置通知's legal basis. Officers adapt the wording to their own office's practice; these are
# the provisions the special actions themselves rely on.
LEGAL_BASIS = [
    "《中华人民共和国网络安全法》第四十七条（网络运营者发现法律、行政法规禁止发布或者传输的信息，应当立即停止传输，"
    "采取消除等处置措施，防止信息扩散，保存有关记录，并向有关主管部门报告）",
    "《互联网信息服务管理办法》第十五条、第十六条",
    "《中华人民共和国广告法》有关医疗广告及禁止发布违法广告的规定",
    "《人类辅助生殖技术管理办法》第三条（禁止以任何形式买卖配子、合子、胚胎；医疗机构和医务人员不得实施任何形式的代孕技术）",
    "《国家卫生计生委办公厅关于开展打击非法实施人类辅助生殖技术专项行动的通知》（国卫办监督函〔2017〕564号）"
    "及打击非法应用人类辅助生殖技术专项行动有关工作方案",
]
MEASURES = [
    "立即删除或停止传输上述信息，采取消除等处置措施，防止信息扩散；",
    "依法保存上述信息的发布者注册信息、发布时间、IP 地址等有关记录，以备核查；",
    "排查同一发布者、同一联系方式发布的其他同类信息，一并处置；",
    "于期限内将处置结果书面反馈我单位。",
]


@dataclass
class PackageFile:
    """One file of an item in the package."""

    name: str
    path: str
    sha256: str
    size: int


@dataclass
class PackageItem:
    """One exported item, as the documents list it."""

    id: str
    url: str
    title: str
    labels: list[str]
    captured_at: str                     # capture start, Beijing time ISO
    files: list[PackageFile]
    meta: dict = field(default_factory=dict)


@dataclass
class PackageInfo:
    """Everything the documents say about one package."""

    package_id: str
    case: str
    operators: list[str]
    created: dict                        # {"utc", "beijing"}
    config: EvidenceConfig
    items: list[PackageItem]
    fingerprint: str
    tool_version: str
    host: dict
    versions: dict
    clock: dict

    @property
    def number(self) -> str:
        """The notice's document number: year and the package id's first eight digits."""
        return f"〔{self.created['beijing'][:4]}〕{self.package_id[:8]}号"


def _labels(labels: list[str]) -> str:
    return "、".join(CATEGORY_NAMES.get(c, c) for c in labels) or "—"


def _beijing(value: str) -> str:
    """'2026-11-23T17:44:44.268+08:00' → '2026年11月23日 17:44:44'."""
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return value or ""
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M:%S}"


def _grouped(fp: str) -> str:
    return " ".join(fp[i:i + 4] for i in range(0, len(fp), 4))


def _time_span(info: PackageInfo) -> tuple[str, str]:
    times = sorted(i.captured_at for i in info.items if i.captured_at)
    return (times[0], times[-1]) if times else ("", "")


def _equipment(info: PackageInfo) -> list[str]:
    v, h, c = info.versions, info.host, info.clock
    clock = f"内核时钟源 {c.get('clocksource') or '未知'}，NTP 同步状态 {c.get('ntp_state') or '未知'}"
    if c.get("synchronized") is False:
        clock += "（采集时系统时钟未与授时服务器同步，时间以本机时钟为准）"
    return [
        f"采集主机：{h.get('hostname')}（{h.get('os')}，{h.get('machine')}）",
        f"软件：reprowatch 违法辅助生殖广告监测系统 {v.get('reprowatch')}；Chromium {v.get('chromium') or '—'}；"
        f"Scrapy {v.get('scrapy')}；Playwright {v.get('playwright')}；warcio {v.get('warcio')}；Python {v.get('python')}",
        f"时间来源：{clock}",
        f"签名：Ed25519，密钥指纹（SHA-256）{_grouped(info.fingerprint)}",
    ]


def _steps(info: PackageInfo) -> list[str]:
    first, last = _time_span(info)
    return [
        f"{_beijing(first)} 至 {_beijing(last)}，监测系统按来源配置自动访问下列网址，规则判定为疑似违法辅助生殖广告后即时固定："
        "保存服务器原始响应（response.html）及响应头，使用 Chromium 浏览器渲染页面、保存渲染后页面（rendered.html）"
        "并截取全页截图（screenshot.png），将请求、响应及渲染结果写入 WARC 归档（capture.warc.gz），"
        "提取正文（text.txt），记录判定依据（verdict.json）及网址、跳转、IP、DNS、证书、时间、软件版本等采集信息（meta.json）。",
        "各文件生成时即计算 SHA-256 校验值，并记入哈希链式保管日志。",
        f"{_beijing(info.created['beijing'])}，导出证据包 {info.package_id}：重新计算全部文件的 SHA-256，与采集时记录核对一致，"
        "生成文件清单（manifest.json）并以本系统 Ed25519 密钥签名。",
        "证据包内附校验程序 verify.py，接收方可使用任意 Python 3 环境运行，独立复核全部文件的 SHA-256 及签名。",
    ]


# -- DOCX ---------------------------------------------------------------------------------

def _fonts(element, east: str = BODY_FONT, latin: str = LATIN_FONT) -> None:
    rpr = element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), east)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)


def _new_document(landscape: bool = False) -> Document:
    doc = Document()
    for name in ("Normal", "Table Grid", "Title", "Heading 1", "Heading 2"):
        style = doc.styles[name]
        east = HEAD_FONT if name.startswith(("Title", "Heading")) else BODY_FONT
        style.font.name = LATIN_FONT
        _fonts(style.element, east)
    doc.styles["Normal"].font.size = Pt(11)
    section = doc.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    return doc


def _run(paragraph, text: str, bold: bool = False, size: float | None = None, east: str = BODY_FONT,
         latin: str = LATIN_FONT):
    # Only what differs from the Normal style is set on the run: a 100-item 清单 has thousands
    # of runs, and python-docx pays for every property element it adds.
    run = paragraph.add_run(text)
    if bold:
        run.bold = True
    if size:
        run.font.size = Pt(size)
    if (east, latin) != (BODY_FONT, LATIN_FONT):
        run.font.name = latin
        _fonts(run._element, east, latin)
    return run


def _title(doc, text: str) -> None:
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, text, bold=True, size=20, east=HEAD_FONT)


def _field(doc, name: str, value: str) -> None:
    p = doc.add_paragraph()
    _run(p, f"{name}：", bold=True, east=HEAD_FONT)
    _run(p, value)


def _cell(cell, lines: list[str], size: float = 8, mono: bool = False, bold: bool = False) -> None:
    # One run per cell: python-docx turns each "\n" into a line break (<w:br/>).
    _run(cell.paragraphs[0], "\n".join(lines), bold=bold, size=size, latin=MONO_FONT if mono else LATIN_FONT)


def record_docx(info: PackageInfo) -> bytes:
    """网络在线提取笔录 with the 电子数据提取固定清单, as DOCX bytes."""
    doc = _new_document(landscape=True)
    _title(doc, "网络在线提取笔录")
    first, last = _time_span(info)
    _field(doc, "案件名称", info.case)
    _field(doc, "证据包编号", info.package_id)
    _field(doc, "提取时间", f"{_beijing(first)} 至 {_beijing(last)}（北京时间）；笔录制作时间 {_beijing(info.created['beijing'])}")
    _field(doc, "提取地点", info.config.place)
    _field(doc, "提取人员", "、".join(info.operators))
    _field(doc, "提取对象", f"互联网公开网页 {len(info.items)} 条（网址见下表）")
    p = doc.add_paragraph()
    _run(p, "提取设备及软件：", bold=True, east=HEAD_FONT)
    for line in _equipment(info):
        doc.add_paragraph(line, style="List Bullet")
    p = doc.add_paragraph()
    _run(p, "提取过程：", bold=True, east=HEAD_FONT)
    for i, line in enumerate(_steps(info), 1):
        doc.add_paragraph(f"{i}. {line}")

    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "电子数据提取固定清单", bold=True, size=14, east=HEAD_FONT)
    table = doc.add_table(rows=1, cols=6)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, head in zip(table.rows[0].cells, ("序号", "条目编号 / 网址", "采集时间（北京时间）",
                                                 "文件（items/条目编号/）", "SHA-256", "大小（字节）")):
        _cell(cell, [head], size=9, bold=True)
    for n, item in enumerate(info.items, 1):
        cells = table.add_row().cells
        _cell(cells[0], [str(n)])
        _cell(cells[1], [item.id, item.url])
        _cell(cells[2], [_beijing(item.captured_at)])
        _cell(cells[3], [f.name for f in item.files])
        _cell(cells[4], [f.sha256 for f in item.files], size=6.5, mono=True)
        _cell(cells[5], [str(f.size) for f in item.files])
    widths = (Cm(1.0), Cm(7.0), Cm(3.0), Cm(3.6), Cm(9.4), Cm(1.8))
    for row in table.rows:
        for cell, width in zip(row.cells, widths):
            cell.width = width
    doc.add_paragraph()
    doc.add_paragraph("以上电子数据的完整清单及校验值见证据包 manifest.json，签名密钥指纹："
                      f"{_grouped(info.fingerprint)}。")
    doc.add_paragraph()
    doc.add_paragraph("提取人（签名）：____________    ____________        见证人（签名）：____________")
    doc.add_paragraph("日期：______年____月____日")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def notice_docx(info: PackageInfo) -> bytes:
    """处置通知（协查函）with a 送达回证 page, as DOCX bytes."""
    cfg = info.config
    doc = _new_document()
    created = datetime.fromisoformat(info.created["beijing"])
    deadline = created + timedelta(days=cfg.deadline_days)
    sites = sorted({item.url.split("/")[2] for item in info.items if "//" in item.url})
    _title(doc, "关于依法处置违法辅助生殖广告信息的通知")
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, f"（协查函）  {cfg.office_short or cfg.office}{info.number}")
    p = doc.add_paragraph()
    _run(p, "有关网站、平台运营者及接入服务提供者", bold=True)
    _run(p, f"（{'、'.join(sites)}）：")
    doc.add_paragraph(
        f"经监测，下列 {len(info.items)} 条网络信息涉嫌发布代孕、非法买卖精子卵子、非法鉴定胎儿性别、"
        "违规开具出生医学证明、非法销售辅助生殖药品等违法辅助生殖广告。我单位已依法对上述信息进行网络在线提取，"
        f"证据包编号 {info.package_id}（随函附送，可独立校验）。")
    doc.add_paragraph("依据：")
    for line in LEGAL_BASIS:
        doc.add_paragraph(line, style="List Bullet")
    table = doc.add_table(rows=1, cols=4)
    table.style = doc.styles["Table Grid"]
    for cell, head in zip(table.rows[0].cells, ("序号", "网址", "涉嫌类别", "采集时间（北京时间）")):
        _cell(cell, [head], size=9, bold=True)
    for n, item in enumerate(info.items, 1):
        cells = table.add_row().cells
        _cell(cells[0], [str(n)], size=9)
        _cell(cells[1], [item.url], size=9)
        _cell(cells[2], [_labels(item.labels)], size=9)
        _cell(cells[3], [_beijing(item.captured_at)], size=9)
    doc.add_paragraph()
    doc.add_paragraph("请你单位：")
    for i, line in enumerate(MEASURES, 1):
        doc.add_paragraph(f"{i}. {line}")
    p = doc.add_paragraph()
    _run(p, f"处置期限：请于 {deadline.year}年{deadline.month}月{deadline.day}日前"
            f"（收到本通知之日起 {cfg.deadline_days} 日内）完成处置并书面反馈。", bold=True)
    doc.add_paragraph(f"联系人：{cfg.contact.person}    联系电话：{cfg.contact.phone}    地址：{cfg.contact.address}")
    for line in ("", cfg.office, f"{created.year}年{created.month}月{created.day}日", "（印章）"):
        p = doc.add_paragraph(line)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    # 送达回证: the page the recipient signs and returns; it starts a page of its own.
    doc.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
    _title(doc, "送 达 回 证")
    receipt = doc.add_table(rows=0, cols=2)
    receipt.style = doc.styles["Table Grid"]
    rows = [
        ("送达文书名称及文号", f"关于依法处置违法辅助生殖广告信息的通知 {cfg.office_short or cfg.office}{info.number}"
                              f"（附证据包 {info.package_id}）"),
        ("受送达人", ""), ("送达地点", ""), ("送达方式", "□直接送达  □邮寄送达  □电子送达  □其他"),
        ("受送达人签名或盖章", "\n\n                         年    月    日"),
        ("代收人及代收理由", ""), ("送达人", ""), ("送达日期", "          年    月    日"), ("备注", ""),
    ]
    for name, value in rows:
        cells = receipt.add_row().cells
        _cell(cells[0], [name], size=11, bold=True)
        _cell(cells[1], value.split("\n"), size=11)
        cells[0].width, cells[1].width = Cm(4.5), Cm(12.0)
    doc.add_paragraph(f"签发单位：{cfg.office}    联系人：{cfg.contact.person}    电话：{cfg.contact.phone}")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# -- PDF ----------------------------------------------------------------------------------

_PDF_CSS = """
@page { size: A4 landscape; margin: 1.6cm 1.5cm; @bottom-center { content: "第 " counter(page) " 页 共 " counter(pages) " 页"; font-size: 8pt; } }
body { font-family: 'Noto Serif CJK SC', 'Noto Sans CJK SC', serif; font-size: 10.5pt; line-height: 1.5; }
h1 { font-family: 'Noto Sans CJK SC', sans-serif; text-align: center; font-size: 20pt; margin: 0 0 12pt; }
h2 { font-family: 'Noto Sans CJK SC', sans-serif; text-align: center; font-size: 13pt; margin: 14pt 0 6pt; }
.f b { font-family: 'Noto Sans CJK SC', sans-serif; }
.legend { font-size: 8pt; margin: 0 0 3pt; }
.it { border-top: 0.6pt solid #000; padding: 1.5pt 0 2.5pt; break-inside: avoid; }
.ih { margin: 0; font-size: 7.5pt; line-height: 10.5pt; word-break: break-all; }
.ih b { font-family: 'Noto Sans CJK SC', sans-serif; }
.h { font-family: 'DejaVu Sans Mono', monospace; font-size: 6.6pt; white-space: pre; line-height: 8.2pt; padding-left: 2em; }
.end { border-top: 0.6pt solid #000; padding-top: 4pt; break-inside: avoid; }
.sign { margin-top: 18pt; }
"""


def record_html(info: PackageInfo) -> str:
    """The 提取笔录 as one HTML page (the source of its PDF); every crawled string escaped."""
    e = html.escape
    first, last = _time_span(info)
    fields = [("案件名称", info.case), ("证据包编号", info.package_id),
              ("提取时间", f"{_beijing(first)} 至 {_beijing(last)}（北京时间）；笔录制作时间 {_beijing(info.created['beijing'])}"),
              ("提取地点", info.config.place), ("提取人员", "、".join(info.operators)),
              ("提取对象", f"互联网公开网页 {len(info.items)} 条（网址见下列清单）")]
    parts = [f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>网络在线提取笔录</title>"
             f"<style>{_PDF_CSS}</style></head><body><h1>网络在线提取笔录</h1>"]
    parts += [f"<p class='f'><b>{e(k)}：</b>{e(v)}</p>" for k, v in fields]
    parts.append("<p class='f'><b>提取设备及软件：</b></p><ul>" + "".join(f"<li>{e(x)}</li>" for x in _equipment(info)) + "</ul>")
    parts.append("<p class='f'><b>提取过程：</b></p><ol>" + "".join(f"<li>{e(x)}</li>" for x in _steps(info)) + "</ol>")
    # The 清单 is a flow of blocks, one per item: a line with its number, id, capture time and
    # URL, then one aligned line per file (name, SHA-256, size). WeasyPrint's time grows with
    # boxes, line boxes and page-margin boxes, not characters: a table (a row per item, two
    # cells) took 0.3–0.4 s longer for 100 items, a legend atop every page 0.2 s.
    parts.append("<h2>电子数据提取固定清单</h2><p class='legend'>每条：序号、条目编号、采集时间（北京时间）、网址；"
                 "其下每行一个文件：文件名（位于证据包 items/条目编号/ 下）、SHA-256 校验值、大小（字节）。</p>")
    width = max((len(f.name) for item in info.items for f in item.files), default=0) + 2
    for n, item in enumerate(info.items, 1):
        files = "\n".join(f"{e(f.name.ljust(width))}{f.sha256}  {f.size:>10}" for f in item.files)
        parts.append(f"<div class='it'><p class='ih'><b>{n}.</b>　{e(item.id)}　采集时间 "
                     f"{e(_beijing(item.captured_at))}　{e(item.url)}</p><div class='h'>{files}</div></div>")
    # The closing statement and the signature lines stay on one page.
    parts.append(f"<div class='end'><p>以上电子数据的完整清单及校验值见证据包 manifest.json，签名密钥指纹："
                 f"{_grouped(info.fingerprint)}。</p>"
                 "<p class='sign'>提取人（签名）：____________ ____________ 见证人（签名）：____________</p>"
                 "<p>日期：______年____月____日</p></div></body></html>")
    return "".join(parts)


def load_pdf_renderer() -> None:
    """Import WeasyPrint (about half a second): a process that will render a PDF calls this
    first, so the import overlaps other work. (Rendering a small page here as well, to load
    the fonts early, made a 100-item export 0.3 s slower: it outlasts the other work.)"""
    import logging

    import weasyprint  # noqa: F401

    # WeasyPrint warns about every CSS property it ignores; the record's CSS is ours and fixed.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)


def html_to_pdf(page: str) -> bytes:
    """PDF bytes of an HTML page (WeasyPrint; fonts from the system: fonts-noto-cjk).

    Its streams are left uncompressed: WeasyPrint deflating them stream by stream took a
    sixth of a 100-item record's time, while the package's ZIP deflates the whole file
    in a thirtieth of that to a smaller size."""
    load_pdf_renderer()
    import weasyprint

    return weasyprint.HTML(string=page).write_pdf(uncompressed_pdf=True)
