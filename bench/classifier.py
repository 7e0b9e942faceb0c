"""Classifier throughput against jieba.lcut on the same text, in the same run.

    .venv/bin/python bench/classifier.py [--mb 10]

Builds >= 10 MB (UTF-8) of documents mixing ads, look-alikes and ordinary Chinese filler,
then prints MB/s of ``Classifier.classify`` and of ``jieba.lcut`` over the same documents on
one core, the ratio, peak RSS after classifying, and the warm ``Classifier.load()`` time
(measured in a fresh interpreter, so it includes imports and reading the caches).
Targets (issue 3): >= 5 MB/s, >= 7x jieba, RSS <= 300 MB, load <= 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILLER = (
    "今天天气不错，我们一家人去公园散步，孩子们玩得很开心。"
    "这款手机的续航表现很好，拍照效果也令人满意，价格在同档次里算是实惠的。"
    "社区组织志愿者为老人义诊，测量血压、讲解健康知识，大家都很欢迎。"
    "二手自行车出售，九成新，有意者请联系，非诚勿扰。"
    "孕期要注意营养均衡，适当运动，定期产检，保持心情愉快。"
    "本店新到一批冬季羽绒服，款式多样，欢迎进店选购。"
    "会议强调，要坚持以人民为中心的发展思想，扎实推进各项工作。"
)


def corpus_texts() -> list[str]:
    texts = []
    for name in ("corpus_dev.jsonl", "corpus_check.jsonl"):
        path = ROOT / "tests" / "data" / name
        if path.exists():
            texts += [json.loads(line)["text"] for line in path.open(encoding="utf-8") if line.strip()]
    samples = ROOT / "tests" / "data" / "samples.txt"
    texts += [line for line in samples.read_text(encoding="utf-8").splitlines() if line.strip()]
    return texts


def build_documents(megabytes: float, seed: int = 1) -> list[str]:
    """Documents of 200–4000 characters: filler with corpus texts spliced in."""
    rng = random.Random(seed)
    texts = corpus_texts()
    docs, size = [], 0
    while size < megabytes * 1_000_000:
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.35:
                parts.append(rng.choice(texts))
            else:
                start = rng.randrange(len(FILLER))
                parts.append((FILLER * 2)[start:start + rng.randint(40, 300)])
        doc = "\n".join(parts)
        docs.append(doc)
        size += len(doc.encode("utf-8"))
    return docs


def warm_load_seconds() -> float:
    code = ("import time; t = time.perf_counter(); from classifiers import Classifier; "
            "Classifier.load(); print(time.perf_counter() - t)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)  # warms caches
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=10.0, help="megabytes of text to build (default 10)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says

    from classifiers import Classifier

    docs = build_documents(args.mb)
    total = sum(len(d.encode("utf-8")) for d in docs) / 1_000_000
    print(f"text: {total:.1f} MB in {len(docs)} documents")

    classifier = Classifier.load()
    # CPU time of this process: the figure and the ratio do not depend on what else the
    # machine is doing (wall time is printed too).
    w0, t0 = time.perf_counter(), time.process_time()
    flagged = sum(classifier.classify(d).flagged for d in docs)
    ours, ours_wall = time.process_time() - t0, time.perf_counter() - w0
    # What the crawl pipeline does: the whole verdict, contacts of unflagged texts included.
    t0 = time.process_time()
    for d in docs:
        classifier.classify(d).as_dict()
    ours_full = time.process_time() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    import jieba

    jieba.initialize()
    w0, t0 = time.perf_counter(), time.process_time()
    for d in docs:
        jieba.lcut(d)
    theirs, theirs_wall = time.process_time() - t0, time.perf_counter() - w0

    load = warm_load_seconds()
    print(f"{'':24}{'CPU s':>10}{'MB/s':>10}{'wall s':>10}")
    print(f"{'Classifier.classify':24}{ours:>10.2f}{total / ours:>10.2f}{ours_wall:>10.2f}")
    print(f"{'classify().as_dict()':24}{ours_full:>10.2f}{total / ours_full:>10.2f}")
    print(f"{'jieba.lcut':24}{theirs:>10.2f}{total / theirs:>10.2f}{theirs_wall:>10.2f}")
    print(f"ratio classify/jieba: {theirs / ours:.1f}x, with as_dict {theirs / ours_full:.1f}x   (target >= 7x)")
    print(f"speed: {total / ours:.2f} MB/s on one core   (target >= 5)")
    print(f"peak RSS after classifying: {rss_mb:.0f} MB   (target <= 300)")
    print(f"Classifier.load() warm: {load:.2f} s   (target <= 1.5)")
    print(f"documents flagged: {flagged}/{len(docs)}")


if __name__ == "__main__":
    main()
