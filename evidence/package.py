"""``reprowatch export``: the evidence package for a takedown request, as one signed ZIP.

Layout (DESIGN.md, evidence package contract)::

    manifest.json            every other file with path, sha256, size; package id, case,
                             operators, times, tool version, custody head, public key, signature
    items/<id>/…             each item's capture, copied from data/evidence/ unchanged
    提取笔录.docx / .pdf      网络在线提取笔录 with the 电子数据提取固定清单
    处置通知.docx             takedown notice / 协查函 with its 送达回证 page
    index.html               offline viewer
    verify.py                standard-library checker (evidence/verify.py, issuer's fingerprint set)

The ZIP is streamed: capture files go through in 1 MiB chunks, hashed on the way, so memory does
not grow with the package. Each file is checked against the hash recorded at capture time; a
capture changed on disk since then stops the export (nothing is written). The package is built
under ``<out>.part`` and renamed when complete.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import os
import time
import uuid
import zipfile
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from evidence import custody, environment, keys
from evidence.config import EvidenceConfig
from evidence.documents import (PackageFile, PackageInfo, PackageItem, html_to_pdf, load_pdf_renderer, notice_docx,
                                record_docx, record_html)
from evidence.verify import MANIFEST, canonical_manifest
from evidence.viewer import index_html

FORMAT = "reprowatch-evidence-package/1"
_CHUNK = 1 << 20
# Members already compressed are stored as they are. Not the PDF: html_to_pdf leaves its
# streams uncompressed for the ZIP to deflate.
_STORED = (".png", ".gz", ".docx", ".zip", ".jpg", ".jpeg", ".webp")
MIN_OPERATORS = 2  # 网络在线提取 is done by at least two officers


class ExportError(Exception):
    """The export cannot be made; ``exit_code`` 2 for bad input, 1 for evidence that no longer
    matches its capture record."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class ExportResult:
    """What an export wrote."""

    path: str
    package_id: str
    items: int
    files: int
    bytes: int
    seconds: float
    fingerprint: str
    sha256: str

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _zip_info(name: str, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED if name.lower().endswith(_STORED) else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


class _PackageWriter:
    """Streams members into the ZIP and keeps the manifest's file list."""

    def __init__(self, path: Path, when: datetime):
        self.zf = zipfile.ZipFile(path, "w", allowZip64=True, compresslevel=6)
        self.when = when
        self.files: list[dict] = []

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_chunks(name, [data])

    def add_chunks(self, name: str, chunks) -> dict:
        digest, size = hashlib.sha256(), 0
        with self.zf.open(_zip_info(name, self.when), "w", force_zip64=True) as dst:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
        entry = {"path": name, "sha256": digest.hexdigest(), "size": size}
        self.files.append(entry)
        return entry

    def close(self) -> None:
        self.zf.close()


def _file_chunks(path: Path):
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            yield chunk


def _load_items(store, ids: list[str], data: Path) -> list[tuple[dict, list[dict]]]:
    """(item, evidence files) for each id; ExportError naming every id that cannot be exported."""
    out, missing, bare = [], [], []
    for item_id in dict.fromkeys(ids):
        item = store.get(item_id)
        if item is None:
            missing.append(item_id)
            continue
        files = (item.get("evidence") or {}).get("files") or []
        if not files:
            bare.append(item_id)
            continue
        out.append((item, files))
    problems = []
    if missing:
        problems.append(f"no such item: {', '.join(missing)}")
    if bare:
        problems.append(f"no evidence captured for: {', '.join(bare)} (captures are made when a crawl flags an item)")
    if problems:
        raise ExportError("; ".join(problems))
    return out


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@contextmanager
def _pdf_process(wanted: bool):
    """The process that lays out the 提取笔录 PDF (None when no PDF is wanted). WeasyPrint is
    the slowest step by far: the process is started, and imports it, at once, and lays out
    the PDF later, while this one streams the captures."""
    if not wanted:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                               initializer=load_pdf_renderer)
    pool.submit(int)  # starts the process (and its import) now, not at the first real job
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def export(store, ids: list[str], out: str | Path, *, data: Path, config: EvidenceConfig,
           case: str | None = None, operators: list[str] | None = None, pdf: bool = True,
           actor: str | None = None, audit: dict | None = None) -> ExportResult:
    """Write the package for ``ids`` to ``out``; returns what was written. ExportError on failure.
    ``audit``: extra fields for the custody log's export entry (the web UI adds the client IP)."""
    t0 = time.perf_counter()
    out = Path(out)
    if out.exists():
        raise ExportError(f"{out} already exists; a package is never overwritten (choose another name)")
    if not out.parent.is_dir():
        raise ExportError(f"folder {out.parent} does not exist")
    operators = [o.strip() for o in (operators or config.operators) if o and o.strip()]
    if len(operators) < MIN_OPERATORS:
        raise ExportError(f"网络在线提取 needs at least {MIN_OPERATORS} operators: give --operator NAME twice "
                          f"(or operators: in the evidence config); got {len(operators)}")
    if not ids:
        raise ExportError("name at least one item id")
    data = Path(data)
    with _pdf_process(pdf) as pool:
        loaded = _load_items(store, ids, data)
        key = keys.load_or_create(data)
        public = keys.public_raw(key)
        fingerprint = keys.fingerprint(public)
        created_at = datetime.now(timezone.utc)
        created = environment.both_times(created_at)
        package_id = uuid.uuid4().hex
        case = case or config.case or f"违法辅助生殖广告处置 {created['beijing'][:10]}"
        tail = store.custody_tail()
        head = json.loads(tail["doc"]) if tail else None

        # The documents are built from the capture records; the streaming below proves the files
        # still match those records before anything is published.
        items: list[PackageItem] = []
        metas = {}
        for item, files in loaded:
            folder = data / Path(files[0]["path"]).parent
            meta = _read_json(folder / "meta.json")
            metas[item["id"]] = meta
            entries = [PackageFile(name=Path(f["path"]).name, path=f"items/{item['id']}/{Path(f['path']).name}",
                                   sha256=f["sha256"], size=f["size"]) for f in files]
            items.append(PackageItem(id=item["id"], url=item.get("url", ""), title=item.get("title", ""),
                                     labels=item.get("labels") or [],
                                     captured_at=(meta.get("capture_start") or {}).get("beijing")
                                     or (item.get("evidence") or {}).get("captured_at", ""),
                                     files=entries, meta=meta))
        first_meta = next((m for m in metas.values() if m), {})
        info = PackageInfo(package_id=package_id, case=case, operators=operators, created=created, config=config,
                           items=items, fingerprint=fingerprint, tool_version=environment.versions()["reprowatch"],
                           host=first_meta.get("host") or environment.host(),
                           versions=first_meta.get("versions") or environment.versions(),
                           clock=first_meta.get("clock") or environment.clock_source())

        pdf_job = pool.submit(html_to_pdf, record_html(info)) if pool is not None else None

        part = out.with_name(out.name + ".part")
        writer = _PackageWriter(part, created_at.astimezone(environment.BEIJING))
        try:
            texts = {}
            for (item, files), pitem in zip(loaded, items):
                for record, pfile in zip(files, pitem.files):
                    source = data / record["path"]
                    if not source.is_file():
                        raise ExportError(f"item {item['id']}: capture file {source} is missing", 1)
                    entry = writer.add_chunks(pfile.path, _file_chunks(source))
                    if (entry["sha256"], entry["size"]) != (record["sha256"], record["size"]):
                        raise ExportError(f"item {item['id']}: {source} no longer matches its capture record "
                                          f"(sha256 {entry['sha256']}, recorded {record['sha256']}): not exported", 1)
                folder = data / Path(files[0]["path"]).parent
                text_file = folder / "text.txt"
                text = text_file.read_text(encoding="utf-8") if text_file.is_file() else item.get("text", "")
                verdict = _read_json(folder / "verdict.json")
                texts[item["id"]] = (text, verdict.get("hits") if verdict else item.get("hits") or [])
            writer.add_bytes("提取笔录.docx", record_docx(info))
            writer.add_bytes("处置通知.docx", notice_docx(info))
            writer.add_chunks("index.html", (piece.encode("utf-8") for piece in index_html(info, texts)))
            verifier = (Path(__file__).with_name("verify.py").read_text(encoding="utf-8")
                        .replace('ISSUER_FINGERPRINT = ""', f'ISSUER_FINGERPRINT = "{fingerprint}"', 1))
            writer.add_bytes("verify.py", verifier.encode("utf-8"))
            if pdf_job is not None:
                writer.add_bytes("提取笔录.pdf", pdf_job.result())
            manifest = {
                "format": FORMAT, "package_id": package_id, "case": case, "operators": operators,
                "created": created, "created_by": actor or custody.default_actor(),
                "tool": {"name": "reprowatch", "version": info.tool_version},
                "issuer": {"office": config.office, "place": config.place},
                "custody_head": {"seq": head["seq"], "hash": head["hash"]} if head else None,
                "items": [{"id": i.id, "url": i.url, "labels": i.labels, "captured_at": i.captured_at,
                           "files": [f.path for f in i.files]} for i in items],
                "files": writer.files,
                "public_key": {"algorithm": "Ed25519", "key": base64.b64encode(public).decode("ascii"),
                               "fingerprint": fingerprint},
            }
            manifest["signature"] = {"algorithm": "Ed25519", "value": keys.sign(key, canonical_manifest(manifest)),
                                     "signed": "canonical JSON of this manifest without 'signature' "
                                               "(sorted keys, separators , and :, UTF-8)"}
            manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            with writer.zf.open(_zip_info(MANIFEST, writer.when), "w") as dst:
                dst.write(manifest_bytes)
            writer.close()
        except BaseException:
            writer.close()
            part.unlink(missing_ok=True)
            raise
        try:
            os.link(part, out)  # fails rather than replace a file created meanwhile
            part.unlink()
        except FileExistsError:
            part.unlink()
            raise ExportError(f"{out} appeared while exporting; the package was not written") from None
        except OSError:
            os.replace(part, out)
        zip_sha = hashlib.sha256()
        for chunk in _file_chunks(out):
            zip_sha.update(chunk)
        custody.record(store, "export", data_dir=data, actor=actor or "、".join(operators), package_id=package_id,
                       case=case, items=[i.id for i in items], out=str(out.resolve()), zip_sha256=zip_sha.hexdigest(),
                       manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(), key_fingerprint=fingerprint,
                       **(audit or {}))
        return ExportResult(path=str(out), package_id=package_id, items=len(items), files=len(writer.files) + 1,
                            bytes=out.stat().st_size, seconds=round(time.perf_counter() - t0, 3),
                            fingerprint=fingerprint, sha256=zip_sha.hexdigest())
