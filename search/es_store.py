"""The Elasticsearch backend (official ``elasticsearch`` 9.x client, no server plugins).

Two indices, created with their mappings on first use: ``<prefix>-items`` and
``<prefix>-runs`` (prefix ``reprowatch``). Facet fields are ``keyword``s, times are ``date``s,
and full text is searched in ``title_tokens``/``text_tokens``: the jieba tokens from
``tokenize.py`` analysed by the built-in ``whitespace`` analyzer, so SQLite and Elasticsearch
match the same words. The original title and text live in ``_source`` for display; the
highlight snippet is cut from them in Python, exactly as on SQLite.

The custody log (``evidence/custody.py``) is a third index, ``<prefix>-custody``, created on first
use: one document per entry with the entry's ``seq`` as its id, so two writers racing for the
same place in the chain cannot both win (the second ``create`` gets 409).

Writes do not refresh (a crawl writes far more often than anyone searches; the index refreshes
itself every second), except a review, which an officer expects to see at once. Call
:meth:`ElasticsearchStore.refresh` when a search must see every write so far (tests).
"""

from __future__ import annotations

from contextlib import contextmanager

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError as ESNotFoundError
from elasticsearch import helpers

from . import facets as facet_order
from .highlight import snippet
from .items import (contact_kind, contact_values, day_of, merge, now_iso, prepare, since_prefix,
                     time_bounds)
from .store import (FACETS, NotFoundError, Query, SearchResult, Store, StoreError, UpsertResult,
                    review_change)
from .tokenize import TokenPool, document_tokens, query_tokens

# Fields we add for indexing; never part of an item handed back.
INTERNAL = ("title_tokens", "text_tokens", "contact_values", "day")
FACET_SIZE = 1000  # values listed per facet (terms aggregation size)
_CONFLICT_RETRIES = 5

ITEMS_MAPPING = {
    # Unlisted fields (hits, evidence, history, …) are kept in _source but not indexed:
    # crawled data must not grow the mapping.
    "dynamic": False,
    "properties": {
        "id": {"type": "keyword"},
        "url": {"type": "keyword", "ignore_above": 2048},
        "source": {"type": "keyword"},
        "site": {"type": "keyword"},
        "labels": {"type": "keyword"},
        "status": {"type": "keyword"},
        "flagged": {"type": "boolean"},
        "score": {"type": "float"},
        "contact_values": {"type": "keyword"},
        "content_hash": {"type": "keyword"},
        "cluster": {"type": "keyword"},
        "day": {"type": "keyword"},
        "fetched_at": {"type": "date"},
        "first_seen": {"type": "date"},
        "last_seen": {"type": "date"},
        "title_tokens": {"type": "text", "analyzer": "whitespace"},
        "text_tokens": {"type": "text", "analyzer": "whitespace"},
    },
}
RUNS_MAPPING = {
    "dynamic": False,
    "properties": {
        "source": {"type": "keyword"},
        "started": {"type": "date"},
        "finished": {"type": "date"},
    },
}
CUSTODY_MAPPING = {
    "dynamic": False,
    "properties": {"seq": {"type": "long"}},
}
_FACET_FIELDS = {"category": "labels", "site": "site", "source": "source", "status": "status", "day": "day"}


def _public(source: dict) -> dict:
    return {k: v for k, v in source.items() if k not in INTERNAL}


