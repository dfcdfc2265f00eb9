"""The MLflow backend: runs go to an MLflow tracking server, models to its model registry.

``mlflow`` is imported when this backend is opened, never by the rest of nb2pipe
(``pip install 'nb2pipe[mlflow]'``). The server is ``--tracking-uri``, else
``$MLFLOW_TRACKING_URI`` (any URI MLflow accepts: ``http://host:5000``,
``sqlite:///mlflow.db``, a folder).

Each nb2pipe run becomes an MLflow run in the experiment named after the pipeline, tagged
``nb2pipe.run_id``, with its parameters, metrics, ``run.json``, ``metrics.json`` and step
logs. Each model version's files live in that run under ``nb2pipe-models/<name>/``: the
artifact as nb2pipe stored it (``model.<fmt>``), ``version.json`` (parameters, metrics,
data and code hashes) and ``reference.json`` (for ``nb2pipe drift``), beside an MLflow
model of it (``MLmodel``: the sklearn flavour for scikit-learn estimators, else a pyfunc
wrapper; see :mod:`nb2pipe.mlops.flavor`), so ``mlflow.pyfunc.load_model`` and ``mlflow
models serve`` take ``models:/<name>@champion``. The registered version points there and
carries the main facts as tags (``nb2pipe.*``). The pointer to the current version is
the alias ``champion`` (MLflow reserves ``latest``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from nb2pipe.mlops.registry import (
    CHAMPION,
    URI_ENV,
    Candidate,
    ModelVersion,
    Registered,
    Registry,
    RegistryError,
    check_name,
)
from nb2pipe.runtime import formats
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.hashing import matches

FOLDER = "nb2pipe-models"
_PARAM_MAX = 500  # MLflow's limit on a parameter value's length (older servers)


def _import_mlflow() -> Any:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # a server that goes away fails within seconds, not after minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    try:
        import mlflow
    except ImportError:
        raise UsageError(
            "--tracking mlflow needs the mlflow package: pip install 'nb2pipe[mlflow]'"
        ) from None
    for name in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return mlflow


@contextlib.contextmanager
def _quiet() -> Any:
    """MLflow prints links and progress bars: keep them out of the run's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _version_number(v: Any) -> int:
    return int(v.version)


