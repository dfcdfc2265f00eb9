"""The exporters without their engines: plugins, what each renders, the CLI."""

from __future__ import annotations

import ast
import base64
import io
import json
import tarfile
from pathlib import Path

import pytest
import tomllib
import yaml
from exporter_helpers import REPO, TINY, WINE, convert
from typer.testing import CliRunner

import nb2pipe.exporters as exporters
from nb2pipe.exporters import Exporter, ExportError, export
from nb2pipe.exporters.base import ascii_id, py_literal, yaml_str
from nb2pipe.exporters.kfp import bundle, fitted_names, kale_resources, runtime_requirements
from nb2pipe.frontends.cli import app

# --- plugins ------------------------------------------------------------------------------


def test_builtin_exporters_are_registered_as_entry_points():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    declared = config["project"]["entry-points"]["nb2pipe.exporters"]
    assert set(exporters.available()) >= set(declared) == {"airflow", "kfp", "github-actions"}
    for name in declared:
        exp = exporters.get(name)
        assert isinstance(exp, Exporter) and exp.name == name
    assert "*.j2" in config["tool"]["setuptools"]["package-data"]["nb2pipe.templates.exporters"]
    assert "remote" in config["project"]["optional-dependencies"]


TOY = """
from pathlib import Path

from nb2pipe.exporters import Exporter
from nb2pipe.exporters.base import ExportResult, Option


class Toy(Exporter):
    name = "toy"
    summary = "a test plugin"
    options = (Option("sep", "what joins the steps' names"), Option("loud", "shout", bool))

    def default_output(self, ctx, options):
        return Path("toy.txt")

    def render(self, ctx, output, options):
        steps = options["sep"].join(s.name for s in ctx.pipeline.steps)
        return ExportResult({output: (steps.upper() if options["loud"] else steps) + "\\n"}, ["hello"])


NOT_ONE = dict
"""


@pytest.fixture
def toy_plugin(tmp_path):
    """A real installed distribution (a .dist-info folder on sys.path) declaring exporters."""
    import sys

    from nb2pipe.runtime import entrypoints

    site = tmp_path / "site"
    info = site / "toyexp-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "toyexp.py").write_text(TOY)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyexp\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[nb2pipe.exporters]\ntoy = toyexp:Toy\nbad = toy_plugin_missing:X\n"
        "notone = toyexp:NOT_ONE\n"
    )
    sys.path.insert(0, str(site))
    entrypoints.reset()
    yield site
    sys.path.remove(str(site))
    sys.modules.pop("toyexp", None)
    entrypoints.reset()


def test_a_third_party_exporter_is_loaded_from_its_entry_point(toy_plugin, packages, tmp_path):
    assert {"toy", "airflow"} <= set(exporters.available())
    pkg = packages(TINY, "tiny")
    result, _ = export("toy", pkg, tmp_path / "out.txt", {"sep": ","})
    assert (tmp_path / "out.txt").read_text() == "load,check_load,train,score\n"
    assert result.notes == ["hello"]


