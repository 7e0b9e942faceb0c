"""The six category ids as reports show them, and their 汇总表 columns (DESIGN.md)."""

from __future__ import annotations

# id → (short name for tables and charts, 汇总表 column or None)
CATEGORIES: dict[str, tuple[str, str | None]] = {
    "surrogacy": ("代孕", '涉嫌开展"代孕"'),
    "gamete_trade": ("非法采供精、采供卵", "非法采供卵、采供精"),
    "sex_selection": ("非法鉴定胎儿性别", "非法进行性别鉴定"),
    "unlicensed_art": ("未经批准开展辅助生殖技术", "未经批准开展人类辅助生殖技术"),
    "birth_certificate": ("出生医学证明", "非法开具出生医学证明"),
    # The 2023 plan's 药品医疗器械 duty has no column of its own in the seed table.
    "fertility_drugs": ("非法销售生殖药品器械", None),
}
CATEGORY_IDS = tuple(CATEGORIES)
# One colour per category, the same in every chart (colour-blind-safe Okabe–Ito palette).
COLOURS = {
    "surrogacy": "#D55E00", "gamete_trade": "#0072B2", "sex_selection": "#009E73",
    "unlicensed_art": "#CC79A7", "birth_certificate": "#E69F00", "fertility_drugs": "#56B4E9",
}


def category_name(category: str) -> str:
    """The Chinese short name of a category id (the id itself if unknown)."""
    return CATEGORIES.get(category, (category, None))[0]


def category_names(labels) -> str:
    """Several labels as one Chinese string."""
    return "、".join(category_name(c) for c in labels) or "—"
