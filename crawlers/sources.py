"""Source configs: one YAML file per source in `sources/`, validated on load.

Every mistake is one :class:`SourceError` naming the file and the field, so that
`reprowatch crawl` can stop before anything is crawled.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_SOURCES_DIR = Path("sources")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class SourceError(ValueError):
    """A source config is malformed; the message names file and field."""


def _check_regexes(values: list[str]) -> list[str]:
    for v in values:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"bad regex {v!r}: {exc}") from None
    return values


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Selectors(_Strict):
    """Optional CSS overrides; main text, title and time are otherwise found automatically."""

    title: str | None = None
    text: str | None = None
    contact: str | None = None
    published: str | None = None
    post: str | None = None  # one item per match (forum floors), URL page#<element id>


class Browser(_Strict):
    """Rendering options for `render: browser` (done by crawlers/browser.py, in this order).

    ``wait_for``: CSS that must match before the page is read (on a timeout the page is read
    as rendered and counted); ``scroll``: scroll to the bottom up to N times, or ``auto``
    until a scroll brings nothing new; ``click``: CSS or visible text of a 加载更多 button,
    clicked until it disappears or a click brings nothing new; ``timeout``: seconds for the
    navigation and for each wait.
    """

    wait_for: str | None = None
    scroll: int | Literal["auto"] = 0
    click: str | None = None
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("scroll")
    @classmethod
    def _scroll(cls, v):
        if isinstance(v, int) and v < 0:
            raise ValueError("a number of scrolls (0 or more) or 'auto'")
        return v


class Search(_Strict):
    """Site-search discovery: `url` contains {keyword}; keywords `default` come from the rule packs."""

    url: str
    keywords: Literal["default"] | list[str] | str = "default"
    max_pages: int = Field(default=5, ge=1)
    # How keywords are written into the URL: gbk, big5, utf-8…; default: the encoding of the
    # source's first start page (UTF-8 if it cannot be fetched).
    encoding: str | None = None

    @field_validator("encoding")
    @classmethod
    def _codec(cls, v: str | None) -> str | None:
        if v is not None:
            import codecs

            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError(f"unknown encoding {v!r} (e.g. utf-8, gbk, gb18030, big5)") from None
        return v

    @field_validator("url")
    @classmethod
    def _has_placeholder(cls, v: str) -> str:
        if "{keyword}" not in v:
            raise ValueError("must contain {keyword}")
        return v


class ApiFields(_Strict):
    """JMESPath expressions, relative to one listing item."""

    id: str
    title: str | None = None
    text: str | None = None
    contact: str | None = None
    url: str | None = None
    published: str | None = None


class ApiOffset(_Strict):
    """Offset/limit paging: the next page is the same URL with ``param`` raised by ``step``
    (the page size), for as long as pages come back full."""

    param: str = Field(min_length=1)
    step: int = Field(gt=0)


class Api(_Strict):
    """JSON listing API: JMESPath for the item list and the next-page cursor."""

    items: str
    next: str | None = None
    next_url: str | None = None
    offset: ApiOffset | None = None
    fields: ApiFields
    code: str | None = "code"   # JMESPath of a status code that must be 0 when present

    @model_validator(mode="after")
    def _next_pair(self):
        if self.offset and self.next:
            raise ValueError("use either `next`/`next_url` (cursor or page numbers) or `offset`, not both")
        if self.next and not self.next_url:
            raise ValueError("`next` needs `next_url` with {next}")
        if self.next_url and "{next}" not in self.next_url:
            raise ValueError("`next_url` must contain {next}")
        return self


class Source(_Strict):
    """One source, as in DESIGN.md."""

    name: str
    type: Literal["html", "api"] = "html"
    render: Literal["static", "browser"] = "static"
    start_urls: list[str] = Field(min_length=1)
    allowed_domains: list[str] = Field(default_factory=list)
    follow: list[str] = Field(default_factory=list)
    items: list[str] = Field(default_factory=list)
    selectors: Selectors = Field(default_factory=Selectors)
    browser: Browser | None = None
    search: Search | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    api: Api | None = None
    schedule: str | None = None
    max_pages: int = Field(default=1000, ge=1)
    max_depth: int = Field(default=8, ge=1)
    obey_robots: bool = True
    path: str = Field(default="", exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use lower-case letters, digits, - and _")
        return v

    @field_validator("follow", "items")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return _check_regexes(v)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            return None  # `schedule: ''` is how a YAML says "run by hand only"
        if v is not None:
            from reprowatch.cron import cron_trigger

            cron_trigger(v)  # a bad line stops here, naming file and field, not in the daemon
        return v

    @field_validator("start_urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if not re.match(r"^https?://[^/\s]+", url):
                raise ValueError(f"not an http(s) URL: {url!r}")
        return v

    @model_validator(mode="after")
    def _type_needs(self):
        if self.type == "api" and self.api is None:
            raise ValueError("`type: api` needs an `api:` section")
        if self.type == "html" and not self.items and not self.selectors.post:
            raise ValueError("`type: html` needs `items` regexes (or `selectors.post`)")
        return self

    @property
    def follow_res(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.follow]

    @property
    def item_res(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.items]


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_source(path: Path | str) -> Source:
    """Load and validate one source file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SourceError(f"{path}: must be a mapping of settings")
    try:
        source = Source(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _where(err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        raise SourceError(f"{path}: field {field!r}: {msg}") from None
    source.path = str(path)
    return source


def load_sources(directory: Path | str | None = None) -> dict[str, Source]:
    """All sources of a folder by name; names must be unique."""
    directory = Path(directory) if directory else DEFAULT_SOURCES_DIR
    if not directory.is_dir():
        raise SourceError(f"{directory}: sources folder not found")
    sources: dict[str, Source] = {}
    for path in sorted(directory.glob("*.y*ml")):
        source = load_source(path)
        if source.name in sources:
            raise SourceError(f"{path}: field 'name': {source.name!r} is also used by {sources[source.name].path}")
        sources[source.name] = source
    return sources
