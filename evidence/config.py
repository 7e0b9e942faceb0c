"""Who issues evidence packages: the office, its contact, the operators, the notice's deadline.

Read from a YAML file: ``--config FILE``, else ``$REPROWATCH_EVIDENCE_CONFIG``, else
``evidence.yaml`` in the working directory, else ``<data>/evidence.yaml``; with none of them
the defaults below apply (placeholders an officer sees at once in the documents). Example::

    office: 某某省通信管理局网络安全管理处
    office_short: 某某省通信管理局
    place: 某某省通信管理局网络安全监测室
    operators: [张三, 李四]          # 网络在线提取 needs at least two; --operator overrides
    contact: {person: 张三, phone: 010-12345678, address: 某某市某某路1号}
    deadline_days: 3                 # the 处置通知's deadline, days after the export
    case: 2026年打击非法辅助生殖专项行动
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONFIG_FILE = "evidence.yaml"
PLACEHOLDER = "（未配置）"


class ConfigError(ValueError):
    """The config file is unreadable or malformed; the message names the file and the field."""


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = PLACEHOLDER
    phone: str = PLACEHOLDER
    address: str = PLACEHOLDER


class EvidenceConfig(BaseModel):
    """The issuing side of every package and notice."""

    model_config = ConfigDict(extra="forbid")
    office: str = PLACEHOLDER
    office_short: str | None = None
    place: str = PLACEHOLDER
    operators: list[str] = Field(default_factory=list)
    contact: Contact = Field(default_factory=Contact)
    deadline_days: int = Field(default=3, ge=1, le=90)
    case: str | None = None


def config_path(explicit: str | None, data_dir: Path) -> Path | None:
    """The config file in force, or None."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("REPROWATCH_EVIDENCE_CONFIG")
    if env:
        return Path(env)
    for candidate in (Path(CONFIG_FILE), Path(data_dir) / CONFIG_FILE):
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: str | None, data_dir: Path) -> EvidenceConfig:
    """The evidence config (defaults when no file); ConfigError names file and field."""
    path = config_path(explicit, data_dir)
    if path is None:
        return EvidenceConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    try:
        return EvidenceConfig.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise ConfigError(f"{path}: field {field}: {err['msg']}") from None
