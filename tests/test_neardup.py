"""Near-duplicate clusters (search/neardup.py): reposts group, different ads do not, the
index survives a restart, and signatures agree across processes (workers compute them)."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from search.neardup import NearDupIndex, signature

DATA = Path(__file__).parent / "data"

AD = ("专业代孕服务，包成功包男孩，试管婴儿一条龙，费用透明，全国可做。"
      "联系电话13912345678，微信dy_helper88，签约保障，不成功全额退款。"
      "资深团队十年经验，医院直接对接，孕妈身体健康学历高，全程陪同照顾。")
REPOSTS = [
    AD.replace("13912345678", "13912345679"),               # one phone digit
    AD.replace("包成功", "包成功🔥"),                         # an emoji
    AD.replace("十年经验", "十二年经验") + "今日特价！",          # a changed detail and a tail
]
# A repost rewritten by hand, as the gangs do across sites: same offer and contact, other
# words (3-gram Jaccard with the original about 0.45).
REWRITE = ("高薪招募爱心妈妈，招募22-35岁已育宝妈做爱心妈妈，代孕一次补贴二十五万，"
           "包吃住，全程保密。联系方式：V信 aixin_mama520")
ORIGINAL = ("爱心妈妈招募 补贴25万，招22-35岁已育女性做爱心妈妈，代孕一次补贴25万起，"
            "包吃住，全程保密。V信 aixin_mama520")
OTHERS = [
    "出售九成新电动车一辆，电池续航六十公里，价格面议，可小刀。联系王先生，周末看车。"
    "车况良好无事故，发票齐全，因搬家转让，非诚勿扰，有意者私信。",
    "卵子捐赠中介高价收购，身高一米六以上大学生优先，体检后当天结算报酬两万起，"
    "包吃住，全程保密，加微信egg_fast01详谈。",
]


def test_reposts_share_a_cluster_and_other_ads_do_not(tmp_path):
    index = NearDupIndex(tmp_path / "neardup.pkl")
    first = index.assign("ad", signature(AD))
    assert first == "ad"
    for k, text in enumerate(REPOSTS):
        assert index.assign(f"repost{k}", signature(text)) == "ad", text
    for k, text in enumerate(OTHERS):
        assert index.assign(f"other{k}", signature(text)) == f"other{k}", text
    # Known items keep their cluster without a signature.
    assert index.known("repost1") == "ad" and index.known("unseen") is None


def _jaccard(a: str, b: str) -> float:
    def grams(t):
        f = re.sub(r"[\s\W_]+", "", t.lower())
        return {f[i:i + 3] for i in range(max(1, len(f) - 2))}
    return len(grams(a) & grams(b)) / len(grams(a) | grams(b))


def test_a_rewritten_repost_joins_its_original(tmp_path):
    assert 0.35 < _jaccard(ORIGINAL, REWRITE) < 0.6
    index = NearDupIndex(tmp_path / "neardup.pkl")
    index.assign("original", signature(ORIGINAL))
    assert index.assign("rewrite", signature(REWRITE)) == "original"


def test_different_ads_of_a_corpus_stay_apart(tmp_path):
    """Every text of the labelled corpus in one index: a cluster of several items only holds
    texts that really are near-copies (3-gram Jaccard >= 0.3 with another member)."""
    texts = [json.loads(line)["text"] for line in (DATA / "corpus_dev.jsonl").open(encoding="utf-8")]
    index = NearDupIndex(tmp_path / "neardup.pkl")
    clusters: dict[str, list[str]] = {}
    for k, text in enumerate(texts):
        clusters.setdefault(index.assign(str(k), signature(text)), []).append(text)
    grouped = [members for members in clusters.values() if len(members) > 1]
    assert sum(len(m) for m in grouped) < 0.05 * len(texts)
    for members in grouped:
        for text in members:
            assert max(_jaccard(text, other) for other in members if other is not text) >= 0.3, members


def test_index_survives_a_restart(tmp_path):
    path = tmp_path / "neardup.pkl"
    index = NearDupIndex(path)
    index.assign("ad", signature(AD))
    index.save()
    again = NearDupIndex(path)
    assert again.known("ad") == "ad"
    assert again.assign("repost", signature(REPOSTS[0])) == "ad"
    assert again.assign("other", signature(OTHERS[0])) == "other"


def test_an_index_of_older_signatures_keeps_clusters_only(tmp_path):
    """Signatures of another version cannot be queried: the clusters of the items seen stay,
    the LSH starts empty (a repost of an old item starts a new cluster, never a wrong one)."""
    path = tmp_path / "neardup.pkl"
    with path.open("wb") as fh:
        pickle.dump(("an old LSH object", {"old1": "old1", "old2": "old1"}), fh)
    index = NearDupIndex(path)
    assert index.known("old2") == "old1"
    assert index.assign("new", signature(AD)) == "new"
    index.save()
    assert NearDupIndex(path).known("old2") == "old1"


def test_a_damaged_index_file_starts_afresh(tmp_path):
    path = tmp_path / "neardup.pkl"
    path.write_bytes(b"not a pickle at all")
    index = NearDupIndex(path)
    assert index.known("x") is None
    assert index.assign("ad", signature(AD)) == "ad"


def test_signatures_are_the_same_in_every_process():
    code = ("import sys; from search.neardup import signature; "
            "sys.stdout.write(','.join(map(str, signature(sys.argv[1]).tolist())))")
    out = subprocess.run([sys.executable, "-c", code, AD], capture_output=True, text=True, check=True).stdout
    assert [int(v) for v in out.split(",")] == signature(AD).tolist()


def test_signature_of_short_and_empty_texts():
    for text in ("", "代", "代孕", "！！！"):
        values = signature(text)
        assert values.shape == (128,) and values.dtype == np.uint64
    assert signature("代孕").tolist() != signature("供卵").tolist()
