"""The real `reprowatch` console script, run as a subprocess."""

import json
import subprocess

import pytest



def run(cli_bin, *args, input=None):
    return subprocess.run([cli_bin, *args], capture_output=True, text=True, input=input)


def test_every_command_has_help(cli_bin):
    for args in ([], ["classify"], ["eval"]):
        proc = run(cli_bin, *args, "--help")
        assert proc.returncode == 0 and "Usage" in proc.stdout


def test_classify_text_exit_codes(cli_bin):
    ad = run(cli_bin, "classify", "--json", "--text", "专业代孕 包成功 加微信 dy_mama2024")
    assert ad.returncode == 1
    verdict = json.loads(ad.stdout)
    assert verdict["flagged"] and verdict["labels"] == ["surrogacy"]
    clean = run(cli_bin, "classify", "--json", "--text", "今天天气很好")
    assert clean.returncode == 0 and json.loads(clean.stdout)["flagged"] is False


def test_classify_human_output_highlights(cli_bin):
    proc = run(cli_bin, "classify", "--text", "专业代孕 包成功 加微信 dy_mama2024")
    assert "【代孕】" in proc.stdout and "dy_mama2024" in proc.stdout and "surrogacy" in proc.stdout


def test_classify_stdin_and_file(cli_bin, tmp_path):
    proc = run(cli_bin, "classify", "--json", "-", input="寄血查男女 私聊")
    assert proc.returncode == 1 and json.loads(proc.stdout)["labels"] == ["sex_selection"]
    f = tmp_path / "gbk.txt"
    f.write_bytes("办理出生证明 可上户 加V".encode("gbk"))
    proc = run(cli_bin, "classify", "--json", "--file", str(f))
    assert proc.returncode == 1 and json.loads(proc.stdout)["labels"] == ["birth_certificate"]


def test_classify_jsonl_streams_verdicts_with_ids(cli_bin, tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [{"id": "a", "text": "克罗米芬 无需处方 包邮"}, {"id": 7, "text": "今天天气很好"},
            {"id": "c", "text": ""}]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    proc = run(cli_bin, "classify", "--jsonl", str(src))
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 7, "c"]
    assert out[0]["labels"] == ["fertility_drugs"] and not out[1]["flagged"] and not out[2]["flagged"]
    assert proc.returncode == 1
    dst = tmp_path / "out.jsonl"
    proc = run(cli_bin, "classify", "--jsonl", str(src), "--out", str(dst))
    assert len(dst.read_text(encoding="utf-8").splitlines()) == 3


def test_classify_jsonl_bad_line_writes_nothing(cli_bin, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "代孕"}\n{"id": 2, "text": oops}\n', encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    proc = run(cli_bin, "classify", "--jsonl", str(src), "--out", str(dst))
    assert proc.returncode == 2 and "line 2" in proc.stderr and "Traceback" not in proc.stderr
    assert not dst.exists() and not list(tmp_path.glob("*.part"))
    proc = run(cli_bin, "classify", "--jsonl", str(src))
    assert proc.returncode == 2 and proc.stdout == ""
    proc = run(cli_bin, "classify", "--jsonl", "-", input='{"id": 1}\n')
    assert proc.returncode == 2 and "line 1" in proc.stderr and "text" in proc.stderr


@pytest.mark.parametrize("args", [[], ["--text", "a", "--file", "x"], ["--out", "x", "--text", "a"]])
def test_classify_usage_errors(cli_bin, args):
    assert run(cli_bin, "classify", *args).returncode == 2


def test_eval_reports_metrics(cli_bin, tmp_path):
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": 1, "text": "专业代孕 加V", "labels": ["surrogacy"]},
            {"id": 2, "text": "警方打击代孕犯罪", "labels": []},
            {"id": 3, "text": "寄血查男女 私聊", "labels": ["surrogacy"]}]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    proc = run(cli_bin, "eval", str(corpus), "--json", "--errors")
    assert proc.returncode == 0
    m = json.loads(proc.stdout)
    assert m["categories"]["surrogacy"]["recall"] == 0.5
    assert m["categories"]["surrogacy"]["precision"] == 1.0
    assert m["negative_flag_rate"] == 0.0
    assert [e["id"] for e in m["errors"]] == [3]
    human = run(cli_bin, "eval", str(corpus), "--errors")
    assert "macro-F1" in human.stdout and "寄血查男女" in human.stdout


def test_eval_bad_label_exit_2(cli_bin, tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": 1, "text": "x", "labels": ["spam"]}\n', encoding="utf-8")
    proc = run(cli_bin, "eval", str(corpus))
    assert proc.returncode == 2 and "line 1" in proc.stderr and "labels" in proc.stderr
