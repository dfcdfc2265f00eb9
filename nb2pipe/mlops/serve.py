"""The HTTP prediction API of ``nb2pipe serve`` (FastAPI; ``pip install 'nb2pipe[serve]'``).

Endpoints: ``POST /predict`` (``{"records": [...]}`` or ``{"columns": {...}}``, with
``"proba": true`` for class probabilities), ``POST /feedback`` (labels for prediction ids),
``GET /health``, ``GET /model``, and the OpenAPI document (``/docs``, ``/openapi.json``).

* Requests are checked against the version's feature schema (:mod:`.schema`): a bad one is
  a 422 naming the field, a batch over ``max_batch`` rows (or a body over ``max_body``
  bytes) a 413 saying the limit; never a 500 with a traceback.
* Every prediction is in the prediction log, committed, before its response is sent
  (:class:`~.predlog.GroupWriter`); a response the log could not take is a 503.
* Serving ``NAME`` (or ``NAME:ALIAS``) follows the alias: a background task reads it every
  ``poll`` seconds (one small file for the local registry, one request for MLflow), loads
  a new version aside and swaps it in with one assignment. A request uses the version it
  started with to the end; every response names the version that answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from nb2pipe.mlops import schema as schemas
from nb2pipe.mlops.batching import Batcher
from nb2pipe.mlops.predlog import GroupWriter, Prediction, open_log

CONFIG_ENV = "NB2PIPE_SERVE_CONFIG"


@dataclass
class ServeConfig:
    ref: str  # NAME, NAME:VERSION or NAME:ALIAS
    runs_dir: str = "runs"
    registry: str | None = None
    tracking: str | None = None
    tracking_uri: str | None = None
    log_url: str | None = None
    poll: float = 2.0  # seconds between two reads of the alias
    max_batch: int = 10_000  # rows per request
    max_body: int = 64 * 2**20  # bytes per request
    batching: bool = True  # concurrent requests predicted in one call (see .batching)
    fsync: bool = True  # SQLite log: each commit on disk (False: in the OS, see .predlog)
    redact: list[str] = field(default_factory=list)  # features never logged

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        return cls(**json.loads(os.environ[CONFIG_ENV]))


@dataclass(frozen=True)
class Loaded:
    """One version, ready to answer: swapped as a whole."""

    version: Any  # ModelVersion
    model: Any
    schema: dict[str, Any] | None
    secret: frozenset[str]
    proba: bool


class Service:
    def __init__(self, cfg: ServeConfig) -> None:
        from nb2pipe.mlops.registry import CHAMPION, open_registry, parse_ref

        self.cfg = cfg
        self.registry = open_registry(
            cfg.tracking, registry=cfg.registry, runs_dir=cfg.runs_dir, uri=cfg.tracking_uri
        )
        self.name, version = parse_ref(cfg.ref)
        self.pinned = version if isinstance(version, int) else None
        self.follow = None if self.pinned is not None else (version or CHAMPION)
        self.current = self.load(self.pinned if self.pinned is not None else self.follow)
        self.writer: GroupWriter | None = None
        self.batcher: Batcher | None = None
        self.on_swap: list[Any] = []

    def load(self, version: int | str | None) -> Loaded:
        mv = self.registry.get(self.name, version)
        model = self.registry.load(mv)
        schema = mv.schema or None
        names = [f["name"] for f in (schema or {}).get("features") or []]
        secret = {n for n in names if schemas.is_secret(n)} | set(self.cfg.redact)
        secret |= {f["name"] for f in (schema or {}).get("features") or [] if f.get("secret")}
        proba = callable(getattr(model, "predict_proba", None))
        return Loaded(mv, model, schema, frozenset(secret), proba)

    def start(self) -> None:
        self.writer = GroupWriter(
            open_log(self.cfg.log_url, self.cfg.runs_dir, fsync=self.cfg.fsync)
        )
        if self.cfg.batching:
            self.batcher = Batcher(_predict, max_rows=self.cfg.max_batch)

    def stop(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        if self.writer is not None:
            self.writer.close()

    async def predict(self, served: Loaded, columns: dict[str, list], n: int, proba: bool):
        if self.batcher is None:
            return _predict(served, columns, proba)
        return await asyncio.wrap_future(self.batcher.submit(served, columns, n, proba))

    async def watch(self) -> None:
        """Follow the alias: load a new version aside, then swap it in."""
        warned = False
        while True:
            await asyncio.sleep(self.cfg.poll)
            try:
                number = await asyncio.to_thread(
                    self.registry.alias_version, self.name, self.follow
                )
                if number is None or number == self.current.version.version:
                    continue
                new = await asyncio.to_thread(self.load, number)
            except Exception as exc:  # noqa: BLE001 - keep serving the version we have
                if not warned:
                    say(f"cannot follow {self.name}:{self.follow}: {' '.join(str(exc).split())}")
                warned = True
                continue
            warned = False
            old, self.current = self.current, new
            for fn in self.on_swap:
                fn(new)
            say(f"now serving {new.version.label} (was {old.version.label})")


def say(text: str) -> None:
    print(f"[nb2pipe serve] {text}", file=sys.stderr, flush=True)


def _dump(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    body = json.dumps(value, default=str, allow_nan=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _error(status: int, message: str, detail: Any = None) -> Any:
    out: dict[str, Any] = {"error": message}
    if detail is not None:
        out["detail"] = detail
    return _dump(out, status)


class Refused(Exception):
    """A request answered with an error before it reaches the model (control flow inside
    the server: the response is the error the client sees)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = _error(status, message)


