"""The project a command works in: its root folder and its settings.

The root is found the way git, DVC and Kedro find theirs: the nearest folder, from the
start folder upward, that holds ``nb2pipe.toml``, ``pyproject.toml`` or ``.git``. Settings
come from ``nb2pipe.toml`` in the root, else from ``[tool.nb2pipe]`` in its
``pyproject.toml``::

    runs_dir = "runs"          # records, store and registry; relative to the root
    output = "pipelines"       # convert's default folder: <output>/<pipeline name>
    tracking = "local"         # or "mlflow"
    tracking_uri = "http://mlflow:5000"
    strict = false             # convert --strict; run refuses a stale package

The runs folder is, first that applies: ``--runs-dir``, ``$NB2PIPE_RUNS_DIR``, the
settings' ``runs_dir``, ``<root>/runs``, and ``./runs`` when no root is found. Light: the
runtime reads this at ``python -m`` time (tomllib, or tomli on Python 3.10).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.runtime.errors import UsageError

MARKERS = ("nb2pipe.toml", "pyproject.toml", ".git")
RUNS_ENV = "NB2PIPE_RUNS_DIR"
SETTINGS: dict[str, type] = {
    "runs_dir": str,
    "output": str,
    "tracking": str,
    "tracking_uri": str,
    "strict": bool,
}


@dataclass(frozen=True)
class Project:
    root: Path | None  # None: no marker above the start folder
    config: Path | None = None  # the file the settings came from
    settings: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.root is None:
            return "no project root found (no nb2pipe.toml, pyproject.toml or .git above)"
        marker = next((m for m in MARKERS if (self.root / m).exists()), "?")
        return f"project root {self.root}, found by its {marker}"

    def path(self, key: str) -> Path | None:
        """A path setting, relative to the root."""
        value = self.settings.get(key)
        if value is None or self.root is None:
            return None
        return (self.root / value).resolve()


def find_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / m).exists() for m in MARKERS):
            return folder
    return None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None


def _check(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: expected a table of settings")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name not in SETTINGS:
            close = difflib.get_close_matches(name, list(SETTINGS), 1, 0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(SETTINGS)}"
            raise UsageError(f"{where}: unknown setting {key!r} ({hint})")
        kind = SETTINGS[name]
        if not isinstance(value, kind) or (kind is str and not value.strip()):
            raise UsageError(f"{where}: {key} must be a {'boolean' if kind is bool else 'string'}")
        out[name] = value
    tracking = out.get("tracking")
    if tracking is not None and tracking not in ("local", "mlflow"):
        raise UsageError(f"{where}: tracking must be 'local' or 'mlflow', not {tracking!r}")
    return out


def load(start: str | os.PathLike[str] | None = None) -> Project:
    """The project holding ``start`` (default: the current directory) and its settings."""
    root = find_root(start)
    if root is None:
        return Project(None)
    own = root / "nb2pipe.toml"
    if own.is_file():
        return Project(root, own, _check(read_toml(own), str(own)))
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        table = read_toml(pyproject).get("tool", {})
        table = table.get("nb2pipe") if isinstance(table, dict) else None
        if table is not None:
            return Project(root, pyproject, _check(table, f"{pyproject} [tool.nb2pipe]"))
    return Project(root)


@dataclass(frozen=True)
class RunsLocation:
    path: Path  # absolute
    why: str  # where the choice came from, for messages

    def __str__(self) -> str:
        return f"{self.path} ({self.why})"


def runs_location(
    given: str | os.PathLike[str] | None = None,
    *,
    start: str | os.PathLike[str] | None = None,
    fallback: str | os.PathLike[str] | None = None,
) -> RunsLocation:
    """Where runs, the store and the registry live: ``given`` (``--runs-dir``), else
    ``$NB2PIPE_RUNS_DIR``, else the project's (found from ``start``), else
    ``<fallback or the current directory>/runs``."""
    if given is not None and str(given) != "":
        return RunsLocation(Path(given).resolve(), "--runs-dir")
    env = os.environ.get(RUNS_ENV, "").strip()
    if env:
        return RunsLocation(Path(env).resolve(), f"${RUNS_ENV}")
    project = load(start)
    if project.root is None:
        base = Path(fallback if fallback is not None else os.getcwd()).resolve()
        return RunsLocation(base / "runs", f"{project.describe()}: ./runs")
    configured = project.path("runs_dir")
    if configured is not None:
        return RunsLocation(configured, f"runs_dir in {project.config}")
    return RunsLocation(project.root / "runs", project.describe())


def setting(key: str, start: str | os.PathLike[str] | None = None) -> Any:
    """One setting of the project holding ``start``, or None."""
    return load(start).settings.get(key)
