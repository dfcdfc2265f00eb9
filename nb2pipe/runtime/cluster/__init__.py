"""Executors on clusters: Dask (:mod:`.dask_executor`) and Ray (:mod:`.ray_executor`).

Both are plugins of :class:`~nb2pipe.runtime.executors.StepExecutor` (entry points
``dask`` and ``ray`` of ``nb2pipe.executors``, extras ``nb2pipe[dask]``/``nb2pipe[ray]``)
and share what this package holds: the check of the workers' environments before the first
task (:mod:`.envcheck`), the data files a step reads, uploaded to the store once per
content and materialised in the worker's scratch folder (:mod:`.datafiles`), and the
function a worker runs (:func:`.worker.run_task`).
"""
