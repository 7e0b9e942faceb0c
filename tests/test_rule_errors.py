"""Malformed rule packs give one error naming file, rule and field (and exit 2 in the CLI)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from classifiers.rulepack import DEFAULT_RULES_DIR, RuleError, load_rule_packs

GOOD_RULE = """\
category: surrogacy
rules:
  - id: surrogacy.x
    weight: 0.8
    terms: [代孕]
"""


def write_pack(tmp_path: Path, name: str, body: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    shutil.copy(DEFAULT_RULES_DIR / "context.yaml", rules / "context.yaml")
    (rules / name).write_text(body, encoding="utf-8")
    return rules


@pytest.mark.parametrize("name,body,expected", [
    ("surrogacy.yaml", GOOD_RULE.replace("terms: [代孕]", "patterns: ['代(孕']"),
     ["surrogacy.yaml", "surrogacy.x", "patterns", "bad regex"]),
    ("spam.yaml", GOOD_RULE.replace("surrogacy", "spam"), ["spam.yaml", "unknown category"]),
    ("surrogacy.yaml", GOOD_RULE.replace("  - id: surrogacy.x\n", "  - name: x\n"),
     ["surrogacy.yaml", "#1", "id", "missing"]),
    ("surrogacy.yaml", GOOD_RULE.replace("weight: 0.8", "weight: 3"), ["surrogacy.x", "weight"]),
    ("surrogacy.yaml", GOOD_RULE.replace("    weight: 0.8\n", ""), ["surrogacy.x", "weight", "missing"]),
    ("surrogacy.yaml", GOOD_RULE + "    colour: red\n", ["surrogacy.x", "colour", "unknown key"]),
    ("surrogacy.yaml", GOOD_RULE + "    requires: ['@nosuchgroup']\n", ["requires", "unknown signal group"]),
    ("surrogacy.yaml", GOOD_RULE.replace("terms: [代孕]", "patterns: ['.*']"),
     ["surrogacy.x", "patterns", "anchors"]),
    ("surrogacy.yaml", "rules: [\n", ["surrogacy.yaml", "not valid YAML"]),
    ("surrogacy.yaml", GOOD_RULE + "    examples: {flag: 代孕}\n", ["surrogacy.x", "examples.flag"]),
])
def test_rule_error_names_file_rule_and_field(tmp_path, name, body, expected):
    rules = write_pack(tmp_path, name, body)
    with pytest.raises(RuleError) as err:
        load_rule_packs(rules)
    for part in expected:
        assert part in str(err.value)


def test_good_custom_pack_loads(tmp_path):
    rules = write_pack(tmp_path, "surrogacy.yaml", GOOD_RULE)
    packs = load_rule_packs(rules)
    assert [r.id for r in packs.rules] == ["surrogacy.x"]


def test_cli_bad_rules_exit_2(tmp_path, cli_bin):
    rules = write_pack(tmp_path, "surrogacy.yaml", GOOD_RULE.replace("terms: [代孕]", "patterns: ['代(孕']"))
    proc = subprocess.run([cli_bin, "classify", "--rules", str(rules), "--text", "代孕"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "surrogacy.yaml" in proc.stderr and "surrogacy.x" in proc.stderr and "patterns" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
