"""Fixtures of the cluster executors' tests: one real Dask LocalCluster (2 worker
processes, one thread each) shared by the module's tests, as starting one costs seconds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    import dask
    import distributed  # nb2pipe[dask], in the dev extra

    from nb2pipe.runtime.cluster.dask_executor import RETRIES

    # the setting a run's own LocalCluster gets: a task whose worker dies runs once more
    with dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            silence_logs=40,
        )  # fmt: skip
    try:
        yield cluster
    finally:
        cluster.close()
