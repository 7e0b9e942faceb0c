"""Classifier behaviour beyond single rules: context, word boundaries, obfuscation, bad input."""

import json
import random
import resource
import time

import pytest


def labels(classifier, text):
    return classifier.classify(text).labels


@pytest.mark.parametrize("text,expected", [
    # the same wording as an ad, a report, a warning and a question
    ("供卵代孕一条龙，包男孩，加微信 dy_mama2024", {"surrogacy", "gamete_trade", "sex_selection"}),
    ("记者暗访发现，某中介在网上宣称“供卵代孕一条龙、包男孩”，警方已立案调查", set()),
    ("楼上那个发代孕广告的是骗子，大家别信，已经举报了", set()),
    ("请问代孕在国内合法吗？", set()),
    # licensed providers
    ("本院生殖医学中心经省卫健委批准开展人工授精和体外受精-胚胎移植技术，预约挂号请拨打0571-87654321", set()),
    ("省人类精子库招募捐精志愿者，经体检合格后按规定发放交通补贴，咨询电话0571-87654321", set()),
    ("无创产前基因检测（NIPT）需在具备产前诊断资质的医院进行，不提供胎儿性别信息", set()),
    ("克罗米芬片 50mg×10片 处方药 请凭处方购买 ￥45", set()),
    ("出生医学证明补办须知：携带父母双方身份证原件和户口簿到签发机构窗口办理", set()),
    # look-alikes
    ("种公牛性控冻精出售，纯种西门塔尔，电话 13800001111", set()),
    ("农家散养土鸡蛋，新鲜直发，一箱30枚，加微信 tudan888", set()),
    ("玻璃试管 离心管 实验室耗材批发，电话 13800009999", set()),
    ("招聘金牌月嫂、育儿嫂，包吃住，月薪12000，联系13512345678", set()),
    ("专业代驾、代办年检、海外代购，微信 daiban01", set()),
    ("宝宝连体衣男女通用，纯棉包邮", set()),
    ("纯种柯基犬配种，种公血统好，联系13712345678", set()),
])
def test_context_decides(classifier, text, expected):
    assert set(labels(classifier, text)) == expected


@pytest.mark.parametrize("text", [
    "现代生活节奏快，注意休息", "帮助孕妇缓解焦虑", "提供卵巢保养服务", "玻璃试管一盒",
    "时代孕育了英雄", "这家店提供卵石铺路服务", "男女平等是基本国策",
])
def test_terms_do_not_fire_inside_other_words(classifier, text):
    verdict = classifier.classify(text)
    assert not verdict.flagged, verdict.as_dict()


@pytest.mark.parametrize("text,category", [
    ("代*孕 包成功 加V", "surrogacy"),
    ("代 孕 包 成 功 私 聊", "surrogacy"),
    ("代。孕。包。成。功。私聊", "surrogacy"),
    ("代\u200b孕\u200d包成功 私聊", "surrogacy"),
    ("代🌸孕 包成功 私聊", "surrogacy"),
    ("ＤＡＩＹＵＮ 包成功 加v", "surrogacy"),
    ("dai yun 包成功 加v", "surrogacy"),
    ("代yun 包成功 加v", "surrogacy"),
    ("岱孕 包成功 加v", "surrogacy"),
    ("專業代孕 包成功 私聊", "surrogacy"),
    ("gong卵 一条龙 私聊", "gamete_trade"),
    ("試管嬰兒 包成功 可選性別 加薇", "sex_selection"),
    ("驗血查男女 私聊", "sex_selection"),
    ("出*生*证*明 办理 可上户 加V", "birth_certificate"),
    ("克-罗-米-芬 无需处方 包邮", "fertility_drugs"),
])
def test_obfuscated_ads(classifier, text, category):
    assert category in labels(classifier, text), classifier.classify(text, explain=True).as_dict()


def test_hits_point_into_original_text(classifier):
    text = "⒈ 專業代*孕 ２．供🌸卵 ③ 寄血查男女 ＶＸ：ａｂｃ１２３４"
    verdict = classifier.classify(text)
    assert verdict.flagged
    for h in verdict.hits:
        assert text[h.start:h.end] == h.text
    assert {"代*孕", "供🌸卵"} <= {h.text for h in verdict.hits}


def test_verdict_contract(classifier):
    verdict = classifier.classify("专业代孕 微信 dy_mama2024 电话13912345678 QQ 12345678").as_dict()
    assert set(verdict) >= {"flagged", "labels", "score", "hits", "contacts"}
    assert 0 <= verdict["score"] <= 1
    assert set(verdict["contacts"]) == {"phones", "wechat", "qq", "urls", "emails"}
    assert verdict["contacts"]["phones"] == ["13912345678"]
    assert "dy_mama2024" in verdict["contacts"]["wechat"]
    assert verdict["contacts"]["qq"] == ["12345678"]
    hit = verdict["hits"][0]
    assert set(hit) == {"rule", "category", "text", "start", "end"}
    json.dumps(verdict, ensure_ascii=False)


def test_score_is_ordered_by_evidence(classifier):
    bare = classifier.classify("代孕").score
    ad = classifier.classify("专业代孕，包成功，费用全包，加微信 dy_mama2024").score
    news = classifier.classify("警方破获代孕案件，法院以非法行医罪判处被告人有期徒刑").score
    assert news < 0.5 <= bare < ad


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\u200b\u200b"])
def test_empty_text_is_not_flagged(classifier, text):
    verdict = classifier.classify(text)
    assert not verdict.flagged and verdict.score == 0 and verdict.hits == []


def test_binary_junk_and_mixed_encodings(classifier):
    rng = random.Random(3)
    junk = bytes(rng.randrange(256) for _ in range(200_000))
    for text in (junk.decode("latin-1"), junk.decode("utf-8", errors="replace"),
                 "代孕".encode("gbk").decode("latin-1") + "代孕 加V".encode("utf-8").decode("utf-8"),
                 "\x00\x01代\x00孕\x7f加V\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace")):
        verdict = classifier.classify(text)
        for h in verdict.hits:
            assert text[h.start:h.end] == h.text


def test_ten_megabyte_text_bounded(classifier):
    """A 10 MB page repeating an ad: finishes, hits are capped, memory stays bounded."""
    unit = "专业代孕包成功，加微信 dy_mama2024。这里是正常的文字内容，用来填充页面。" * 10
    text = (unit * (10_000_000 // len(unit.encode()) + 1))
    assert len(text.encode()) >= 10_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    verdict = classifier.classify(text)
    elapsed = time.perf_counter() - t0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert verdict.flagged and verdict.labels == ["surrogacy"]
    assert 0 < len(verdict.hits) <= 2000
    # Generous bounds: this guards against blow-ups, it is not a speed test (bench/ does that).
    assert elapsed < 60, elapsed
    assert grown_mb < 1500, grown_mb