def test_a_plugins_declared_options_are_cli_options(toy_plugin, packages, tmp_path):
    """`nb2pipe export` generates its flags from the installed exporters' options."""
    import subprocess
    import sys

    pkg = packages(TINY, "tiny")
    env = {**__import__("os").environ, "PYTHONPATH": str(toy_plugin), "COLUMNS": "200"}
    cli = [sys.executable, "-m", "nb2pipe.frontends.cli"]
    shown = subprocess.run([*cli, "export", "--help"], capture_output=True, text=True, env=env)
    assert "--sep" in shown.stdout and "toy: what joins the steps' names" in shown.stdout
    assert "--loud / --no-loud" in shown.stdout
    out = tmp_path / "toy.txt"
    done = subprocess.run(
        [*cli, "export", "toy", str(pkg), "-o", str(out), "--sep", "+", "--loud"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "LOAD+CHECK_LOAD+TRAIN+SCORE\n"
    wrong = subprocess.run(
        [*cli, "export", "airflow", str(pkg), "--sep", "+"], capture_output=True, text=True, env=env
    )
    assert wrong.returncode == 2 and "--sep does not apply to `export airflow`" in wrong.stderr


def test_broken_and_unknown_plugins_are_clear_errors(toy_plugin):
    with pytest.raises(ExportError, match="cannot be loaded.*toy_plugin_missing"):
        exporters.get("bad")
    with pytest.raises(ExportError, match="not an nb2pipe Exporter"):
        exporters.get("notone")
    with pytest.raises(ExportError, match="unknown export target 'nope'.*airflow"):
        exporters.get("nope")


def test_exporters_are_imported_only_when_asked_for():
    import subprocess
    import sys

    code = (
        "import sys, nb2pipe.frontends.cli, nb2pipe.exporters;"
        "print(sorted(m for m in sys.modules if m.startswith('nb2pipe.exporters.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['nb2pipe.exporters.base']"


# --- Airflow ------------------------------------------------------------------------------


def test_airflow_dag_file(packages, tmp_path):
    pkg = packages(WINE, "wine")
    out = tmp_path / "dag.py"
    result, said = export(
        "airflow", pkg, out, {"store": "s3://bucket/prefix", "schedule": "0 3 * * *", "retries": 2}
    )
    text = out.read_text()
    tree = ast.parse(text)
    assert "from airflow.sdk import Param, dag, get_current_context, task" in text
    assert 'STORE = "s3://bucket/prefix"' in text
    assert 'schedule="0 3 * * *"' in text and '"retries": 2' in text
    assert f'PACKAGE = "{pkg.name}"' in text and 'PACKAGE_PATH = "."' in text
    assert 'ROOT_FROM_DAG = "pkgs"' in text  # no project marker: the import root is the root
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert str(tmp_path) not in code  # no path of this machine
    # typed DAG params with JSON-schema types and the help text
    params = _dag_params(tree)
    assert params["n_estimators"] == (
        100,
        {"type": "integer", "description": "trees in the forest"},
    )
    assert params["test_size"][1]["type"] == "number"
    assert params["max_depth"] == (
        None,
        {"type": ["null", "integer"], "description": "maximum depth of a tree (None: grow until pure)"},
    )  # fmt: skip
    tasks = [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("t_")
    ]
    assert [t.name for t in tasks] == [
        "t_load", "t_check_load", "t_split", "t_train_forest", "t_train_logreg", "t_evaluate",
        "t_check_evaluate",
    ]  # fmt: skip
    evaluate = next(t for t in tasks if t.name == "t_evaluate")
    assert [a.arg for a in evaluate.args.args] == ["train_forest", "split", "train_logreg"]
    assert any("fsspec" in n for n in result.notes)  # s3:// needs s3fs on the workers
    assert "airflow dags test wine_classifier" in said[0]


def _dag_params(tree: ast.Module) -> dict[str, tuple[object, dict[str, object]]]:
    dag_call = next(
        d
        for n in tree.body
        if isinstance(n, ast.FunctionDef)
        for d in n.decorator_list
        if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "dag"
    )
    params = next(k.value for k in dag_call.keywords if k.arg == "params")
    out = {}
    for key, call in zip(params.keys, params.values, strict=True):
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        out[ast.literal_eval(key)] = (ast.literal_eval(call.args[0]), kwargs)
    return out


def test_airflow_defaults_and_bad_options(packages, tmp_path, monkeypatch):
    pkg = packages(TINY, "tiny")
    monkeypatch.chdir(tmp_path)
    result, _ = export("airflow", pkg)
    (out,) = result.files
    assert out == Path("tiny_gate_dag.py")
    text = out.read_text()
    assert 'STORE = "runs/store"' in text  # relative to the project root (here: pkgs/)
    assert "schedule=None" in text and '"retries": 0' in text and "CACHE = True" in text
    params = _dag_params(ast.parse(text))
    assert params["features"] == ([0, 1, 2, 3], {"type": "array", "description": "columns used"})
    assert params["shuffle"][1]["type"] == "boolean"
    with pytest.raises(ExportError, match="not a cron"):
        export("airflow", pkg, tmp_path / "x.py", {"schedule": "every day"})
    with pytest.raises(ExportError, match="--image does not apply to `export airflow`"):
        export("airflow", pkg, tmp_path / "x.py", {"image": "python:3.12"})
    with pytest.raises(ExportError, match="retries"):
        export("airflow", pkg, tmp_path / "x.py", {"retries": -1})
    export("airflow", pkg, tmp_path / "y.py", {"cache": "false", "schedule": "@daily"})
    assert "CACHE = False" in (tmp_path / "y.py").read_text()


def test_airflow_secrets_are_not_dag_params_and_odd_names_are_safe(tmp_path):
    nb = tmp_path / "odd.py"
    nb.write_text(
        '# %% tags=["parameters"]\ndb_password = "x"  # secret\nweird = {1: "a"}\n'
        'quote = "a\\"b\'c\\n${{ x }}"  # help with "quotes"\n\n'
        '# %% tags=["step:dag"]\nv = len(db_password) + len(weird) + len(quote)\n\n'
        '# %% tags=["step:task"]\nw = v + 1\n'
    )
    pkg = convert(nb, tmp_path / "pkgs", "odd")
    out = tmp_path / "odd_dag.py"
    result, _ = export("airflow", pkg, out)
    text = out.read_text()
    params = _dag_params(ast.parse(text))
    assert set(params) == {"quote"}  # the secret and the non-JSON default are left out
    assert params["quote"][0] == "a\"b'c\n${{ x }}"
    assert any("db_password" in n.lower() or "DB_PASSWORD" in n for n in result.notes)
    assert any("'weird'" in n and "JSON" in n for n in result.notes)
    ids = [ast.literal_eval(k.value) for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call)
           for k in n.keywords if k.arg == "task_id"]  # fmt: skip
    assert ids == ["dag", "task"]
    assert "def t_task(dag):" in text  # steps named `dag`, `task` shadow no decorator
    compile(text, "odd_dag.py", "exec")


# --- KFP ----------------------------------------------------------------------------------


def test_kfp_pipeline_file(packages, tmp_path):
    pkg = packages(TINY, "tiny")
    out = tmp_path / "tiny_kfp.py"
    result, said = export("kfp", pkg, out, {"compile": False, "retries": 3})
    text = out.read_text()
    tree = ast.parse(text)
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"step_load", "step_check_load", "step_train", "step_score", "pipeline"} <= set(funcs)
    pipe = funcs["pipeline"]
    sig = {a.arg: ast.unparse(a.annotation) for a in pipe.args.args}
    assert sig == {
        "min_rows": "int", "max_depth": "str", "features": "str", "label": "str", "shuffle": "bool"
    }  # fmt: skip
    defaults = [ast.literal_eval(d) for d in pipe.args.defaults]
    assert defaults == [10, "null", "[0, 1, 2, 3]", "iris", True]
    train = {a.arg: ast.unparse(a.annotation) for a in funcs["step_train"].args.args}
    assert train == {
        "in_X": "Input[Dataset]", "in_y": "Input[Dataset]", "p_max_depth": "str",
        "out_model": "Output[Model]",
    }  # fmt: skip
    score = {a.arg: ast.unparse(a.annotation) for a in funcs["step_score"].args.args}
    assert score["in_model"] == "Input[Model]" and score["metrics"] == "Output[Metrics]"
    assert score["out_accuracy"] == "Output[Artifact]"  # a metric's value
    body = ast.unparse(pipe)
    assert "t_load.set_memory_limit('1Gi')" in body and "t_load.set_cpu_limit('1')" in body
    assert "t_train.set_accelerator_type('nvidia.com/gpu')" in body
    assert "t_train.set_accelerator_limit(1)" in body
    assert "t_train.after(t_check_load)" in body  # an ordering edge without data
    assert "t_load.set_retry(num_retries=3)" in body
    assert "t_check_load.set_retry" not in body  # gates do not retry
    assert "base_image='python:3.11-slim'" in ast.unparse(funcs["step_train"])
    packages = ast.literal_eval(
        next(
            n.value for n in tree.body if isinstance(n, ast.Assign) and "PACKAGES" in ast.unparse(n)
        )
    )
    # the package's requirements and the embedded runtime's own dependencies, not nb2pipe's
    assert {"scikit-learn", "pyarrow", "xxhash>=3.4", "numpy>=1.24"} <= set(packages)
    assert not any(p.startswith("nb2pipe") for p in packages)
    assert "compile it with" in said[0]
    assert result.notes == []


def test_kfp_bundle_is_deterministic_and_complete(packages, tmp_path):
    pkg = packages(TINY, "tiny")
    from nb2pipe.exporters.base import load_context

    ctx = load_context(pkg)
    a, b = bundle(ctx, True), bundle(ctx, True)
    assert a == b
    with tarfile.open(fileobj=io.BytesIO(a), mode="r:gz") as tar:
        names = set(tar.getnames())
        assert all(m.mtime == 0 for m in tar.getmembers())
    assert f"{pkg.name}/pipeline.py" in names and f"{pkg.name}/steps/train.py" in names
    assert f"{pkg.name}/params.yaml" in names
    # the runtime alone: nb2pipe is a namespace package in the component
    assert "nb2pipe/runtime/remote.py" in names and "nb2pipe/__init__.py" not in names
    assert not any("__pycache__" in n for n in names)
    assert not any(
        n.startswith(("nb2pipe/runtime/cluster/", "nb2pipe/runtime/build/")) for n in names
    )
    # it travels as one argument of the component's command: Linux's MAX_ARG_STRLEN
    assert len(base64.b64encode(a)) < 128 * 1024
    with tarfile.open(fileobj=io.BytesIO(bundle(ctx, False)), mode="r:gz") as tar:
        assert not any(n.startswith("nb2pipe/") for n in tar.getnames())
    # the exported file carries the same bundle
    out = tmp_path / "k.py"
    export("kfp", pkg, out, {"compile": False})
    blob = "".join(
        ast.literal_eval(n.value)
        for n in ast.parse(out.read_text()).body
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "_BUNDLE"
    )
    assert base64.b64decode(blob) == a


def test_kfp_runtime_requirements_hold_for_this_python():
    """The component's pip line has no markers: a requirement for another Python (tomli on
    3.10) or an extra (dask, ray) is left out rather than installed (offline it fails)."""
    import sys

    reqs = runtime_requirements()
    names = {r.split(">")[0].split("=")[0].split("<")[0] for r in reqs}
    assert {"numpy", "pandas", "pyarrow"} <= names
    assert not any(";" in r or " " in r for r in reqs)
    assert not names & {"dask", "distributed", "ray"}
    assert ("tomli" in names) == (sys.version_info < (3, 11))


def test_kfp_runtime_install_instead_of_embedding(packages, tmp_path):
    pkg = packages(TINY, "tiny")
    out = tmp_path / "k.py"
    export("kfp", pkg, out, {"compile": False, "nb2pipe_requirement": "nb2pipe==0.1.0"})
    text = out.read_text()
    assert "'nb2pipe==0.1.0'" in text.replace('"', "'")
    export("kfp", pkg, out, {"compile": False, "nb2pipe_requirement": "none", "image": "me/img:1"})
    text = out.read_text()
    assert "nb2pipe" not in text.split("PACKAGES = ")[1].split("\n")[0]
    assert 'BASE_IMAGE = "me/img:1"' in text
    with pytest.raises(ExportError, match=r"\.py"):
        export("kfp", pkg, tmp_path / "k.yaml", {"compile": False})


def test_kfp_compile_needs_kfp(packages, tmp_path, monkeypatch):
    pkg = packages(TINY, "tiny")
    import nb2pipe.exporters.kfp as kfp_exporter

    monkeypatch.setattr(kfp_exporter, "kfp_available", lambda: False)
    _, said = export("kfp", pkg, tmp_path / "k.py")
    assert "kfp is not installed here" in said[0]
    with pytest.raises(ExportError, match="--compile needs kfp"):
        export("kfp", pkg, tmp_path / "k.py", {"compile": True})


def test_kale_tags_map_to_task_resources():
    calls, image, notes = kale_resources(
        ("limit:memory:4Gi", "limit:cpu:500m", "limit:amd.com/gpu:2", "image:ghcr.io/x/y:1.0",
         "limit:ephemeral-storage:1Gi", "limit:nvidia.com/gpu:many", "hide-input",
         "annotation:a:b")
    )  # fmt: skip
    assert calls == [
        "set_memory_limit('4Gi')", "set_cpu_limit('500m')",
        "set_accelerator_type('amd.com/gpu')", "set_accelerator_limit(2)",
    ]  # fmt: skip
    assert image == "ghcr.io/x/y:1.0"
    assert len(notes) == 3  # ephemeral-storage, a non-integer count, an annotation


def test_kale_tag_values_cannot_inject_code(tmp_path):
    calls, image, _ = kale_resources(("limit:memory:1Gi') or __import__('os').system('x",))
    assert calls == ["set_memory_limit(\"1Gi') or __import__('os').system('x\")"]
    assert ast.literal_eval(calls[0].split("(", 1)[1][:-1]) == "1Gi') or __import__('os').system('x"


def test_fitted_names_are_models():
    src = "m = Model()\nm.fit(X, y)\nclf = Pipe().fit(X, y)\nother.partial_fit(X)\nz = f(x)\n"
    assert fitted_names(src) == {"m", "clf", "other"}


# --- GitHub Actions -----------------------------------------------------------------------


def _repo_with(tmp_path: Path, notebook: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "nb").mkdir()
    target = repo / "nb" / notebook.name
    target.write_bytes(notebook.read_bytes())
    return convert(target, repo / "pipelines", "p")


def test_github_workflow(tmp_path):
    pkg = _repo_with(tmp_path, TINY)
    result, _ = export("github-actions", pkg, None, {"schedule": "30 2 * * *"})
    (out,) = result.files
    assert out == tmp_path / "repo" / ".github" / "workflows" / "tiny_gate.yml"
    wf = yaml.safe_load(out.read_text())
    on = wf[True]  # YAML 1.1 reads `on` as true; GitHub reads it as the key "on"
    assert on["schedule"] == [{"cron": "30 2 * * *"}]
    inputs = on["workflow_dispatch"]["inputs"]
    assert list(inputs) == ["min_rows", "max_depth", "features", "label", "shuffle", "params"]
    assert inputs["min_rows"]["type"] == "number" and inputs["shuffle"]["type"] == "boolean"
    assert inputs["shuffle"]["default"] is True and inputs["max_depth"]["type"] == "string"
    steps = wf["jobs"]["pipeline"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    env = wf["jobs"]["pipeline"]["env"]
    assert env["NB2PIPE_NOTEBOOK"] == "nb/tiny_gate.py" and env["NB2PIPE_PIPELINE"] == "tiny_gate"
    assert env["NB2PIPE_PACKAGE"] == f"pipelines/{pkg.name}"
    assert env["NB2PIPE_REQUIREMENTS"] == f"pipelines/{pkg.name}/requirements.txt"
    assert 'pip install -r "$NB2PIPE_REQUIREMENTS"' in runs
    # requirements.txt names the runtime only: the job installs nb2pipe for `convert --check`
    assert 'pip install "$NB2PIPE_REQUIREMENT"' in runs
    assert (
        'nb2pipe convert "$NB2PIPE_NOTEBOOK" -o "$NB2PIPE_PACKAGE" --name "$NB2PIPE_PIPELINE" '
        "--check" in runs
    )
    assert 'nb2pipe run "$NB2PIPE_PACKAGE" --run-id "$RUN_ID" "${args[@]}"' in runs
    assert env["NB2PIPE_RUNS_DIR"] == "runs" and env["NB2PIPE_REQUIREMENT"] == "nb2pipe==0.1.0"
    cache = next(s for s in steps if s.get("uses") == "actions/cache@v4")
    assert cache["with"]["path"].split() == ["runs/store", "runs/registry"]
    for text in [pkg.name, "tiny_gate", *inputs]:  # the notebook's text reaches run: via env only
        assert text not in runs, text
    uses = [s.get("uses", "") for s in steps]
    assert "actions/upload-artifact@v4" in uses and "actions/cache@v4" in uses
    upload = next(s for s in steps if s.get("uses") == "actions/upload-artifact@v4")
    assert upload["with"]["path"] == "runs/${{ env.RUN_ID }}" and upload["if"] == "always()"
    assert "${{" not in runs  # expressions reach the shell only through env
    assert f"pipelines/{pkg.name}/**" in on["push"]["paths"]


def test_github_workflow_is_safe_from_notebook_text(tmp_path):
    nb = tmp_path / "src.py"
    nb.write_text(
        '# %% tags=["parameters"]\n'
        'n = 1  # help "quoted" ${{ github.token }} `rm -rf` \\u2028 end\n'
        'token = "x"  # secret\n\n'
        '# %% tags=["step:s"]\nm = n + len(token)\n'
    )
    pkg = _repo_with(tmp_path, nb)
    result, _ = export("github-actions", pkg)
    (out,) = result.files
    text = out.read_text()
    wf = yaml.safe_load(text)
    desc = wf[True]["workflow_dispatch"]["inputs"]["n"]["description"]
    assert desc.startswith('help "quoted" ${{ github.token }} `rm -rf`')
    env = wf["jobs"]["pipeline"]["env"]
    (secret,) = [k for k in env if k != "RUN_ID" and not k.startswith("NB2PIPE_")]
    assert env[secret] == f"${{{{ secrets.{secret} }}}}"
    assert "token" not in wf[True]["workflow_dispatch"]["inputs"]
    assert any(secret in n for n in result.notes)
    assert "github.token" not in "\n".join(
        s.get("run", "") for s in wf["jobs"]["pipeline"]["steps"]
    )


def test_github_workflow_options(tmp_path):
    pkg = _repo_with(tmp_path, TINY)
    with pytest.raises(ExportError, match="5-field cron"):
        export("github-actions", pkg, None, {"schedule": "@daily"})
    with pytest.raises(ExportError, match="outside the repository"):
        export("github-actions", pkg, None, {"repo_root": str(tmp_path / "elsewhere")})
    with pytest.raises(ExportError, match="--store does not apply"):
        export("github-actions", pkg, None, {"store": "/x"})
    result, _ = export(
        "github-actions", pkg, tmp_path / "repo" / ".github" / "workflows" / "w.yml",
        {"python_version": "3.12", "nb2pipe_requirement": "nb2pipe @ git+https://example.invalid/nb2pipe"},
    )  # fmt: skip
    text = next(iter(result.files.values()))
    assert 'python-version: "3.12"' in text
    assert 'pip install "$NB2PIPE_REQUIREMENT"' in text
    env = yaml.safe_load(text)["jobs"]["pipeline"]["env"]
    assert env["NB2PIPE_REQUIREMENT"] == "nb2pipe @ git+https://example.invalid/nb2pipe"


# --- rendering helpers and the CLI --------------------------------------------------------


def test_rendering_helpers():
    assert py_literal({"a": [1, (2,)], 3: None}) == "{'a': [1, (2,)], 3: None}"
    assert json.loads(yaml_str('a\u2028b"c')) == 'a\u2028b"c' and yaml_str("é").isascii()
    taken: set[str] = set()
    assert ascii_id("load", taken) == "load"
    assert ascii_id("load", taken) == "load_2"
    assert ascii_id("étape").startswith("tape_") and ascii_id("étape").isascii()


def test_cli_export(packages, tmp_path):
    pkg = packages(TINY, "tiny")
    runner = CliRunner()
    out = tmp_path / "d.py"
    res = runner.invoke(app, ["export", "airflow", str(pkg), "-o", str(out), "--retries", "1",
                              "--set", "dag_id=my.dag", "--set", "cache=false"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output
    text = out.read_text()
    assert 'dag_id="my.dag"' in text and "CACHE = False" in text
    res = runner.invoke(app, ["export", "nope", str(pkg)])
    assert res.exit_code == 2 and "unknown export target 'nope'" in res.output
    res = runner.invoke(app, ["export", "github-actions", str(pkg), "--retries", "2"])
    assert res.exit_code == 2 and "--retries does not apply" in res.output
    res = runner.invoke(app, ["export", "airflow", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "not a generated pipeline" in res.output
    res = runner.invoke(app, ["export", "airflow", str(pkg), "--set", "oops"])
    assert res.exit_code == 2 and "KEY=VALUE" in res.output
    res = runner.invoke(app, ["export", "kfp", str(pkg), "-o", str(tmp_path / "k.py"),
                              "--no-compile"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "compile it with" in res.output


def test_the_embedded_runtime_imports_on_its_own(packages, tmp_path):
    """The bundle's runtime (docstrings stripped) is complete: remote imports from it, with
    no nb2pipe installed (python -S: site-packages without its .pth files, so neither this
    checkout nor an editable install is on the path); nb2pipe is a namespace package."""
    import subprocess
    import sys
    import sysconfig

    from nb2pipe.exporters.base import load_context

    pkg = packages(TINY, "tiny")
    with tarfile.open(fileobj=io.BytesIO(bundle(load_context(pkg), True)), mode="r:gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.append(sys.argv[2]);"
        "import nb2pipe.runtime.remote as r, nb2pipe;"
        f"import {pkg.name}.pipeline as p;"
        "assert getattr(nb2pipe, '__file__', None) is None, nb2pipe.__file__;"
        "assert r.__file__.startswith(sys.argv[1]), r.__file__;"
        "print(p.PIPELINE.name)"
    )
    site = sysconfig.get_paths()["purelib"]
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(tmp_path / "unpacked"), site],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "tiny_gate"


@pytest.mark.integration
def test_jupyter_nbconvert_to_nb2pipe_writes_the_package_convert_writes(tmp_path):
    """nbconvert's entry point (`nbconvert.exporters`): the real `jupyter nbconvert`
    command writes pipelines/<name>/, byte for byte what `nb2pipe convert` writes."""
    import shutil
    import subprocess
    import sys

    jupyter = Path(sys.executable).parent / "jupyter"
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(WINE, tmp_path / folder / WINE.name)
    done = subprocess.run(
        [str(jupyter), "nbconvert", "--to", "nb2pipe", WINE.name],
        cwd=tmp_path / "a", capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ref = subprocess.run(
        [str(Path(sys.executable).parent / "nb2pipe"), "convert", WINE.name],
        cwd=tmp_path / "b", capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ref.returncode == 0, ref.stderr
    name = WINE.stem

    def tree(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }

    made, expected = tree(tmp_path / "a" / "pipelines"), tree(tmp_path / "b" / "pipelines")
    assert f"{name}/pipeline.py" in made and f"{name}/steps/train_forest.py" in made
    assert made == expected
    out = tmp_path / "elsewhere"
    again = subprocess.run(
        [str(jupyter), "nbconvert", "--to", "nb2pipe", "--output-dir", str(out),
         str(tmp_path / "a" / WINE.name)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    pipeline = (out / "pipelines" / name / "pipeline.py").read_text()
    assert "../../../a/wine_classifier.ipynb" in pipeline  # the notebook, from where it is
