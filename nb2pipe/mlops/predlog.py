"""The prediction log: every prediction the server answered, and the labels that came back.

Two backends share one small interface (:class:`PredictionLog`):

* SQLite in WAL mode (the default): ``<runs-dir>/predictions.db``, ``synchronous=FULL``
  (a commit is on disk when ``write`` returns; ``fsync=False``: ``NORMAL``, a commit is
  in the operating system's hands, which survives a killed server but not a power cut);
  several server processes may write it.
* PostgreSQL (``--log-url postgresql://...``): for replicas on several hosts (psycopg).

Tables: ``predictions(seq, id, ts, model, version, features, output, latency_ms)``
(features and output are JSON text; ``seq`` keeps the order of a batch) and
``labels(seq, id, ts, label)``, append-only: a prediction may be labelled late, or
several times (the latest label counts).

:class:`GroupWriter` is what the server uses: one thread takes whatever requests queued up
while the previous commit was on its way to disk and commits them in one transaction
(group commit), then tells each request it is durable; only then is the response sent.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2pipe.runtime.errors import Nb2pipeError

DEFAULT_NAME = "predictions.db"
_CHUNK = 500
_COLUMNS = "(id, ts, model, version, features, output, latency_ms)"


class LogError(Nb2pipeError):
    """The log cannot be opened or written (exit 2 from a command)."""


@dataclass(frozen=True)
class Prediction:
    id: str
    ts: float  # seconds since the epoch
    model: str
    version: int
    features: str  # JSON object, secrets left out
    output: str  # JSON object: {"prediction": ...} (+ "proba")
    latency_ms: float

    def row(self) -> tuple[Any, ...]:
        return (
            self.id, self.ts, self.model, self.version, self.features, self.output,
            self.latency_ms,
        )  # fmt: skip


@dataclass
class Logged:
    """A prediction read back, with its latest label (``labelled`` says whether it has one)."""

    id: str
    ts: float
    model: str
    version: int
    features: dict[str, Any]
    output: dict[str, Any]
    latency_ms: float
    label: Any = None
    labelled: bool = False


class PredictionLog(ABC):
    url = ""
    placeholder = "?"  # the driver's parameter marker

    @abstractmethod
    def write(self, rows: Sequence[Prediction]) -> None:
        """Append rows in one transaction, durable when this returns."""

    @abstractmethod
    def label(self, labels: Sequence[tuple[str, Any]], ts: float) -> list[str]:
        """Attach labels to prediction ids (durable on return); returns the unknown ids."""

    @abstractmethod
    def _select(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def close(self) -> None: ...

    def read(self, model: str, since: float | None = None) -> list[Logged]:
        """The model's predictions, oldest first, each with its latest label."""
        p = self.placeholder
        where, args = f"model = {p}", [model]
        if since is not None:
            where += f" AND ts >= {p}"
            args.append(since)
        rows = self._select(
            "SELECT id, ts, model, version, features, output, latency_ms FROM predictions "
            f"WHERE {where} ORDER BY ts, seq",
            args,
        )
        labels = dict(
            self._select(
                "SELECT l.id, l.label FROM labels l JOIN predictions p ON p.id = l.id "
                f"WHERE p.model = {p} ORDER BY l.seq",
                [model],
            )
        )
        out = []
        for id_, ts, name, version, features, output, latency in rows:
            item = Logged(id_, float(ts), name, int(version), json.loads(features),
                          json.loads(output), float(latency))  # fmt: skip
            if id_ in labels:
                item.label, item.labelled = json.loads(labels[id_]), True
            out.append(item)
        return out

    def models(self) -> list[str]:
        return [r[0] for r in self._select("SELECT DISTINCT model FROM predictions", [])]


