"""The job executor: every engine returns the jobs' results in their order, with the thread count asked for; the
smoke profile's stage-04 fits give the same forecasts in this process, on local worker processes and on a local
Ray or Dask cluster (loopback only)."""
import functools
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from gan_testing import design

from salesgan_utils import benchmark, executor, fair_gan, params
from salesgan_utils.windows import random_windowset

HAS_DASK = importlib.util.find_spec("distributed") is not None
HAS_RAY = importlib.util.find_spec("ray") is not None


def _seeded_matmul(context, job):
    """A job whose numbers depend on its inputs only: seeded weights times the shared context."""
    generator = torch.Generator().manual_seed(job["seed"])
    weights = torch.randn(context.shape[1], 3, generator=generator)
    return {"seed": job["seed"], "out": (context @ weights).numpy(), "threads": torch.get_num_threads()}


@pytest.fixture(scope="module")
def shared():
    return torch.arange(12, dtype=torch.float32).reshape(4, 3)


JOBS = [{"seed": s} for s in (3, 1, 4, 1, 5)]


def _check(results, shared):
    assert [r["seed"] for r in results] == [3, 1, 4, 1, 5]
    for job, result in zip(JOBS, results):
        alone = _seeded_matmul(shared, job)["out"]
        np.testing.assert_array_equal(result["out"], alone)
    assert {r["threads"] for r in results} == {1}


def test_local_runs_in_order_and_reports_every_job(shared):
    seen = []
    results = executor.run_jobs(_seeded_matmul, JOBS, context=shared, n_jobs=1,
                                on_result=lambda i, r: seen.append((i, r["seed"])))
    _check(results, shared)
    assert seen == [(0, 3), (1, 1), (2, 4), (3, 1), (4, 5)]


@pytest.mark.slow
def test_a_process_pool_returns_what_a_sequential_run_returns(shared):
    seen = []
    results = executor.run_jobs(_seeded_matmul, JOBS, context=shared, n_jobs=2, threads=1,
                                on_result=lambda i, r: seen.append(i))
    _check(results, shared)
    assert sorted(seen) == [0, 1, 2, 3, 4]


def test_jobs_are_started_costliest_first_and_returned_in_job_order():
    assert executor.submission_order(5, None) == [0, 1, 2, 3, 4]
    assert executor.submission_order(5, [1, 9, 3, 9, 0]) == [1, 3, 2, 0, 4]  # ties in job order
    with pytest.raises(ValueError, match="cost has 2 entries for 3 jobs"):
        executor.submission_order(3, [1, 2])


def _started(context, job):
    import time

    return {"job": job, "started": time.monotonic()}


@pytest.mark.slow
def test_a_pool_of_one_worker_starts_the_jobs_in_cost_order():
    pool = executor._Pool(None, 1, "", 1)  # one worker: the start order is the submission order
    try:
        jobs = ["a", "b", "c", "d"]
        out = dict(pool.submit(_started, jobs, executor.submission_order(4, [2, 7, 1, 5])))
    finally:
        pool.close()
    assert [out[i]["job"] for i in range(4)] == jobs  # each index carries its own job's result
    assert sorted(range(4), key=lambda i: out[i]["started"]) == [1, 3, 0, 2]


def _wait_for_flag(context, flag):
    """A long job: it ends only once the caller has created `flag` (at most 60 s)."""
    deadline = time.monotonic() + 60
    while not Path(flag).exists():
        if time.monotonic() > deadline:
            return "timed out"
        time.sleep(0.05)
    return "released"


@pytest.mark.slow
def test_a_submitted_job_runs_beside_later_calls_on_the_same_pool(shared, tmp_path):
    flag = tmp_path / "flag"
    with executor.Engine(shared, n_jobs=2, threads=1) as engine:
        long = engine.submit(_wait_for_flag, [str(flag)])
        # the other worker runs these while the long job holds the first: `run` returns before it ends
        _check(engine.run(_seeded_matmul, JOBS), shared)
        flag.touch()
        assert long.result() == ["released"] and long.result() is long.result()


def test_in_this_process_a_submission_runs_at_once_and_then_maps_its_result(shared):
    seen = []
    with executor.Engine(shared, n_jobs=1, threads=1) as engine:
        pending = engine.submit(_seeded_matmul, JOBS[:2], on_result=lambda i, r: seen.append(i))
        counted = pending.then(len)
        assert seen == []  # gathered (and reported) when the result is asked for
        assert counted.result() == 2 and seen == [0, 1]
        assert [r["seed"] for r in pending.result()] == [3, 1] and seen == [0, 1]  # gathered once


