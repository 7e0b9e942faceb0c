"""Evidence: capture at crawl time, court-checkable packages, their verification, custody log.

- ``capture.py`` — a flagged item's page as received, rendered and photographed (Chromium),
  with a WARC (``warc.py``) and its metadata, in ``data/evidence/<id>/<time>/``;
- ``package.py`` — ``reprowatch export``: one signed, streamed ZIP per request;
- ``documents.py`` / ``viewer.py`` — the 提取笔录, 处置通知 (DOCX, PDF) and the offline index.html;
- ``verify.py`` — the standard-library checker, shipped inside every package;
- ``keys.py`` — the installation's Ed25519 signing key; ``custody.py`` — the hash-chained log
  (captures and exports record themselves; a viewer records a look with
  ``custody.record(store, "view", item=ID, via="web")``);
- ``config.py`` — the issuing office, operators and deadline; ``environment.py`` — host, clock,
  software versions as the records state them.
"""