class ElasticsearchStore(Store):
    """The store in an Elasticsearch cluster at ``url``.

    ``client_options`` go to :class:`elasticsearch.Elasticsearch` unchanged (``api_key``,
    ``ca_certs``, ``node_class``, …).
    """

    def __init__(self, url: str, prefix: str = "reprowatch", request_timeout: float = 30.0,
                 **client_options):
        self.url = url.rstrip("/")
        self.items_index = f"{prefix}-items"
        self.runs_index = f"{prefix}-runs"
        self.custody_index = f"{prefix}-custody"
        self._custody_ready = False
        client_options.setdefault("request_timeout", request_timeout)
        # The client retries a refused connection itself; a store that is down should be
        # reported (and the crawl spooled) quickly, not after many attempts.
        client_options.setdefault("max_retries", 1)
        client_options.setdefault("retry_on_timeout", False)
        try:
            self.client = Elasticsearch(self.url, **client_options)
        except ValueError as e:
            raise StoreError(f"bad Elasticsearch URL {url!r}: {e}") from None
        self._ready = False

    @contextmanager
    def _errors(self, action: str):
        try:
            yield
        except TransportConnectionError as e:
            raise StoreError(f"cannot reach Elasticsearch at {self.url} ({action}): {e.message}") from None
        except ApiError as e:
            raise StoreError(f"Elasticsearch at {self.url} refused {action}: {e.meta.status} {e.message}"
                             f" {_reason(e)}".rstrip()) from None
        except TransportError as e:
            raise StoreError(f"Elasticsearch at {self.url}: {action} failed: {e.message}") from None
        except helpers.BulkIndexError as e:
            raise StoreError(f"Elasticsearch at {self.url}: {action} failed for {len(e.errors)} item(s):"
                             f" {e.errors[:1]}") from None

    def _ensure(self) -> None:
        """Create the indices on first use (another process may be creating them too)."""
        if self._ready:
            return
        with self._errors("creating indices"):
            for index, mapping in ((self.items_index, ITEMS_MAPPING), (self.runs_index, RUNS_MAPPING)):
                if not self.client.indices.exists(index=index):
                    try:
                        self.client.indices.create(index=index, mappings=mapping)
                    except ApiError as e:
                        if "already_exists" not in str(e):
                            raise
        self._ready = True

    def refresh(self) -> None:
        """Make all writes so far visible to search."""
        self._ensure()
        with self._errors("refresh"):
            self.client.indices.refresh(index=[self.items_index, self.runs_index])

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    # -- writing -----------------------------------------------------------------------

    def _document(self, record: dict, tokens: tuple[str, str] | None, old_source: dict | None) -> dict:
        doc = dict(record)
        if tokens is None:
            tokens = (old_source["title_tokens"], old_source["text_tokens"]) if old_source else document_tokens(record)
        doc["title_tokens"], doc["text_tokens"] = tokens
        doc["contact_values"] = contact_values(record)
        doc["day"] = day_of(record["fetched_at"])
        return doc

    def upsert(self, item: dict) -> UpsertResult:
        """See :meth:`Store.upsert`: get, merge, then index conditionally on the version read,
        retrying if another writer got in between."""
        new = prepare(item)
        self._ensure()
        with self._errors("upsert"):
            for _ in range(_CONFLICT_RETRIES):
                try:
                    old = self.client.get(index=self.items_index, id=new["id"])
                except ESNotFoundError:
                    old = None
                old_source = old["_source"] if old else None
                record, outcome = merge(_public(old_source) if old else None, new)
                tokens = None if outcome == "seen" else document_tokens(record)
                doc = self._document(record, tokens, old_source)
                try:
                    if old is None:
                        self.client.create(index=self.items_index, id=new["id"], document=doc)
                    else:
                        self.client.index(index=self.items_index, id=new["id"], document=doc,
                                          if_seq_no=old["_seq_no"], if_primary_term=old["_primary_term"])
                    return UpsertResult(new["id"], outcome)
                except ConflictError:
                    continue
        raise StoreError(f"Elasticsearch at {self.url}: item {new['id']} kept changing under the upsert")

    def bulk_upsert(self, items: list[dict], pool: TokenPool | None = None) -> list[UpsertResult]:
        """Upsert a batch: one ``mget``, merge, tokenise what is new or changed (in ``pool``
        when given), then ``streaming_bulk`` with retries on overload. Items another writer
        changed meanwhile are redone one by one."""
        now = now_iso()
        prepared = [prepare(item, now) for item in items]
        if not prepared:
            return []
        self._ensure()
        ids = list({p["id"]: None for p in prepared})
        with self._errors("bulk upsert"):
            found = self.client.mget(index=self.items_index, ids=ids)["docs"]
            stored = {d["_id"]: d for d in found if d.get("found")}
            current = {i: _public(d["_source"]) for i, d in stored.items()}
            results = []
            for p in prepared:
                record, outcome = merge(current.get(p["id"]), p)
                current[p["id"]] = record
                results.append(UpsertResult(p["id"], outcome))
            retokenise = [i for i in ids if i not in stored or
                          stored[i]["_source"].get("content_hash") != current[i]["content_hash"]]
            records = [current[i] for i in retokenise]
            tokens = dict(zip(retokenise, pool.map(records) if pool else [document_tokens(r) for r in records]))

            def actions():
                for item_id in ids:
                    old = stored.get(item_id)
                    action = {"_index": self.items_index, "_id": item_id,
                              "_source": self._document(current[item_id], tokens.get(item_id),
                                                        old["_source"] if old else None)}
                    if old is None:
                        action["_op_type"] = "create"
                    else:
                        action.update(if_seq_no=old["_seq_no"], if_primary_term=old["_primary_term"])
                    yield action

            conflicts, failures = [], []
            for ok, info in helpers.streaming_bulk(self.client, actions(), chunk_size=500, max_retries=3,
                                                   initial_backoff=1, raise_on_error=False,
                                                   raise_on_exception=True, refresh=False):
                if not ok:
                    detail = next(iter(info.values()))
                    (conflicts if detail.get("status") == 409 else failures).append(detail)
            if failures:
                raise helpers.BulkIndexError(f"{len(failures)} document(s) failed to index", failures)
        # Someone else wrote these since our mget: apply ours on top of theirs, one by one.
        redo = {d["_id"] for d in conflicts}
        for p in prepared:
            if p["id"] in redo:
                self.upsert(p)
        return results

    def _modify(self, item_id: str, action: str, change) -> dict:
        """Read the item, ``change(doc)`` it in place and write it back conditionally on the
        version read (retrying when another writer got in between); searchable at once."""
        self._ensure()
        with self._errors(action):
            for _ in range(_CONFLICT_RETRIES):
                try:
                    found = self.client.get(index=self.items_index, id=item_id)
                except ESNotFoundError:
                    raise NotFoundError(f"no item with id {item_id!r}") from None
                doc = found["_source"]
                change(doc)
                try:
                    self.client.index(index=self.items_index, id=item_id, document=doc, refresh="wait_for",
                                      if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"])
                    return _public(doc)
                except ConflictError:
                    continue
        raise StoreError(f"Elasticsearch at {self.url}: item {item_id} kept changing during {action}")

    def review(self, item_id: str, status: str, note: str = "", user: str = "",
               deadline: str | None = None) -> dict:
        """See :meth:`Store.review`; waits for the change to be searchable."""
        return self._modify(item_id, "review", review_change(status, note, user, deadline))

    def add_note(self, item_id: str, text: str, user: str = "") -> dict:
        """See :meth:`Store.add_note`; searchable at once, like a review."""
        def change(doc: dict) -> None:
            doc["notes"] = list(doc.get("notes") or []) + [{"at": now_iso(), "user": user, "text": text}]

        return self._modify(item_id, "adding a note", change)

    def _hits(self, action: str, **search) -> tuple[int, list[dict]]:
        self._ensure()
        with self._errors(action):
            found = self.client.search(index=self.items_index, source_excludes=list(INTERNAL[:3]),
                                       track_total_hits=True, **search)
        return found["hits"]["total"]["value"], [_public(h["_source"]) for h in found["hits"]["hits"]]

    def cluster_items(self, cluster: str, limit: int = 50) -> list[dict]:
        """See :meth:`Store.cluster_items`."""
        if not cluster:
            return []
        return self._hits("listing a cluster", query={"term": {"cluster": cluster}}, size=limit,
                          sort=[{"last_seen": "desc"}, {"id": "asc"}])[1]

    def review_queue(self, limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
        """See :meth:`Store.review_queue`."""
        query = {"bool": {"filter": [{"term": {"flagged": True}}, {"term": {"status": "new"}}]}}
        return self._hits("reading the review queue", query=query, from_=offset, size=limit,
                          sort=[{"first_seen": "asc"}, {"id": "asc"}])

    def contacts(self, limit: int = 1000) -> list[dict]:
        """See :meth:`Store.contacts`: a terms aggregation on the contact values of flagged
        items, with each value's sites, first and last sighting and one item's contacts (its kind)."""
        self._ensure()
        aggs = {"values": {"terms": {"field": "contact_values", "size": limit,
                                     "order": [{"_count": "desc"}, {"_key": "asc"}]},
                           "aggs": {"sites": {"terms": {"field": "site", "size": 100}},
                                    "first": {"min": {"field": "first_seen"}},
                                    "last": {"max": {"field": "last_seen"}},
                                    "sample": {"top_hits": {"size": 1, "_source": ["contacts"]}}}}}
        with self._errors("listing contacts"):
            found = self.client.search(index=self.items_index, query={"term": {"flagged": True}}, size=0, aggs=aggs)
        out = []
        for b in found["aggregations"]["values"]["buckets"]:
            sample = b["sample"]["hits"]["hits"]
            contacts = sample[0]["_source"].get("contacts") or {} if sample else {}
            out.append({"value": b["key"], "kind": contact_kind(b["key"], contacts), "items": b["doc_count"],
                        "sites": sorted(s["key"] for s in b["sites"]["buckets"]),
                        "first_seen": _iso(b["first"]), "last_seen": _iso(b["last"])})
        return out

    def stats(self, since: str) -> dict:
        """See :meth:`Store.stats`."""
        self._ensure()
        start = since_prefix(since) + "Z"
        aggs = {"flagged": {"filter": {"term": {"flagged": True}},
                            "aggs": {"status": {"terms": {"field": "status", "size": 20}},
                                     "new": {"filter": {"range": {"first_seen": {"gte": start}}},
                                             "aggs": {"labels": {"terms": {"field": "labels", "size": 50}}}}}}}
        with self._errors("counting"):
            found = self.client.search(index=self.items_index, size=0, aggs=aggs, track_total_hits=True)
        flagged = found["aggregations"]["flagged"]
        buckets = lambda agg: {b["key"]: b["doc_count"] for b in agg["buckets"]}  # noqa: E731
        return {"items": found["hits"]["total"]["value"], "flagged": flagged["doc_count"],
                "status": facet_order.ordered("status", buckets(flagged["status"])),
                "new_flagged": flagged["new"]["doc_count"],
                "new_by_category": facet_order.ordered("category", buckets(flagged["new"]["labels"]))}

    def record_run(self, run: dict) -> None:
        """See :meth:`Store.record_run`."""
        run = dict(run)
        run.setdefault("started", now_iso())
        self._ensure()
        with self._errors("recording a run"):
            self.client.index(index=self.runs_index, document=run)

    # -- custody log -------------------------------------------------------------------

    def _ensure_custody(self) -> None:
        if self._custody_ready:
            return
        with self._errors("creating the custody index"):
            if not self.client.indices.exists(index=self.custody_index):
                try:
                    self.client.indices.create(index=self.custody_index, mappings=CUSTODY_MAPPING)
                except ApiError as e:
                    if "already_exists" not in str(e):
                        raise
        self._custody_ready = True

    def custody_tail(self) -> dict | None:
        """See :meth:`Store.custody_tail`."""
        self._ensure_custody()
        with self._errors("reading the custody log"):
            found = self.client.search(index=self.custody_index, sort=[{"seq": "desc"}], size=1)
        hits = found["hits"]["hits"]
        return {"seq": hits[0]["_source"]["seq"], "doc": hits[0]["_source"]["doc"]} if hits else None

    def custody_add(self, seq: int, doc: str) -> bool:
        """See :meth:`Store.custody_add`; visible to the next tail read at once."""
        self._ensure_custody()
        with self._errors("appending to the custody log"):
            try:
                self.client.create(index=self.custody_index, id=str(seq), document={"seq": seq, "doc": doc},
                                   refresh="wait_for")
            except ConflictError:
                return False
        return True

    def custody_entries(self, after: int = 0):
        """See :meth:`Store.custody_entries` (pages of 1,000, each starting past the last seq read)."""
        self._ensure_custody()
        last = after
        while True:
            with self._errors("reading the custody log"):
                found = self.client.search(index=self.custody_index, query={"range": {"seq": {"gt": last}}},
                                           sort=[{"seq": "asc"}], size=1000)
            hits = found["hits"]["hits"]
            if not hits:
                return
            for hit in hits:
                yield {"seq": hit["_source"]["seq"], "doc": hit["_source"]["doc"]}
            last = hits[-1]["_source"]["seq"]

    # -- reading -----------------------------------------------------------------------

    def get(self, item_id: str) -> dict | None:
        """See :meth:`Store.get`."""
        self._ensure()
        with self._errors("get"):
            try:
                return _public(self.client.get(index=self.items_index, id=item_id)["_source"])
            except ESNotFoundError:
                return None

    def runs(self, since: str | None = None, source: str | None = None) -> list[dict]:
        """See :meth:`Store.runs` (at most 10,000, the newest)."""
        self._ensure()
        filters = []
        if since:
            filters.append({"range": {"started": {"gte": since}}})
        if source:
            filters.append({"term": {"source": source}})
        with self._errors("listing runs"):
            found = self.client.search(index=self.runs_index, query={"bool": {"filter": filters}},
                                       sort=[{"started": "desc"}], size=10_000)
        return [hit["_source"] for hit in found["hits"]["hits"]]

    def search(self, query: Query) -> SearchResult:
        """See :meth:`Store.search` (pages end at Elasticsearch's 10,000-hit window)."""
        query.check()
        self._ensure()
        tokens = query_tokens(query.text)
        filters = []
        if not query.include_all:
            filters.append({"term": {"flagged": True}})
        for name, field in (("category", "labels"), ("status", "status"), ("site", "site"), ("source", "source")):
            if getattr(query, name):
                filters.append({"term": {field: getattr(query, name)}})
        if query.contact:
            filters.append({"term": {"contact_values": query.contact.strip().lower()}})
        gte, lt = time_bounds(query.since, query.until)
        if gte is not None or lt is not None:
            bounds = {"format": "epoch_millis"}
            if gte is not None:
                bounds["gte"] = gte
            if lt is not None:
                bounds["lt"] = lt
            filters.append({"range": {"fetched_at": bounds}})
        # Every query word must occur, in the title or in the text.
        must = [{"multi_match": {"query": t, "fields": ["title_tokens^2", "text_tokens"]}} for t in tokens]
        if query.sort == "time":
            sort = [{"last_seen": "desc"}, {"id": "desc"}]
        else:
            sort = [{"score": "desc"}] + (["_score"] if tokens else []) + [{"last_seen": "desc"}, {"id": "desc"}]
        aggs = {name: {"terms": {"field": field, "size": FACET_SIZE}} for name, field in _FACET_FIELDS.items()}
        with self._errors("search"):
            found = self.client.search(
                index=self.items_index, query={"bool": {"must": must, "filter": filters}},
                from_=query.offset, size=query.limit, sort=sort, aggs=aggs, track_total_hits=True,
                source_excludes=list(INTERNAL[:3]))
        items = []
        for hit in found["hits"]["hits"]:
            item = _public(hit["_source"])
            item["highlight"] = snippet(item.get("text") or "", query.text, item.get("hits") or [])
            items.append(item)
        facets = {}
        for name in FACETS:
            buckets = found["aggregations"][name]["buckets"]
            facets[name] = facet_order.ordered(name, {str(b["key"]): b["doc_count"] for b in buckets})
        return SearchResult(total=found["hits"]["total"]["value"], items=items, facets=facets)


def _iso(agg: dict) -> str | None:
    """A min/max aggregation on a date as a stored-style UTC time (None for no value)."""
    text = agg.get("value_as_string")
    if text:
        return text
    if agg.get("value") is None:
        return None
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(agg["value"] / 1000, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _reason(e: ApiError) -> str:
    try:
        return e.body["error"]["reason"]
    except (TypeError, KeyError):
        return ""
