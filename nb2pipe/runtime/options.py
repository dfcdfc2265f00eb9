"""Command-line options of ``python -m <package>`` and ``nb2pipe run DIR``, and parameters.

Parameter values are applied in papermill's order, whatever the order on the command
line: defaults, then ``-f/--params-file``, then ``-y/--yaml``, then each ``-p NAME=VALUE``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nb2pipe.runtime import limits
from nb2pipe.runtime.errors import UsageError
from nb2pipe.runtime.spec import Param, Pipeline

if TYPE_CHECKING:
    from nb2pipe.runtime.plan import RunConfig

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}
_NULL = {"null", "none", "~"}


def build_parser(
    prog: str | None = None, pipeline: Pipeline | None = None
) -> argparse.ArgumentParser:
    """The options of ``python -m <package>`` / ``nb2pipe run``; with ``pipeline``, its
    parameters are listed after them (papermill's ``--help-notebook``)."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run the pipeline: steps whose code, parameters, inputs, data files "
        "and library versions are unchanged are taken from the cache.",
        epilog=parameters_help(pipeline) if pipeline is not None else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a = p.add_argument
    a(
        "-p",
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter (repeatable); the value is parsed by the parameter's type, "
        "lists/dicts/tuples as YAML or JSON, `null` for an optional one",
    )
    a("-y", "--yaml", metavar="YAML", help="parameters as a YAML mapping")
    a("-f", "--params-file", metavar="FILE", help="parameters from a YAML file (params.yaml)")
    a(
        "--only",
        action="append",
        default=[],
        metavar="STEP",
        help="run only this step (repeatable); inputs come from the store",
    )
    a("--from", dest="from_step", metavar="STEP", help="run this step and everything after it")
    a("--until", metavar="STEP", help="run this step and everything it needs")
    a(
        "-j",
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="run up to N independent steps in parallel processes (0: one per CPU)",
    )
    a(
        "--executor",
        metavar="NAME",
        help="where steps run: an executor plugin (default: inline for -j 1, else fork on "
        "Linux, process elsewhere; dask and ray with nb2pipe[dask], nb2pipe[ray])",
    )
    a(
        "--address",
        metavar="URL",
        help="the cluster of --executor dask (tcp://HOST:PORT) or ray (ray://HOST:PORT); "
        "default: a local one with -j N workers",
    )
    a("--force", action="store_true", help="ignore the cache: run every selected step")
    a(
        "--timeout",
        type=_limit(limits.seconds),
        metavar="S",
        help="stop a step after S seconds (recorded timed_out; a cell's `#| nb2pipe: "
        "timeout=S` sets its step's own)",
    )
    a(
        "--max-memory",
        type=_limit(limits.size),
        metavar="SIZE",
        help="memory per step, such as 512M or 2G (steps run in worker processes; over it: "
        "recorded out_of_memory)",
    )
    a(
        "--strict",
        action="store_true",
        help="refuse to run when the notebook changed since the package was converted "
        "(default: the project's `strict` setting; always when CI=true); otherwise a warning",
    )
    _record_options(a)
    _model_options(a)
    return p


def _record_options(a: Any) -> None:
    """Where records go, what the terminal shows, the mutation guard."""
    a(
        "--runs-dir",
        metavar="DIR",
        help="where run records go (default: $NB2PIPE_RUNS_DIR, else the project's: "
        "runs_dir in nb2pipe.toml or [tool.nb2pipe], else runs/ in the nearest folder up "
        "with nb2pipe.toml, pyproject.toml or .git, else ./runs); artifacts go to DIR/store",
    )
    a(
        "--store",
        metavar="DIR|URL",
        help="artifact store: a folder, or an fsspec URL every worker reaches (s3://bucket/"
        "prefix; needs nb2pipe-runtime[remote] and the filesystem's package) (default: "
        "RUNS_DIR/store)",
    )
    a("--run-id", metavar="ID", help="name of this run (default: UTC timestamp + random)")
    a(
        "--cwd",
        metavar="DIR",
        help="working directory of the steps (default: the notebook's folder)",
    )
    a("-q", "--quiet", action="store_true", help="print only errors and the final line")
    a("-v", "--verbose", action="store_true", help="echo the steps' output and why steps rerun")
    a(
        "--allow-mutation",
        action="store_true",
        help="only warn when a step changes one of its inputs in place",
    )
    a(
        "--no-guard",
        dest="guard",
        action="store_false",
        help="do not check inputs for in-place changes (saves rehashing large inputs)",
    )


def _model_options(a: Any) -> None:
    """Model registration and tracking."""
    a(
        "--tracking",
        metavar="NAME",
        help="where models are registered and runs tracked: local (RUNS_DIR/registry) or "
        "an MLflow server (default: $NB2PIPE_TRACKING, else local)",
    )
    a("--tracking-uri", metavar="URI", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    a("--registry", metavar="DIR", help="local model registry (default: RUNS_DIR/registry)")
    a(
        "--max-regression",
        action="append",
        default=[],
        metavar="METRIC=DELTA",
        help="fail the run, and register nothing, when METRIC is worse than the registered "
        "champion's by more than DELTA (a number, or a percentage such as 2%%); repeatable",
    )
    a(
        "--no-register",
        dest="register",
        action="store_false",
        help="do not register the models this run produces",
    )
    a(
        "--promote",
        choices=("if-better", "always", "never"),
        default="if-better",
        help="when a registered model becomes champion: if-better (its primary metric is "
        "not worse than the champion's; default), always, or never",
    )


def _limit(parse: Any) -> Any:
    def parsed(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parsed


def parameters_help(pipeline: Pipeline) -> str:
    """The pipeline's parameters as a table: name, type, default, help (secrets: their
    name and variable, never a value)."""
    params = pipeline.parameters
    if not params:
        return f"parameters of {pipeline.name}: none"
    width = max(len(q.name) for q in params)
    kinds = [type_label(q) if not q.secret else "secret" for q in params]
    kind_width = max(len(k) for k in kinds)
    abouts = []
    for q in params:
        shown = repr(q.default)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        abouts.append(f"from ${q.env or q.name.upper()}" if q.secret else f"default {shown}")
    about_width = max(len(a) for a in abouts)
    lines = [f"parameters of {pipeline.name} (-p NAME=VALUE):"]
    for q, kind, about in zip(params, kinds, abouts, strict=True):
        text = f"  {q.name:<{width}}  {kind:<{kind_width}}  {about:<{about_width}}"
        lines.append(f"{text}  {' '.join(q.help.split())}".rstrip())
    if pipeline.derived:
        lines.append(f"derived from them (not settable): {', '.join(pipeline.derived)}")
    text = "\n".join(lines)
    return text.replace("%", "%%") if "%(" in text else text


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of jobs, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("jobs must be >= 0")
    return n or (os.cpu_count() or 1)


def config_from_args(ns: argparse.Namespace) -> RunConfig:
    """The :class:`RunConfig` of parsed command-line options."""
    from nb2pipe.runtime.plan import RunConfig

    options = dict(vars(ns))
    options["strict"] = options["strict"] or None  # not given: the project's, or CI
    return RunConfig(param_args=options.pop("params"), **options)


# --- parameter values -------------------------------------------------------------------


def type_label(param: Param) -> str:
    t = param.type
    label = "any value" if t is None else t.__name__
    if t is bool:
        label = "bool (true/false)"
    return f"{label} or null" if param.optional and t is not None else label


MAX_TEXT = 1 << 20  # characters of parameters: a params file, -y or one -p value
MAX_VALUES = 100_000  # values in them once every YAML alias is expanded


def _load_yaml(text: str) -> Any:
    """YAML (or JSON) parameters, bounded: refused over MAX_TEXT characters, over
    MAX_VALUES values once aliases are expanded (a 'billion laughs' document is a few
    hundred bytes), with a recursive alias, or with a key given twice in one mapping."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"parameters are limited to {MAX_TEXT // 1024} KiB of text")
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a dependency; JSON is YAML
        return json.loads(text, object_pairs_hook=_unique_pairs)
    loader = _strict_loader(yaml)(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node) > MAX_VALUES:
            raise UsageError(
                f"the parameters expand to more than {MAX_VALUES} values (YAML aliases)"
            )
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def _unique_pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} is given twice")
        out[key] = value
    return out


def _strict_loader(yaml: Any) -> Any:
    """yaml's safe loader (the C one when built), refusing a key given twice."""
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Strict(base):  # type: ignore[misc,valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: set[Any] = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue  # `<<: *base` then an override is ordinary YAML
                    key = self.construct_object(key_node, deep=True)
                    if isinstance(key, (str, int, float, bool)) or key is None:
                        if key in seen:
                            raise UsageError(
                                f"the key {key!r} is given twice "
                                f"(line {key_node.start_mark.line + 1})"
                            )
                        seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return Strict


def _expanded_size(root: Any) -> int:
    """How many values the YAML node graph holds once its aliases are expanded (shared
    nodes counted once per use), without expanding it; a recursive alias is refused."""
    size: dict[int, int] = {}
    busy: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        kids = _children(node)
        if done:
            busy.discard(id(node))
            size[id(node)] = min(1 + sum(size[id(k)] for k in kids), MAX_VALUES + 1)
        elif id(node) not in size:
            if id(node) in busy:
                raise UsageError("the parameters hold a recursive YAML alias")
            busy.add(id(node))
            stack.append((node, True))
            for kid in kids:
                if id(kid) in busy:
                    raise UsageError("the parameters hold a recursive YAML alias")
                stack.append((kid, False))
    return size[id(root)]


def _children(node: Any) -> list[Any]:
    value = node.value
    if not isinstance(value, list):
        return []
    return [n for item in value for n in (item if isinstance(item, tuple) else (item,))]


def _bad(param: Param, value: Any) -> UsageError:
    shown = value if isinstance(value, str) else repr(value)
    return UsageError(f"parameter {param.name!r} expects {type_label(param)}, got {shown!r}")


def check_value(param: Param, value: Any) -> Any:
    """A value given as data (YAML, JSON, Python): checked, never converted from text."""
    t = param.type
    if value is None:
        if param.optional or t is None:
            return None
        raise _bad(param, value)
    if t is None:
        return value
    if t is bool:
        if isinstance(value, bool):
            return value
    elif t is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif t is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif t is tuple:
        if isinstance(value, (list, tuple)):
            return tuple(value)
    elif isinstance(value, t):
        return value
    raise _bad(param, value)


def parse_value(param: Param, text: str) -> Any:
    """A value given as text (``-p NAME=VALUE``, an environment variable)."""
    t = param.type
    stripped = text.strip()
    if stripped.lower() in _NULL and (param.optional or t is None) and t is not str:
        return None
    if t is str:
        return None if param.optional and stripped in ("null", "None") else text
    if t is bool:
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise _bad(param, text)
    if t is int:
        try:
            return int(stripped)
        except ValueError:
            raise _bad(param, text) from None
    if t is float:
        try:
            return float(stripped)
        except ValueError:
            raise _bad(param, text) from None
    try:
        value = _load_yaml(text)
    except UsageError as exc:
        raise UsageError(f"parameter {param.name!r}: {exc}") from None
    except Exception:  # noqa: BLE001 - any YAML error is a bad value
        if t is None:
            return text
        raise _bad(param, text) from None
    return check_value(param, value)


@dataclass(frozen=True)
class ResolvedParams:
    values: dict[str, Any]
    secret: frozenset[str]


def _check_name(pipeline: Pipeline, name: str) -> Param:
    pmap = pipeline.param_map
    if name in pmap:
        return pmap[name]
    if name in pipeline.derived:
        raise UsageError(
            f"{name!r} is derived from the parameters and cannot be set; set those instead"
        )
    known = ", ".join(pmap) or "none"
    raise UsageError(f"unknown parameter {name!r} (parameters: {known})")


def _mapping(text: str, where: str) -> dict[str, Any]:
    try:
        data = _load_yaml(text)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    except Exception as exc:  # noqa: BLE001
        raise UsageError(f"{where} is not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a mapping of parameter names to values")
    return data


def resolve_params(
    pipeline: Pipeline,
    *,
    overrides: Mapping[str, Any] | None = None,
    param_args: Sequence[str] = (),
    yaml_text: str | None = None,
    params_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ResolvedParams:
    """Defaults < params file < YAML < ``overrides`` (Python values) < ``-p`` arguments."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    secret = frozenset(p.name for p in pipeline.parameters if p.secret)
    for p in pipeline.parameters:
        values[p.name] = p.default
        if p.secret and p.env and p.env in environ:
            values[p.name] = parse_value(p, environ[p.env])

    def put(name: str, value: Any, *, text: bool) -> None:
        param = _check_name(pipeline, str(name))
        if param.secret:
            where = f"the environment variable {param.env}" if param.env else "its default"
            raise UsageError(f"parameter {param.name!r} is secret: it is read from {where}")
        values[param.name] = parse_value(param, value) if text else check_value(param, value)

    if params_file is not None:
        try:
            with open(params_file, encoding="utf-8") as f:
                text = f.read(MAX_TEXT + 1)  # more is refused: never read a huge file whole
        except OSError as exc:
            raise UsageError(f"cannot read params file {params_file}: {exc.strerror}") from None
        except ValueError:
            raise UsageError(f"params file {params_file} is not UTF-8 text") from None
        for name, value in _mapping(text, f"params file {params_file}").items():
            put(name, value, text=False)
    if yaml_text is not None:
        for name, value in _mapping(yaml_text, "-y/--yaml").items():
            put(name, value, text=False)
    for name, value in (overrides or {}).items():
        put(name, value, text=False)
    for arg in param_args:
        name, sep, value = arg.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"-p expects NAME=VALUE, got {arg!r}")
        put(name.strip(), value, text=True)
    return ResolvedParams(values, secret)


def missing_secrets(pipeline: Pipeline, selected: Any, values: Mapping[str, Any]) -> None:
    """A secret parameter that a step to run reads, whose environment variable is not set,
    is one line before any step runs (not a ``None`` deep inside the step)."""
    needed = {p for s in pipeline.steps if s.name in selected for p in s.params}
    for p in pipeline.parameters:
        if p.secret and not p.optional and p.name in needed and values.get(p.name) is None:
            env = p.env or p.name.upper()
            raise UsageError(
                f"secret parameter {p.name!r} is read from the environment variable {env}, "
                f"which is not set: set it (export {env}=...) and run again"
            )
