"""Normalisation folds obfuscations and still maps every character back to the original."""

import random

import pytest

from classifiers.normalize import Folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return Folder(tmp_path_factory.mktemp("fold-cache"))


@pytest.mark.parametrize("raw,folded", [
    ("代*孕", "代孕"), ("代-孕", "代孕"), ("代 孕", "代孕"), ("代。孕", "代孕"),
    ("代\u200b孕", "代孕"), ("代\ufeff孕", "代孕"), ("代🌸孕", "代孕"), ("代❤️孕", "代孕"),
    ("ＶＸ", "vx"), ("ＤａｉＹｕｎ", "daiyun"), ("試管嬰兒", "试管婴儿"), ("驗血查男女", "验血查男女"),
    ("聯繫諮詢", "联系咨询"), ("①③⑨", "139"), ("⒈⒉", "12"), ("➕V", "加v"), ("+微", "加微"),
    ("出生證明", "出生证明"), ("HCG", "hcg"), ("8000元", "8000元"), ("¥5000", "¥5000"),
])
def test_folds_obfuscation(folder, raw, folded):
    assert folder.fold(raw) == folded


def test_offsets_map_back_to_original(folder):
    text = "⒈专业代*孕，試管🌸嬰兒 ＶＸ：ａｂｃ\u200b１２３"
    norm = folder.normalize(text)
    start = norm.text.index("代孕")
    s, e = norm.span(start, start + 2)
    assert text[s:e] == "代*孕"
    start = norm.text.index("试管婴儿")
    s, e = norm.span(start, start + 4)
    assert text[s:e] == "試管🌸嬰兒"
    start = norm.text.index("abc123")
    s, e = norm.span(start, start + 6)
    assert text[s:e] == "ａｂｃ\u200b１２３"


def test_every_normalised_slice_folds_back(folder):
    """Property: for random texts, text[span(i, j)] folds to norm.text[i:j]."""
    rng = random.Random(7)
    alphabet = list("代孕试管供卵查男女abcXYZ１２３ ，。*-🌸\u200b①⒈試嬰") + ["❤️"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        norm = folder.normalize(text)
        n = len(norm.text)
        for _ in range(10):
            if n == 0:
                break
            i = rng.randrange(n)
            j = rng.randint(i + 1, n)
            s, e = norm.span(i, j)
            piece = folder.fold(text[s:e])
            # Expansions (⒈ → 1) may contribute more characters at the edges than were asked.
            assert norm.text[i:j] in piece, (text, i, j, s, e)


def test_norm_index_inverts_orig_index(folder):
    rng = random.Random(11)
    alphabet = list("代孕试管abcXYZ１２３ ，。*-🌸\u200b①⒈試嬰") + ["❤️"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        norm = folder.normalize(text)
        for i in range(len(norm.text)):
            p = norm.orig_index(i)
            # The normalised index of that original character is i, or an earlier index
            # when i lies inside an expansion (⒈ → 1 and its deleted dot).
            assert norm.norm_index(p) <= i
            assert norm.orig_index(norm.norm_index(p)) == p
