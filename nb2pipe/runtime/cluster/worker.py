"""What a cluster worker runs for one step (the task and its data files cross by pickle)."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

from nb2pipe.runtime.execute import StepOutcome, StepTask, execute
from nb2pipe.runtime.store import store_at


def run_task(task: StepTask, files: tuple[tuple[str, str], ...]) -> StepOutcome:
    """Materialise the data files in the scratch folder, run the step there, and say
    which artifacts this worker wrote (no signal handling: Dask runs tasks in a thread)."""
    from nb2pipe.runtime.cluster.datafiles import materialise

    if task.package_root not in sys.path:
        sys.path.insert(0, task.package_root)
    store = store_at(task.store_root)
    task = replace(task, workdir=materialise(files, store, task))
    first = len(store.written)
    outcome = execute(task, store)
    outcome.written = store.written[first:]
    return outcome


def environment(dists: list[str]) -> dict[str, Any]:
    from nb2pipe.runtime.cluster.envcheck import environment as env

    return env(dists)
