"""Virtual environments of the real engines (Airflow, KFP, check-jsonschema) for the tests.

Each engine gets its own venv (their dependencies conflict: kfp needs protobuf < 7, Airflow
resolves protobuf 7), created on first use by the test setup and cached OUTSIDE the repo,
keyed by a hash of everything that goes into it::

    ${NB2PIPE_TEST_ENVS:-~/.cache/nb2pipe-test-envs}/<engine>-<sha12>/

so a rerun finds it ready in milliseconds, and changing a pin builds a new one. Every
version is pinned so the resolver has little to search (the steps' libraries at the
versions of the interpreter running the tests). nb2pipe's dependencies are installed;
nb2pipe itself comes from this checkout on PYTHONPATH (``engine_environ``), so the engines
run the code under test, never a copy, and one venv serves every clone of the repository
(CI's fresh clone included) without being rebuilt. Creation is the only moment the package index is used; it holds a file lock, so
two pytest-xdist workers never build the same venv twice.

``python tests/engines/engine_envs.py [airflow kfp gha]`` builds them ahead of time (the
Makefile's ``engine-envs`` target); ``--print`` shows where they are.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: The libraries the samples' steps and nb2pipe's runtime compute with, pinned to the
#: versions of the interpreter running the tests: the local reference run and the engine's
#: run then compute with the same code, and a change of version builds new venvs.
RUNTIME_LIBS = ("numpy", "pandas", "pyarrow", "joblib", "scikit-learn", "pyyaml")


def runtime_pins() -> tuple[str, ...]:
    from importlib import metadata

    pins = []
    for name in RUNTIME_LIBS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return tuple(pins)


def nb2pipe_dependencies() -> list[str]:
    """nb2pipe's declared dependencies, nb2pipe-runtime's in place of it: installed in the
    venv (both come from this checkout on PYTHONPATH); a change to them (a new runtime
    dependency) builds new venvs."""
    import tomllib

    deps = []
    for pyproject in (REPO / "pyproject.toml", REPO / "nb2pipe" / "runtime" / "pyproject.toml"):
        config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        deps += config["project"].get("dependencies", [])
    return sorted({d for d in deps if _dist_name(d) != "nb2pipe-runtime"})


ENGINES: dict[str, dict[str, object]] = {
    # Airflow 3 installs from the index without its constraints file; fsspec comes with it.
    "airflow": {"requirements": ("apache-airflow==3.3.2",), "nb2pipe": True},
    # Airflow 2.10 (the DAG file's fallback imports); built only when its test is asked
    # for (NB2PIPE_TEST_AIRFLOW2=1), to keep the suite's time.
    "airflow2": {"requirements": ("apache-airflow==2.10.5",), "nb2pipe": True},
    # kfp 2.17 needs protobuf < 7; kfp.local's SubprocessRunner(use_venv=False) runs the
    # components with this interpreter, where every package is already installed.
    "kfp": {"requirements": ("kfp==2.17.3",), "nb2pipe": True},
    # Ray (--executor ray): its own venv, as the core install does not carry its ~200 MB.
    "ray": {"requirements": ("ray==2.60.0",), "nb2pipe": True},
    # check-jsonschema ships GitHub's workflow schema (--builtin-schema vendor.github-workflows).
    "gha": {"requirements": ("check-jsonschema==0.39.0",), "nb2pipe": False},
    # What an exported workflow's `pip install` brings onto a fresh runner: nb2pipe's
    # dependencies (nb2pipe itself is installed by the test, from a wheel of this checkout),
    # and a wheelhouse with the build backend for `pip install .` of nb2pipe's own repository.
    "runner": {"requirements": (), "nb2pipe": True, "wheelhouse": ("setuptools>=68", "wheel")},
}


def requirements_of(engine: str) -> tuple[str, ...]:
    spec = ENGINES[engine]
    reqs = tuple(spec["requirements"])  # type: ignore[arg-type]
    if not spec["nb2pipe"]:
        return reqs
    pinned = {_dist_name(r) for r in runtime_pins()}
    rest = tuple(d for d in nb2pipe_dependencies() if _dist_name(d) not in pinned)
    return reqs + runtime_pins() + rest


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def cache_root() -> Path:
    env = os.environ.get("NB2PIPE_TEST_ENVS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nb2pipe-test-envs"


def env_key(engine: str) -> str:
    facts = {
        "requirements": sorted(requirements_of(engine)),  # nb2pipe's dependencies included
        "python": list(sys.version_info[:2]),
        "implementation": sys.implementation.name,
        "layout": 2,
    }
    if ENGINES[engine].get("wheelhouse"):
        facts["wheelhouse"] = list(ENGINES[engine]["wheelhouse"])  # type: ignore[arg-type]
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]


def env_dir(engine: str) -> Path:
    return cache_root() / f"{engine}-{env_key(engine)}"


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def _run(cmd: list[str], log: Path) -> None:
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{tail}")


def ensure(engine: str) -> Path:
    """The engine's venv, created now if it is not in the cache yet. Returns its folder."""
    venv = env_dir(engine)
    done = venv / ".nb2pipe-complete"
    if done.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it: wait
        if done.exists():
            return venv
        if venv.exists():
            shutil.rmtree(venv)  # a build that was interrupted
        started = time.time()
        log = venv.parent / f"{venv.name}.log"
        log.write_text("", encoding="utf-8")
        _run([sys.executable, "-m", "venv", str(venv)], log)
        py = str(python_of(venv))
        pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        if requirements_of(engine):
            _run([*pip, *requirements_of(engine)], log)  # one resolve, all pinned or bounded
        wheels = tuple(ENGINES[engine].get("wheelhouse") or ())  # type: ignore[arg-type]
        if wheels:
            _run([py, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
                  "--only-binary=:all:", "-d", str(venv / "wheelhouse"), *wheels], log)  # fmt: skip
        elapsed = time.time() - started
        done.write_text(json.dumps({"seconds": round(elapsed, 1), "engine": engine}) + "\n")
    return venv


