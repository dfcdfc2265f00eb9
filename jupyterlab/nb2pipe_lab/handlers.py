"""The server extension's endpoints, all under ``<base_url>/nb2pipe/`` and all authenticated.

JSON in, JSON out (``ok`` true or false). nb2pipe's errors are answers, not HTTP errors: the
panel shows them with the cell they concern. A bad request (a path outside the root, an
unknown job) is HTTP 400 with a JSON message; nothing ever answers with a traceback.
``params`` are ``{name: text}``, each parsed as ``nb2pipe run -p name=text`` would; a value
the run would refuse is ``{ok: false, error, param}`` and starts nothing.

| endpoint | method | body / query | answer |
|---|---|---|---|
| ``inspect`` | POST | ``{path, content?}`` | ``{ok, inspect, cells, graph, error?}`` |
| ``graph`` | POST | ``{path, content?}`` | ``{ok, html}`` (the DAG of ``nb2pipe graph``) |
| ``convert`` | POST | ``{path, output?}`` | ``{ok, output, files, diagnostics, error?}`` |
| ``run`` | POST | ``{path, output?, params?}`` | ``{ok, run_id}`` (started in a worker) |
| ``run`` | GET | ``?path=&id=`` | ``{status, done, steps, metrics, error, graph, report_url}`` |
| ``run/cancel`` | POST | ``{path, id}`` | ``{ok, status}`` (``interrupted`` or ``finished``) |
| ``verify`` | POST | ``{path}`` | ``{ok, job}`` (started in a worker) |
| ``verify`` | GET | ``?id=`` | ``{done, status, result?}`` |
| ``report`` | GET | ``?path=&run=`` | the run report page (HTML) |
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_escape, url_path_join

from nb2pipe_lab import runctl, service
from nb2pipe_lab.service import Jobs, LabError, Workspace, error_json

NAMESPACE = "nb2pipe"


class BaseHandler(APIHandler):
    @property
    def ws(self) -> Workspace:
        return self.settings["nb2pipe_lab_workspace"]

    @property
    def jobs(self) -> Jobs:
        return self.settings["nb2pipe_lab_jobs"]

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise tornado.web.HTTPError(400, "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise tornado.web.HTTPError(400, "the request body must be a JSON object")
        return data

    def reply(self, data: Any) -> None:
        self.finish(json.dumps(data, default=repr))

    def bad(self, exc: BaseException) -> None:
        self.set_status(400)
        self.reply({"ok": False, "error": error_json(exc)})

    async def off_loop(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run blocking work in a thread: the server keeps answering (and the user typing)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: fn(*args, **kwargs))

    def notebook_and_output(self) -> tuple[Path, Path] | None:
        """The request's notebook and its package folder, both inside the server's root;
        None once a bad request has been answered."""
        data = self.body()
        try:
            notebook = self.ws.notebook(data.get("path"))
            return notebook, self.ws.output(notebook, data.get("output"))
        except LabError as exc:
            self.bad(exc)
            return None

    def internal(self, exc: BaseException, what: str) -> None:
        self.log.exception("nb2pipe_lab: %s failed", what)
        self.reply({"ok": False, "error": error_json(exc)})


class InspectHandler(BaseHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        data = self.body()
        try:
            result = await self.off_loop(
                service.inspect, self.ws, data.get("path"), data.get("content"),
                graph=bool(data.get("graph", True)),
            )  # fmt: skip
        except LabError as exc:
            return self.bad(exc)
        except Exception as exc:  # noqa: BLE001 - reported as one line, logged in full
            return self.internal(exc, "inspect")
        self.reply(result)


class GraphHandler(BaseHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        data = self.body()
        try:
            result = await self.off_loop(service.inspect, self.ws, data.get("path"),
                                         data.get("content"), graph=True)  # fmt: skip
        except LabError as exc:
            return self.bad(exc)
        except Exception as exc:  # noqa: BLE001
            return self.internal(exc, "graph")
        if result["ok"]:
            self.reply({"ok": True, "html": result["graph"]})
        else:
            self.reply({"ok": False, "error": result["error"]})


class ConvertHandler(BaseHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        target = self.notebook_and_output()
        if target is None:
            return
        notebook, output = target
        job = self.jobs.start("convert", notebook, output)
        await self.off_loop(job.proc.wait)
        answer = job.result() or {"ok": False, "error": job.crashed()}
        answer["output_rel"] = self.ws.relative(output)
        self.reply(answer)


class RunHandler(BaseHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        target = self.notebook_and_output()
        if target is None:
            return
        notebook, output = target
        params = self.body().get("params")
        try:  # the notebook as it was saved for this run: its parameters, the DAG to colour
            pipe = await self.off_loop(_load, notebook)
        except Exception:  # noqa: BLE001 - the worker reports the notebook's errors
            pipe = None
        run_id = service.new_id("run")
        extra: tuple[str, ...] = ()
        if params and pipe is not None:
            try:
                args = runctl.param_args(pipe, params)
            except runctl.ParamError as exc:  # a value the run would refuse: an answer
                return self.reply({"ok": False, "error": error_json(exc), "param": exc.param})
            except LabError as exc:
                return self.bad(exc)
            extra = ("--params", str(runctl.write_params(self.jobs.scratch, run_id, args)))
        job = self.jobs.start("run", notebook, output, job_id=run_id, extra=extra)
        job.dag = _dag_of(pipe, self.ws, notebook) if pipe is not None else None
        self.reply({"ok": True, "run_id": job.id, "output": self.ws.relative(output)})

    @tornado.web.authenticated
    async def get(self) -> None:
        run_id = self.get_query_argument("id", "")
        try:
            notebook = self.ws.notebook(self.get_query_argument("path", ""))
            job = self.jobs.get(run_id, "run")
            status = service.run_status(self.ws, notebook, run_id, job)
            record = service.read_record(service.runs_dir(notebook) / run_id)
            status["graph"] = await self.off_loop(service.run_graph, job, record)
        except LabError as exc:
            return self.bad(exc)
        except Exception as exc:  # noqa: BLE001
            return self.internal(exc, "run status")
        if status.get("report"):
            status["report_url"] = (
                url_path_join(self.base_url, NAMESPACE, "report")
                + f"?path={url_escape(self.ws.relative(notebook))}&run={url_escape(run_id)}"
            )
        self.reply(status)


class CancelHandler(BaseHandler):
    """Stop a run started by this server (``{path, id}``): the run is recorded as
    interrupted; ``{ok, status}``, the status ``interrupted`` or ``finished`` (it had ended)."""

    @tornado.web.authenticated
    async def post(self) -> None:
        data = self.body()
        try:
            notebook = self.ws.notebook(data.get("path"))
            job = self.jobs.get(data.get("id"), "run")
            if job is None or job.notebook != notebook:
                raise LabError("no such run of this notebook (the server may have restarted)")
        except LabError as exc:
            return self.bad(exc)
        try:
            status = await self.off_loop(runctl.cancel, job, service.runs_dir(notebook) / job.id)
        except Exception as exc:  # noqa: BLE001 - e.g. a worker that would not die
            return self.internal(exc, "cancel")
        self.reply({"ok": True, "status": status})


class VerifyHandler(BaseHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        data = self.body()
        try:
            notebook = self.ws.notebook(data.get("path"))
        except LabError as exc:
            return self.bad(exc)
        job = self.jobs.start("verify", notebook, None)
        self.reply({"ok": True, "job": job.id})

    @tornado.web.authenticated
    async def get(self) -> None:
        job = self.jobs.get(self.get_query_argument("id", ""), "verify")
        if job is None:
            return self.bad(LabError("no such verification (the server may have restarted)"))
        answer = job.result()
        crashed = job.crashed()
        if answer is not None:
            self.reply({"done": True, "status": "done", "result": answer})
        elif crashed is not None:
            self.reply({"done": True, "status": "error", "result": {"ok": False, "error": crashed}})
        else:
            self.reply({"done": False, "status": job.phase() or "starting",
                        "seconds": round(_now() - job.started, 1)})  # fmt: skip


class ReportHandler(JupyterHandler):
    """The run report page. Served sandboxed: no script of the page runs with the server's
    origin (the report is autoescaped HTML; this is defence in depth)."""

    @property
    def content_security_policy(self) -> str:
        return (
            "sandbox allow-popups; default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data: blob:; font-src data:"
        )

    @tornado.web.authenticated
    async def get(self) -> None:
        ws: Workspace = self.settings["nb2pipe_lab_workspace"]
        try:
            notebook = ws.notebook(self.get_query_argument("path", ""))
            run_id = self.get_query_argument("run", "")
            loop = asyncio.get_running_loop()
            html = await loop.run_in_executor(None, service.report_html, notebook, run_id)
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            if not isinstance(exc, service.Nb2pipeError):
                self.log.exception("nb2pipe_lab: report failed")
            self.set_status(404 if isinstance(exc, service.Nb2pipeError) else 500)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(error_json(exc)["text"])
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)


def _load(notebook: Any) -> Any:
    from nb2pipe import api

    return api.load(notebook)


def _dag_of(pipe: Any, ws: Workspace, notebook: Any) -> Any:
    from nb2pipe.viz.graph import from_pipeline

    return from_pipeline(pipe, source=ws.relative(notebook))


def _now() -> float:
    import time

    return time.time()


def setup_handlers(server_app: Any) -> None:
    web_app = server_app.web_app
    web_app.settings["nb2pipe_lab_workspace"] = Workspace(server_app.root_dir)
    jobs = Jobs()
    web_app.settings["nb2pipe_lab_jobs"] = jobs
    base = url_path_join(web_app.settings["base_url"], NAMESPACE)
    routes = [
        ("inspect", InspectHandler),
        ("graph", GraphHandler),
        ("convert", ConvertHandler),
        ("run", RunHandler),
        ("run/cancel", CancelHandler),
        ("verify", VerifyHandler),
        ("report", ReportHandler),
    ]
    web_app.add_handlers(".*$", [(url_path_join(base, name), h) for name, h in routes])
    try:  # stop the workers with the server
        import atexit

        atexit.register(jobs.stop_all)
    except Exception:  # noqa: BLE001
        pass
