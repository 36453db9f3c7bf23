"""attrition._parallel: replicate/run_tasks give the same numbers for any backend and number of workers."""
import joblib
import numpy as np
import pandas as pd
import pytest

from attrition._parallel import iter_tasks, replicate, run_tasks, spawn


def _draw(rng, k):
    return rng.normal(size=k).sum()


def _add(a, b):
    return a + b


def test_replicate_is_reproducible_and_independent():
    a = replicate(_draw, 5, random_state=3, args=(4,))
    b = replicate(_draw, 5, random_state=3, args=(4,))
    assert a == b
    assert len(set(a)) == 5  # each replicate has its own stream
    # the children are numpy's spawn of the parent, in order
    expected = [g.normal(size=4).sum() for g in np.random.default_rng(3).spawn(5)]
    assert np.allclose(a, expected, rtol=0, atol=0)


def test_results_do_not_depend_on_workers_or_backend():
    seq = replicate(_draw, 6, random_state=11, args=(3,))
    par = replicate(_draw, 6, random_state=11, args=(3,), n_jobs=2)
    with joblib.parallel_config(backend="threading", n_jobs=2):
        thr = replicate(_draw, 6, random_state=11, args=(3,))
    assert seq == par == thr


def test_run_tasks_keeps_order_and_checks_n_jobs():
    assert run_tasks(_add, [(1, 2), (3, 4), (5, 6)]) == [3, 7, 11]
    with pytest.raises(ValueError, match="n_jobs"):
        run_tasks(_add, [(1, 2)], n_jobs=0)
    with pytest.raises(ValueError, match="non-negative"):
        spawn(1, -1)


def _worker_name(rng):
    from distributed import get_worker

    return get_worker().name


@pytest.mark.slow
def test_a_power_study_on_a_dask_cluster_equals_the_sequential_run():
    """The documented path for a user who outgrows one machine: a Dask cluster through joblib's backend."""
    distributed = pytest.importorskip("distributed")
    from attrition.effects.power import power_officer_study

    fast = dict(reports_per_year=1_000, n_sims=3, progress=False, return_replications=True)
    seq, seq_reps = power_officer_study(1.8, random_state=11, n_jobs=1, **fast)
    # worker processes, as on a real cluster (threads would share the warning filters the replicates set)
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
          as cluster, distributed.Client(cluster), joblib.parallel_config(backend="dask")):
        dsk, dsk_reps = power_officer_study(1.8, random_state=11, **fast)
        # the default n_jobs=None really sends replicates to the cluster's workers
        workers = replicate(_worker_name, 4, random_state=0)
    pd.testing.assert_series_equal(seq, dsk)
    pd.testing.assert_frame_equal(seq_reps, dsk_reps)
    assert (seq_reps["error"] == "").all() and np.isfinite(seq_reps["estimate"]).all()
    assert set(workers) <= {0, 1} and len(workers) == 4


def test_iter_tasks_yields_in_order_and_honours_the_backend():
    assert list(iter_tasks(_add, [(1, 2), (3, 4)])) == [3, 7]
    with joblib.parallel_config(backend="threading", n_jobs=2):
        assert list(iter_tasks(_add, [(1, 2), (3, 4), (5, 6)])) == [3, 7, 11]
    with pytest.raises(ValueError, match="n_jobs"):
        list(iter_tasks(_add, [(1, 2)], n_jobs=1.5))
