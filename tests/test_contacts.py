"""Contacts from normal and disguised text; masked numbers are not contacts."""

import pytest

from classifiers.contacts import extract


@pytest.mark.parametrize("text,kind,value", [
    ("电话13912345678", "phones", "13912345678"),
    ("联系：139 1234 5678", "phones", "13912345678"),
    ("手机 139.1234.5678", "phones", "13912345678"),
    ("１３９１２３４５６７８", "phones", "13912345678"),
    ("①③⑨①②③④⑤⑥⑦⑧", "phones", "13912345678"),
    ("⒈⒊⒐⒈⒉⒊⒋⒌⒍⒎⒏", "phones", "13912345678"),
    ("幺三九一二三四五六七八", "phones", "13912345678"),
    ("壹叁玖-壹贰叁肆-伍陆柒捌", "phones", "13912345678"),
    ("138🌸1234🌸5678", "phones", "13812345678"),
    ("13８加1234加5678", "phones", "13812345678"),
    ("1️⃣7️⃣3️⃣-8️⃣8️⃣2️⃣0️⃣-6️⃣4️⃣1️⃣5️⃣", "phones", "17388206415"),
    ("微信 dy_mama2024 电话13912345678", "phones", "13912345678"),
    ("🐧 12345678", "qq", "12345678"),
    ("+86 139 1234 5678", "phones", "13912345678"),
    ("座机 021-87654321", "phones", "02187654321"),
    ("热线 400-123-4567", "phones", "4001234567"),
    ("微信：dy_mama2024", "wechat", "dy_mama2024"),
    ("薇信 haoyun8866", "wechat", "haoyun8866"),
    ("➕V：abc_123x", "wechat", "abc_123x"),
    ("V❤xyz12345", "wechat", "xyz12345"),
    ("ｖｘ：ＨＹ８８６６ａｂ", "wechat", "hy8866ab"),
    ("微信同号13812345678", "wechat", "13812345678"),
    ("扣扣：12345678", "qq", "12345678"),
    ("企鹅号 987654321", "qq", "987654321"),
    ("QQ 1234567890", "qq", "1234567890"),
    ("访问 www.haoyun.com 了解", "urls", "www.haoyun.com"),
    ("https://ivf-example.cn/a?b=1", "urls", "https://ivf-example.cn/a?b=1"),
    ("官网 HTTPS://IVF-Example.CN/A", "urls", "https://ivf-example.cn/a"),
    ("daiyun点com", "urls", "daiyun.com"),
    ("haoyun。cn", "urls", "haoyun.cn"),
    ("邮箱 test@163.com", "emails", "test@163.com"),
    ("邮箱 test#163.com", "emails", "test@163.com"),
])
def test_finds_contact(text, kind, value):
    found = extract(text).as_dict()
    assert value in found[kind], found


@pytest.mark.parametrize("text", [
    "联系电话139****0716",
    "手机号 138xxxx5678",
    "2024年11月23日13点45分发布",
    "价格8万10万15万20万30万",
    "一条龙服务，一二三四五",
    "love_and_peace is v good",
    "订单号 2023112312345678901",
])
def test_no_contact(text):
    found = extract(text).as_dict()
    assert not any(found.values()), found


def test_spans_point_into_original():
    text = "请联系 壹叁玖-壹贰叁肆-伍陆柒捌 或 ｖｘ：ＨＹ８８６６ａｂ"
    for span in extract(text).spans:
        assert span.end > span.start
        assert text[span.start:span.end].strip()
    phone = next(s for s in extract(text).spans if s.kind == "phones")
    assert text[phone.start:phone.end] == "壹叁玖-壹贰叁肆-伍陆柒捌"
