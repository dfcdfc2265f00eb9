"""nbconvert's exporter of nb2pipe: ``jupyter nbconvert --to nb2pipe notebook.ipynb``.

Registered under nbconvert's own entry-point group (``nbconvert.exporters``), so the same
converter is one click away in JupyterLab's "Save and Export Notebook As" menu (where the
package is downloaded as a zip). It writes the package ``nb2pipe convert`` would write
for the notebook, into ``pipelines/<name>/`` under nbconvert's output folder
(``--output-dir``, default: the current one): the package's README.md is nbconvert's
main output, its other files nbconvert's extra outputs, the manifest among them. Unlike
``nb2pipe convert``, nbconvert's writer removes no stale file of an older conversion and
does not check that generated files were left unedited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbconvert.exporters import Exporter
from traitlets import Unicode


class PackageExporter(Exporter):
    """The notebook as an nb2pipe pipeline package."""

    export_from_notebook = "nb2pipe pipeline package"  # the label in JupyterLab's menu
    output_mimetype = "text/markdown"
    folder = Unicode(
        "pipelines", help="folder of the package, under nbconvert's output folder"
    ).tag(config=True)

    def _file_extension_default(self) -> str:
        return ".md"

    def from_filename(
        self, filename: str, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        self._source = Path(filename)
        try:
            return super().from_filename(filename, resources, **kw)
        finally:
            del self._source

    def from_notebook_node(
        self, nb: Any, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        from nb2pipe import api
        from nb2pipe.codegen import package as codegen
        from nb2pipe.codegen import writeplan
        from nb2pipe.codegen.location import module_path

        _, resources = super().from_notebook_node(nb, resources, **kw)
        source = getattr(self, "_source", None) or _saved_notebook(resources)
        pipe = api.load(source)
        build_dir = Path(self.config.get("FilesWriter", {}).get("build_directory") or ".")
        rel_dir = f"{self.folder.strip('/') or '.'}/{pipe.name}"
        files = codegen.build(pipe, build_dir / rel_dir)
        hashes = {rel: writeplan.sha256(text) for rel, text in files.items()}
        module = module_path(build_dir / rel_dir)
        files[writeplan.MANIFEST] = writeplan.manifest_text(hashes, module=module)
        readme = files.pop("README.md")
        resources["outputs"] = {f"{rel_dir}/{rel}": text.encode() for rel, text in files.items()}
        resources["unique_key"] = f"{rel_dir}/README"  # nbconvert writes it as README.md
        resources["output_extension"] = ".md"
        return readme, resources


def _saved_notebook(resources: dict[str, Any]) -> Path:
    """The notebook's file (nbconvert's server hands over the saved notebook's folder and
    name, not its path)."""
    meta = resources.get("metadata") or {}
    folder, name = meta.get("path") or "", meta.get("name") or ""
    path = Path(folder) / f"{name}.ipynb"
    if not name or not path.is_file():
        raise ValueError("nb2pipe converts a saved notebook file: save it first")
    return path
