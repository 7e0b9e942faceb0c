"""The office config: who issues evidence packages (office, contact, operators, the notice's
deadline) and, for reports (issue 7), how mail and alerts go out and who fills in the 汇总表.

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

    # Sections used by reports/ (all optional; without them nothing is mailed or posted).
    mail:                            # SMTP for the daily report and for alerts
      host: smtp.example.gov.cn
      port: 465                      # default 25 (none), 587 (starttls), 465 (ssl)
      security: ssl                  # none | starttls | ssl
      user: monitor@example.gov.cn   # omit for an unauthenticated relay
      password_env: REPROWATCH_SMTP_PASSWORD   # the password is read from this env variable
      from: monitor@example.gov.cn
      to: [chief@example.gov.cn, duty@example.gov.cn]
      timeout: 30
    alerts:
      webhook: https://oapi.dingtalk.com/robot/send?access_token=…   # DingTalk/WeCom-style JSON POST
      mail: true                     # also mail each alert to mail.to
      error_rate: 0.2                # errors / (pages + errors) above this raises an alert
      layout_ratio: 0.5              # items below this share of the 7-day median: layout change
      median_days: 7
      min_history: 3                 # runs needed in those days before the median is trusted
      robots_share: 0.2              # robots.txt blocks above this share of requests raise an alert
      due_grace_minutes: 60          # a source is overdue this long after its cron was due
    report:
      top_items: 20                  # newly flagged items listed in the daily report
      mail: false                    # `report daily` mails without --mail when true
    summary_table:                   # the monthly 汇总表
      region: 某某区（县）
      province: 某某省
      filler: 张三                   # 填表人
      phone: 010-12345678            # 联系方式
    schedule:                        # the scheduler daemon (`reprowatch schedule`, scheduler.py)
      daily_report: '0 8 * * *'      # crontab lines, Beijing time; null switches a job off
      monthly_report: '0 8 1 * *'
      recheck: '0 * * * *'
      crawl_time_limit: 14400        # seconds, then a graceful stop; kill_grace later a kill
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_FILE = "evidence.yaml"
PLACEHOLDER = "（未配置）"


class ConfigError(ValueError):
    """The config file is unreadable or malformed; the message names the file and the field."""


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str = PLACEHOLDER
    phone: str = PLACEHOLDER
    address: str = PLACEHOLDER


class MailConfig(BaseModel):
    """SMTP for the daily report and alerts; the password comes from the env variable ``password_env``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    user: str | None = None
    password_env: str | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    timeout: float = Field(default=30.0, gt=0)

    @property
    def effective_port(self) -> int:
        """The port, or the usual one for the security mode."""
        return self.port or {"none": 25, "starttls": 587, "ssl": 465}[self.security]

    def password(self) -> str | None:
        """The SMTP password from the environment (None when not configured or unset)."""
        return os.environ.get(self.password_env) if self.password_env else None


class AlertConfig(BaseModel):
    """Crawler-health thresholds and where alerts go."""

    model_config = ConfigDict(extra="forbid")
    webhook: str | None = Field(default=None, pattern=r"^https?://")
    mail: bool = False
    error_rate: float = Field(default=0.2, ge=0, le=1)
    layout_ratio: float = Field(default=0.5, gt=0, le=1)
    median_days: int = Field(default=7, ge=1, le=90)
    min_history: int = Field(default=3, ge=1)
    robots_share: float = Field(default=0.2, ge=0, le=1)
    due_grace_minutes: int = Field(default=60, ge=0)


class ReportConfig(BaseModel):
    """Daily report settings."""

    model_config = ConfigDict(extra="forbid")
    top_items: int = Field(default=20, ge=1, le=500)
    mail: bool = False


class SummaryTableConfig(BaseModel):
    """Who fills in the monthly 汇总表."""

    model_config = ConfigDict(extra="forbid")
    region: str = PLACEHOLDER
    province: str = PLACEHOLDER
    filler: str = PLACEHOLDER
    phone: str | None = None


class ScheduleConfig(BaseModel):
    """The scheduler daemon (scheduler.py): when the fixed jobs run and how long any job may
    take. Crons are crontab lines in Beijing time; null switches a job off. Times in seconds."""

    model_config = ConfigDict(extra="forbid")
    daily_report: str | None = "0 8 * * *"
    monthly_report: str | None = "0 8 1 * *"
    recheck: str | None = "0 * * * *"
    # A crawl is asked to stop (Scrapy's CLOSESPIDER_TIMEOUT: graceful, its run recorded, the
    # next run resumes) at crawl_time_limit; one still running kill_grace later is killed.
    crawl_time_limit: float = Field(default=4 * 3600, gt=0)
    kill_grace: float = Field(default=300, ge=0)
    job_time_limit: float = Field(default=3600, gt=0)
    misfire_grace: int = Field(default=3600, ge=1)
    stop_timeout: float = Field(default=600, ge=0)
    max_parallel: int = Field(default=4, ge=1, le=64)
    reports_dir: str | None = None

    @field_validator("daily_report", "monthly_report", "recheck")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            from reprowatch.cron import cron_trigger

            cron_trigger(v)
        return v


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
    mail: MailConfig | None = None
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    summary_table: SummaryTableConfig = Field(default_factory=SummaryTableConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)

    @model_validator(mode="after")
    def _mail_needed(self):
        # Said at load time: otherwise alerts meant for mail would be dropped without a word.
        if self.mail is None and self.alerts.mail:
            raise ValueError("alerts.mail is true but there is no mail: section (SMTP host, from, to)")
        if self.mail is None and self.report.mail:
            raise ValueError("report.mail is true but there is no mail: section (SMTP host, from, to)")
        return self


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