def engine_environ(venv: Path, **extra: str) -> dict[str, str]:
    """The environment of an engine's commands: its venv first on PATH, nb2pipe from this
    checkout (PYTHONPATH), pip kept off the network (all the components need is installed),
    no user site."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(REPO),
        PYTHONNOUSERSITE="1",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS="",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    env.update(extra)
    return env


def airflow_environ(venv: Path, home: Path, dags: Path) -> dict[str, str]:
    """Environment of the Airflow CLI: AIRFLOW_HOME and the DAGs folder in ``home``, SQLite,
    no example DAGs."""
    return engine_environ(
        venv,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
    )


def airflow_db(venv: Path) -> Path:
    """An empty Airflow metadata database (SQLite) after `airflow db migrate`, made once per
    venv: each test copies it into its own AIRFLOW_HOME instead of migrating again."""
    home = venv / "airflow-template"
    db = home / "airflow.db"
    if (home / ".complete").exists():
        return db
    with open(venv / "airflow-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / ".complete").exists():
            return db
        shutil.rmtree(home, ignore_errors=True)
        (home / "dags").mkdir(parents=True)
        env = airflow_environ(venv, home, home / "dags")
        log = home / "migrate.log"
        with open(log, "w", encoding="utf-8") as f:
            proc = subprocess.run(
                [str(venv / "bin" / "airflow"), "db", "migrate"],
                env=env, stdout=f, stderr=subprocess.STDOUT, check=False, timeout=600,
            )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed: {log.read_text()[-2000:]}")
        (home / ".complete").write_text("ok\n")
    return db


def created_in(venv: Path) -> float | None:
    """Seconds it took to build ``venv`` (recorded when it was made)."""
    try:
        return float(json.loads((venv / ".nb2pipe-complete").read_text())["seconds"])
    except (OSError, ValueError, KeyError):
        return None


DEFAULT = ("airflow", "kfp", "gha", "runner", "ray")  # what the suite uses (airflow2 on request)


if __name__ == "__main__":
    from concurrent.futures import ThreadPoolExecutor

    names = [a for a in sys.argv[1:] if not a.startswith("-")] or list(DEFAULT)
    if "--print" in sys.argv:
        for name in names:
            print(f"{name}: {env_dir(name)}")
        sys.exit(0)

    def build(name: str) -> str:
        t0 = time.time()
        path = ensure(name)
        return f"{name}: {path} ({time.time() - t0:.1f}s now; built in {created_in(path)}s)"

    with ThreadPoolExecutor(max_workers=2) as pool:  # pip mostly waits: two at a time
        for line in pool.map(build, names):
            print(line)