async def _body(request: Any, limit: int) -> Any:
    """The JSON object or list in the body; Refused: 413 over ``limit`` bytes, 422 else."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > limit:
        raise Refused(413, f"the body is {size} bytes, more than the limit of {limit} bytes")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise Refused(413, f"the body is more than the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise Refused(422, f"the body is not JSON: {exc}") from None
    if not isinstance(body, (dict, list)):
        raise Refused(422, "the body must be a JSON object")
    return body


def _predict(served: Loaded, columns: dict[str, list], want_proba: bool) -> tuple[list, Any]:
    x = schemas.frame(served.schema, columns)
    model = served.model
    if callable(getattr(model, "predict", None)):
        y = model.predict(x)
    elif callable(model):
        y = model(x)
    else:
        raise TypeError(f"a {type(model).__name__} has no predict method")
    proba = model.predict_proba(x) if want_proba else None
    return _tolist(y), (_tolist(proba) if proba is not None else None)


def _tolist(values: Any) -> list:
    tolist = getattr(values, "tolist", None)
    return tolist() if callable(tolist) else list(values)


def _rows(served: Loaded, columns: dict[str, list], n: int) -> list[str]:
    kept = [k for k in columns if k not in served.secret]
    return [json.dumps({k: columns[k][i] for k in kept}, default=str) for i in range(n)]


def _labels(body: Any, limit: int) -> list[tuple[str, Any]]:
    if isinstance(body, dict) and "labels" not in body:
        body = [body]
    elif isinstance(body, dict):
        body = body["labels"]
    if not isinstance(body, list) or not body:
        raise schemas.RequestError(
            [schemas._err((), 'give {"labels": [{"id": ..., "label": ...}, ...]}')]
        )
    if len(body) > limit:
        msg = f"{len(body)} labels is more than the limit of {limit} per request (--max-batch)"
        raise schemas.RequestError([schemas._err((), msg, "too_large")], status=413)
    out, errors = [], []
    for i, item in enumerate(body):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            errors.append(schemas._err(("labels", i, "id"), "a prediction id (string) is required"))
        elif item.get("label") is None:
            errors.append(schemas._err(("labels", i, "label"), "a label (not null) is required"))
        else:
            out.append((item["id"], item["label"]))
    if errors:
        raise schemas.RequestError(errors[: schemas.MAX_ERRORS])
    return out


def _openapi_body(served: Loaded, max_batch: int) -> dict[str, Any]:
    kinds = {"number": "number", "integer": "integer", "boolean": "boolean", "string": "string"}
    features = (served.schema or {}).get("features") or []
    props = {
        f["name"]: {"type": kinds.get(f.get("type"), "string"), "nullable": f.get("nullable")}
        for f in features
    }
    record = {"type": "object", "properties": props, "required": list(props)}
    record["additionalProperties"] = not props
    body = {
        "type": "object",
        "properties": {
            "records": {"type": "array", "items": record, "maxItems": max_batch},
            "columns": {"type": "object"},
            "proba": {"type": "boolean", "default": False},
        },
    }
    content: dict[str, Any] = {"schema": body}
    if served.schema:
        content["example"] = {"records": [schemas.example(served.schema, None)]}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


def create_app(cfg: ServeConfig, service: Service | None = None) -> Any:
    svc = service or Service(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        svc.start()
        task = asyncio.create_task(svc.watch()) if svc.follow else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            await asyncio.to_thread(svc.stop)

    first = svc.current.version
    app = FastAPI(
        title=f"nb2pipe: {svc.name}",
        version=str(first.version),
        description=f"Predictions of the registered model {svc.name} "
        + (f"(following {svc.follow})" if svc.follow else f"(version {svc.pinned})"),
        lifespan=lifespan,
    )

    @app.post("/predict", openapi_extra=_openapi_body(svc.current, cfg.max_batch))
    async def predict(request: Request) -> Any:
        """Predictions for records or columns; each one logged before the answer."""
        started = time.perf_counter()
        served = svc.current  # this request's version, whatever happens meanwhile
        try:
            body = await _body(request, cfg.max_body)
            columns, n, outside = schemas.parse(served.schema, body, max_rows=cfg.max_batch)
        except Refused as exc:
            return exc.response
        except schemas.RequestError as exc:
            return _dump(exc.to_json(), exc.status)
        want_proba = bool(isinstance(body, dict) and body.get("proba")) and served.proba
        try:
            y, proba = await svc.predict(served, columns, n, want_proba)
        except Exception as exc:  # noqa: BLE001 - the model refused these inputs
            text = " ".join(str(exc).split())[:300]
            return _error(
                422, f"the model cannot predict these inputs: {type(exc).__name__}: {text}"
            )
        latency = (time.perf_counter() - started) * 1000
        mv = served.version
        ids = [uuid.uuid4().hex for _ in range(n)]
        now = time.time()
        features = _rows(served, columns, n)
        rows = [
            Prediction(ids[i], now, mv.name, mv.version, features[i],
                       json.dumps({"prediction": y[i], **({"proba": proba[i]} if proba else {})},
                                  default=str),
                       latency)
            for i in range(n)
        ]  # fmt: skip
        try:
            await asyncio.wrap_future(svc.writer.predictions(rows))  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - not logged, so not acknowledged
            return _error(503, f"the prediction could not be logged: {exc}")
        out: dict[str, Any] = {"model": mv.name, "version": mv.version, "ids": ids,
                               "predictions": y}  # fmt: skip
        if proba is not None:
            out["probabilities"] = proba
            out["classes"] = _tolist(getattr(served.model, "classes_", []))
        if outside:
            out["outside_training_range"] = outside
        return _dump(out, headers={"X-Model-Version": str(mv.version)})

    @app.post("/feedback")
    async def feedback(request: Request) -> Any:
        """Ground-truth labels for earlier predictions: late, partial or repeated (the
        latest label counts)."""
        try:
            labels = _labels(await _body(request, cfg.max_body), cfg.max_batch)
        except Refused as exc:
            return exc.response
        except schemas.RequestError as exc:
            return _dump(exc.to_json(), exc.status)
        try:
            unknown = await asyncio.wrap_future(svc.writer.labels(labels))  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001
            return _error(503, f"the labels could not be logged: {exc}")
        if len(unknown) == len(labels):
            return _error(404, "no prediction has these ids", {"unknown": unknown})
        return _dump({"accepted": len(labels) - len(unknown), "unknown": unknown})

    @app.get("/health")
    async def health() -> Any:
        mv = svc.current.version
        return _dump({"status": "ok", "model": mv.name, "version": mv.version})

    @app.get("/model")
    async def model() -> Any:
        """The version answering now: run, parameters, metrics, feature schema."""
        mv = svc.current.version
        return _dump(
            {
                "name": mv.name,
                "version": mv.version,
                "follows": svc.follow,
                "aliases": mv.aliases,
                "created": mv.created,
                "run_id": mv.run_id,
                "pipeline": mv.pipeline,
                "parameters": mv.parameters,
                "metrics": mv.metrics,
                "primary": mv.primary,
                "schema": mv.schema,
                "predict_proba": svc.current.proba,
            }
        )

    def refresh_docs(new: Loaded) -> None:
        for route in app.routes:
            if getattr(route, "path", "") == "/predict":
                route.openapi_extra = _openapi_body(new, cfg.max_batch)  # type: ignore[attr-defined]
        app.openapi_schema = None
        app.version = str(new.version.version)

    svc.on_swap.append(refresh_docs)
    return app


def app_from_env() -> Any:
    """The factory each uvicorn worker process calls (``--workers N``)."""
    return create_app(ServeConfig.from_env())