class SqliteLog(PredictionLog):
    def __init__(self, path: str | Path, *, create: bool = True, fsync: bool = True) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        if not create and not self.path.is_file():
            raise LogError(f"no prediction log at {self.path} (start `nb2pipe serve` first)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            self.conn.executescript(
                "CREATE TABLE IF NOT EXISTS predictions (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " id TEXT NOT NULL UNIQUE, ts REAL NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, features TEXT NOT NULL,"
                " output TEXT NOT NULL, latency_ms REAL NOT NULL);"
                "CREATE INDEX IF NOT EXISTS predictions_model_ts ON predictions(model, ts);"
                "CREATE TABLE IF NOT EXISTS labels (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " id TEXT NOT NULL, ts REAL NOT NULL, label TEXT NOT NULL);"
                "CREATE INDEX IF NOT EXISTS labels_id ON labels(id);"
            )
        except (sqlite3.Error, OSError) as exc:
            raise LogError(f"cannot open the prediction log {self.path}: {exc}") from None
        self.lock = threading.Lock()

    def write(self, rows: Sequence[Prediction]) -> None:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany(
                    f"INSERT INTO predictions {_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [r.row() for r in rows],
                )
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def label(self, labels: Sequence[tuple[str, Any]], ts: float) -> list[str]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                known = self._known([i for i, _ in labels])
                self.conn.executemany(
                    "INSERT INTO labels (id, ts, label) VALUES (?, ?, ?)",
                    [(i, ts, json.dumps(v)) for i, v in labels if i in known],
                )
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        return [i for i, _ in labels if i not in known]

    def _known(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            part = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(part))
            sql = f"SELECT id FROM predictions WHERE id IN ({marks})"
            found.update(r[0] for r in self.conn.execute(sql, part))
        return found

    def _select(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.lock:
            return list(self.conn.execute(sql, list(args)))

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class PostgresLog(PredictionLog):
    placeholder = "%s"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise LogError(
                "--log-url postgresql://... needs psycopg: pip install 'nb2pipe[serve]'"
            ) from None
        self.url = _hide_password(url)
        try:
            self.conn = psycopg.connect(url, connect_timeout=10)
            with self.conn.transaction():
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS predictions (seq BIGSERIAL PRIMARY KEY,"
                    " id TEXT NOT NULL UNIQUE, ts DOUBLE PRECISION NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL,"
                    " features TEXT NOT NULL, output TEXT NOT NULL,"
                    " latency_ms DOUBLE PRECISION NOT NULL)"
                )
                self.conn.execute(
                    "CREATE INDEX IF NOT EXISTS predictions_model_ts ON predictions(model, ts)"
                )
                self.conn.execute(
                    "CREATE TABLE IF NOT EXISTS labels (seq BIGSERIAL PRIMARY KEY,"
                    " id TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL, label TEXT NOT NULL)"
                )
                self.conn.execute("CREATE INDEX IF NOT EXISTS labels_id ON labels(id)")
        except psycopg.Error as exc:
            text = " ".join(str(exc).split())[:300]
            raise LogError(f"cannot open the prediction log {self.url}: {text}") from None
        self.lock = threading.Lock()

    def write(self, rows: Sequence[Prediction]) -> None:
        with self.lock, self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO predictions {_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [r.row() for r in rows],
            )

    def label(self, labels: Sequence[tuple[str, Any]], ts: float) -> list[str]:
        ids = [i for i, _ in labels]
        with self.lock, self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT id FROM predictions WHERE id = ANY(%s)", [ids])
            known = {r[0] for r in cur.fetchall()}
            cur.executemany(
                "INSERT INTO labels (id, ts, label) VALUES (%s, %s, %s)",
                [(i, ts, json.dumps(v)) for i, v in labels if i in known],
            )
        return [i for i in ids if i not in known]

    def _select(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.lock, self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql, list(args))
            return list(cur.fetchall())

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def default_path(runs_dir: str | Path) -> Path:
    return Path(runs_dir) / DEFAULT_NAME


def open_log(
    url: str | None, runs_dir: str | Path = "runs", *, create: bool = True, fsync: bool = True
) -> PredictionLog:
    """``postgresql://...`` (or ``postgres://``), a ``sqlite:///path`` URL or a path; by
    default ``<runs_dir>/predictions.db``."""
    if url and url.startswith(("postgresql://", "postgres://")):
        return PostgresLog(url)
    if url and "://" in url and not url.startswith("sqlite:///"):
        raise LogError(f"--log-url {url!r}: use postgresql://..., sqlite:///PATH or a file path")
    path = url[len("sqlite:///") :] if url and url.startswith("sqlite:///") else url
    return SqliteLog(Path(path) if path else default_path(runs_dir), create=create, fsync=fsync)


# --- group commit -------------------------------------------------------------------------

_STOP = object()


class GroupWriter:
    """One thread that commits queued predictions (and labels) in batches: a request waits
    for at most one commit in progress plus its own."""

    def __init__(self, log: PredictionLog, max_batch: int = 4096) -> None:
        self.log = log
        self.max_batch = max_batch
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="nb2pipe-predlog", daemon=True)
        self.thread.start()

    def predictions(self, rows: Sequence[Prediction]) -> Future[None]:
        fut: Future[None] = Future()
        self.queue.put(("p", rows, fut))
        return fut

    def labels(self, labels: Sequence[tuple[str, Any]]) -> Future[list[str]]:
        fut: Future[list[str]] = Future()
        self.queue.put(("l", labels, fut))
        return fut

    def close(self) -> None:
        """Commit what is queued, then stop."""
        self.queue.put(_STOP)
        self.thread.join()
        self.log.close()

    def _drain(self, first: Any) -> tuple[list[Any], bool]:
        batch, stop, size = [first], False, len(first[1])
        while size < self.max_batch:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            batch.append(item)
            size += len(item[1])
        return batch, stop

    def _loop(self) -> None:
        while True:
            first = self.queue.get()
            if first is _STOP:
                return
            batch, stop = self._drain(first)
            self._commit([b for b in batch if b[0] == "p"])
            for _, labels, fut in (b for b in batch if b[0] == "l"):
                _settle(fut, lambda labels=labels: self.log.label(labels, time.time()))
            if stop:
                return

    def _commit(self, items: list[Any]) -> None:
        if not items:
            return
        rows = [r for _, part, _ in items for r in part]
        try:
            self.log.write(rows)
        except Exception as exc:  # noqa: BLE001 - every waiting request hears about it
            for _, _, fut in items:
                fut.set_exception(exc)
            return
        for _, _, fut in items:
            fut.set_result(None)


def _settle(fut: Future[Any], fn: Any) -> None:
    try:
        fut.set_result(fn())
    except Exception as exc:  # noqa: BLE001
        fut.set_exception(exc)