def test_the_caller_s_thread_count_is_restored(shared):
    before = torch.get_num_threads()
    executor.run_jobs(_seeded_matmul, JOBS[:2], context=shared, n_jobs=1, threads=1)
    assert torch.get_num_threads() == before


def test_bad_engine_and_worker_count_are_refused_in_one_line(shared):
    with pytest.raises(ValueError, match="executor = 'spark': expected one of .*set executor=local"):
        executor.run_jobs(_seeded_matmul, JOBS, executor="spark")
    with pytest.raises(ValueError, match="n_jobs = -2: expected 0 .* or a worker count"):
        executor.run_jobs(_seeded_matmul, JOBS, n_jobs=-2)
    assert executor.resolve_n_jobs(0) == executor.available_cores() >= 1
    assert executor.run_jobs(_seeded_matmul, [], executor="ray") == []


def _smoke_benchmark(out_dir, **engine):
    """Stage 04 with the smoke profile's settings (and the LightGBM phase) on small seeded windows and GAN
    samples, with fair generators at 60 windows submitted to the stage's engine as notebook 04 does, and the
    history-analog arms."""
    settings = params.stage_params(4, params.load_profile("smoke"))
    kw = benchmark.settings_from_params(settings)
    kw.update(scarcity_sizes=(60, 0), reference_size=0, n_boot=20, practitioner_gbm=True, analog_k=2, **engine)
    train, val, test = (random_windowset(n, seed=s) for n, s in ((160, 0), (40, 1), (40, 2)))
    days = pd.date_range("2016-10-01", periods=60)
    rng = np.random.default_rng(7)
    train_df = pd.DataFrame({"unique_id": np.repeat([f"e{i}" for i in range(4)], 60), "ds": np.tile(days, 4),
                             "y": rng.poisson(1.0, 240).astype(float)})
    gan = np.random.default_rng(3).random((len(train), 2, train.horizon), dtype=np.float32)
    fair = functools.partial(fair_gan.submit_fair_generators, train=train, val=val,
                             config=design("counts", gru_layers=1, batch_size=20).for_windows(train), sizes=[60],
                             seeds=kw["seeds"], steps=4, k=2, out_dir=out_dir, val_every=2, ensembles=2)
    return benchmark.run_benchmark(train, val, test, gan, train_df, num_threads=1, log=None, fair_gan=fair, **kw)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    return _smoke_benchmark(tmp_path_factory.mktemp("sequential"), n_jobs=1)


@pytest.mark.slow
def test_smoke_stage_04_on_two_worker_processes_gives_the_sequential_forecasts(sequential, tmp_path):
    parallel = _smoke_benchmark(tmp_path, n_jobs=2)
    assert len(sequential.fits) >= 10 and sequential.forecasts["model"].nunique() > 5
    assert (sequential.forecasts["model"] == benchmark.gbm.MODEL).any()  # LightGBM fits are jobs too
    assert (sequential.fits["augmentation"] == "gan_fair").any()  # the fair generators trained on the engine
    assert parallel.forecasts.equals(sequential.forecasts)
    assert json.dumps(parallel.summary["regimes"]) == json.dumps(sequential.summary["regimes"])  # NaN-safe
    assert [g["best_val_crps"] for g in parallel.summary["fair_generators"]] == \
        [g["best_val_crps"] for g in sequential.summary["fair_generators"]]


@pytest.mark.slow
@pytest.mark.skipif(not HAS_DASK, reason="dask.distributed is not installed (optional extra: pip install -e "
                                         "'.[cluster]')")
def test_smoke_stage_04_on_a_local_dask_cluster_gives_the_sequential_forecasts(sequential, tmp_path):
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        on_cluster = _smoke_benchmark(tmp_path, executor="dask", executor_address=cluster.scheduler_address)
    assert on_cluster.forecasts.equals(sequential.forecasts)
    assert on_cluster.fits.drop(columns="fit_seconds").equals(sequential.fits.drop(columns="fit_seconds"))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (optional extra: pip install -e '.[cluster]')")
def test_smoke_stage_04_on_a_local_ray_cluster_gives_the_sequential_forecasts(sequential, tmp_path):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        on_cluster = _smoke_benchmark(tmp_path, executor="ray")
        # the executor uses the cluster this process is connected to and leaves it running
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert on_cluster.forecasts.equals(sequential.forecasts)