class MlflowRegistry(Registry):
    kind = "mlflow"

    @classmethod
    def open(
        cls,
        *,
        registry: str | os.PathLike[str] | None,
        runs_dir: str | os.PathLike[str] | None,
        uri: str | None,
    ) -> MlflowRegistry:
        from nb2pipe.runtime.project import setting

        return cls(uri or os.environ.get(URI_ENV) or setting("tracking_uri") or None)

    def __init__(self, uri: str | None = None) -> None:
        self.mlflow = _import_mlflow()
        from mlflow import MlflowClient

        self.uri = uri or self.mlflow.get_tracking_uri()
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        self.run_id: str | None = None  # the MLflow run of the nb2pipe run being finished

    def describe(self) -> str:
        return f"MLflow at {self.uri}"

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            with _quiet():
                return fn(*args, **kwargs)
        except RegistryError:
            raise
        except Exception as exc:  # noqa: BLE001 - MlflowException, connection errors, ...
            text = " ".join(str(exc).split())[:300]
            raise RegistryError(f"MLflow ({self.uri}): {what} failed: {text}") from None

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, record: dict[str, Any], run_dir: Path) -> None:
        pipeline = str(record.get("pipeline") or "nb2pipe")
        exp = self._call("reading the experiment", self.client.get_experiment_by_name, pipeline)
        exp_id = (
            exp.experiment_id
            if exp is not None
            else self._call("creating the experiment", self.client.create_experiment, pipeline)
        )
        tags = {
            "nb2pipe.run_id": str(record.get("run_id")),
            "nb2pipe.pipeline": pipeline,
            "nb2pipe.status": str(record.get("status")),
            "nb2pipe.notebook_sha256": str(record.get("notebook_sha256") or ""),
        }
        run = self._call(
            "creating the run",
            self.client.create_run,
            exp_id,
            run_name=str(record.get("run_id")),
            tags=tags,
        )
        self.run_id = run.info.run_id
        from mlflow.entities import Metric, Param

        params = [
            Param(k, json.dumps(v) if not isinstance(v, str) else v)
            for k, v in (record.get("parameters") or {}).items()
        ]
        params = [Param(p.key, p.value[:_PARAM_MAX]) for p in params]
        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), now, 0)
            for k, v in (record.get("metrics") or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        self._call(
            "logging the run", self.client.log_batch, self.run_id, metrics=metrics, params=params
        )

    def end_run(self, record: dict[str, Any], run_dir: Path) -> None:
        if self.run_id is None:
            return
        for name in ("run.json", "metrics.json"):
            if (run_dir / name).is_file():
                self._call(
                    "logging " + name, self.client.log_artifact, self.run_id, str(run_dir / name)
                )
        if (run_dir / "logs").is_dir():
            self._call(
                "logging the logs",
                self.client.log_artifacts,
                self.run_id,
                str(run_dir / "logs"),
                "logs",
            )
        status = {"ok": "FINISHED", "interrupted": "KILLED"}.get(
            str(record.get("status")), "FAILED"
        )
        self._call(
            "tagging the run",
            self.client.set_tag,
            self.run_id,
            "nb2pipe.status",
            str(record.get("status")),
        )
        self._call("ending the run", self.client.set_terminated, self.run_id, status)

    # -- models -----------------------------------------------------------------------------

    def _from_mlflow(self, v: Any, aliases: list[str] | None = None) -> ModelVersion:
        tags = dict(v.tags or {})
        meta: dict[str, Any] = {}
        try:
            meta = json.loads(tags.get("nb2pipe.meta", "{}"))
        except ValueError:
            meta = {}
        mv = ModelVersion.from_json({**meta, "name": v.name, "version": _version_number(v)})
        mv.aliases = sorted(
            aliases if aliases is not None else list(getattr(v, "aliases", []) or [])
        )
        mv.source = str(v.source)
        mv.extra = {"mlflow_run_id": v.run_id, "status": str(v.status)}
        if tags.get("nb2pipe.mlflow_flavor"):
            mv.extra["mlflow_flavor"] = tags["nb2pipe.mlflow_flavor"]
        return mv

    def _full(self, mv: ModelVersion) -> ModelVersion:
        """The version with the record stored next to its artifact (tags hold a summary)."""
        data = self._download_json(mv, "version.json")
        if isinstance(data, dict):
            full = ModelVersion.from_json({**data, "name": mv.name, "version": mv.version})
            full.aliases, full.source, full.extra = mv.aliases, mv.source, mv.extra
            return full
        return mv

    def models(self) -> list[str]:
        found = self._call("listing models", self.client.search_registered_models)
        return sorted(m.name for m in found)

    def versions(self, name: str) -> list[ModelVersion]:
        check_name(name)
        model = self._registered(name)
        aliases: dict[int, list[str]] = {}
        for alias, number in (getattr(model, "aliases", None) or {}).items():
            aliases.setdefault(int(number), []).append(alias)
        found = self._call(
            "listing versions", self.client.search_model_versions, f"name = '{name}'"
        )
        out = [self._from_mlflow(v, aliases.get(_version_number(v), [])) for v in found]
        return sorted(out, key=lambda v: v.version)

    def _registered(self, name: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            with _quiet():
                return self.client.get_registered_model(name)
        except MlflowException as exc:
            if (
                "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", ""))
                or "not found" in str(exc).lower()
            ):
                raise RegistryError(f"no model {name!r} in MLflow at {self.uri}") from None
            raise RegistryError(
                f"MLflow ({self.uri}): {' '.join(str(exc).split())[:300]}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - connection refused, ...
            raise RegistryError(
                f"MLflow ({self.uri}): {' '.join(str(exc).split())[:300]}"
            ) from None

    def get(self, name: str, version: int | str | None = None) -> ModelVersion:
        check_name(name)
        self._registered(name)
        if isinstance(version, int):
            v = self._call(
                f"reading {name}:{version}", self.client.get_model_version, name, str(version)
            )
        else:
            alias = version or CHAMPION
            try:
                with _quiet():
                    v = self.client.get_model_version_by_alias(name, alias)
            except Exception:  # noqa: BLE001 - no such alias
                versions = self.versions(name)
                if version is None and versions:
                    return self._full(versions[-1])
                raise RegistryError(f"model {name!r} has no version called {alias!r}") from None
        number = _version_number(v)
        aliases = [
            a
            for a, n in (getattr(self._registered(name), "aliases", None) or {}).items()
            if int(n) == number
        ]
        return self._full(self._from_mlflow(v, aliases))

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self._call(
            f"setting {alias} of {name}",
            self.client.set_registered_model_alias,
            name,
            alias,
            str(version),
        )

    def _download(self, mv: ModelVersion, filename: str, folder: str) -> Path:
        from mlflow.artifacts import download_artifacts

        path = self._call(
            f"downloading {mv.label}/{filename}",
            download_artifacts,
            artifact_uri=f"{mv.source}/{filename}",
            dst_path=folder,
            tracking_uri=self.uri,
        )
        return Path(path)

    def _download_json(self, mv: ModelVersion, filename: str) -> Any:
        with tempfile.TemporaryDirectory(prefix="nb2pipe-mlflow-") as folder:
            try:
                path = self._download(mv, filename, folder)
                return json.loads(path.read_text(encoding="utf-8"))
            except (RegistryError, OSError, ValueError):
                return None

    def load(self, version: ModelVersion) -> Any:
        fmt = str(version.artifact.get("format", ""))
        if not formats.known(fmt):
            raise RegistryError(
                f"{version.label} was not registered by nb2pipe (no artifact format)"
            )
        with tempfile.TemporaryDirectory(prefix="nb2pipe-mlflow-") as folder:
            data = self._download(version, f"model.{fmt}", folder).read_bytes()
        if not matches(data, str(version.artifact.get("hash"))):
            raise RegistryError(f"{version.label}: the downloaded model does not match its hash")
        return formats.decode(data, fmt)

    def reference(self, version: ModelVersion) -> dict[str, Any] | None:
        if not version.reference:
            return None
        data = self._download_json(version, "reference.json")
        return data if isinstance(data, dict) else None

    def alias_version(self, name: str, alias: str = CHAMPION) -> int | None:
        try:
            with _quiet():
                return _version_number(self.client.get_model_version_by_alias(name, alias))
        except Exception:  # noqa: BLE001 - no such model or alias
            return None

    def _flavor(self, folder: Path, candidate: Candidate, fmt: str) -> str:
        """The MLflow model of the version (sklearn flavour, else a pyfunc wrapper) in
        ``folder``; a model MLflow cannot save is still registered, without it."""
        try:
            model = formats.decode(candidate.artifact_path.read_bytes(), fmt)
            quiet = contextlib.redirect_stderr(io.StringIO())  # MLflow's notes, forced shown
            with _quiet(), quiet, warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
                warnings.simplefilter("ignore")
                from nb2pipe.mlops import flavor

                artifact = Path(tmp) / f"model.{fmt}"
                artifact.write_bytes(candidate.artifact_path.read_bytes())
                return flavor.save(
                    folder, model, artifact, candidate.meta.schema, candidate.reference
                )
        except Exception as exc:  # noqa: BLE001 - MLflow's own files are a bonus
            folder.mkdir(parents=True, exist_ok=True)
            return f"none ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"

    def register(self, candidate: Candidate, *, alias: str | None = CHAMPION) -> Registered:
        meta = candidate.meta
        name = check_name(meta.name)
        try:
            existing = self.versions(name)
        except RegistryError as exc:
            if "no model" not in str(exc):
                raise
            self._call("creating the model", self.client.create_registered_model, name)
            existing = []
        reused = self._reuse(existing, candidate, alias)
        if reused is not None:
            return reused
        if self.run_id is None:
            raise RegistryError("MLflow: a model is registered within a run (start_run first)")
        candidate.complete()
        meta.extra = {"mlflow_run_id": self.run_id}
        path = f"{FOLDER}/{name}"
        fmt = str(meta.artifact["format"])
        with tempfile.TemporaryDirectory(prefix="nb2pipe-mlflow-") as tmp:
            folder = Path(tmp) / "model"
            meta.extra["mlflow_flavor"] = self._flavor(folder, candidate, fmt)
            (folder / f"model.{fmt}").write_bytes(candidate.artifact_path.read_bytes())
            (folder / "version.json").write_text(json.dumps(meta.to_json(), default=str))
            if candidate.reference is not None:
                (folder / "reference.json").write_text(json.dumps(candidate.reference, default=str))
            self._call(
                "uploading the model", self.client.log_artifacts, self.run_id, str(folder), path
            )
        run = self._call("reading the run", self.client.get_run, self.run_id)
        summary = {
            k: meta.to_json()[k]
            for k in (
                "run_id",
                "pipeline",
                "step",
                "variable",
                "artifact",
                "metrics",
                "reference",
                "created",
            )
        }
        tags = {
            "nb2pipe.run_id": meta.run_id,
            "nb2pipe.artifact_hash": str(meta.artifact.get("hash")),
            "nb2pipe.code": str(meta.code.get("digest", "")),
            "nb2pipe.mlflow_flavor": str(meta.extra.get("mlflow_flavor", ""))[:250],
            "nb2pipe.meta": json.dumps(summary, default=str)[:4900],
        }
        v = self._call(
            "registering the version",
            self.client.create_model_version,
            name,
            source=f"{run.info.artifact_uri}/{path}",
            run_id=self.run_id,
            tags=tags,
            description=f"nb2pipe run {meta.run_id} of pipeline {meta.pipeline}, step {meta.step}",
        )
        if alias is not None:
            self.set_alias(name, alias, _version_number(v))
        return Registered(self.get(name, _version_number(v)), new=True)
