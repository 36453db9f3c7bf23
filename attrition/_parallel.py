"""Resampling loops through joblib: one random stream per replicate, so results never depend on the workers.

Every Python loop of independent replicates in ``attrition`` (power simulations, the replication studies in
``tests/studies``, bootstraps that refit a model in each replicate) goes through
:func:`replicate`, :func:`run_tasks` or :func:`iter_tasks`. They hand the work to :class:`joblib.Parallel`,
so they

* run sequentially by default (``n_jobs=None`` and no active joblib configuration);
* honour the active joblib backend: inside ``with joblib.parallel_config(backend="loky", n_jobs=2):`` or
  ``with joblib.parallel_config(backend="dask"):`` (a ``dask.distributed.Client`` open) the same call runs
  on those workers; an explicit ``n_jobs=1`` always runs here;
* give identical results whatever the backend and the number of workers, because each replicate draws from
  its own child generator spawned in order from ``random_state``
  (:meth:`numpy.random.Generator.spawn`), never from a shared stream.

Resampling that is one matrix operation needs no loop and stays in numpy: the wild cluster bootstrap of
:func:`attrition.effects.officer.officer_effect` (a draws x forces matrix of multipliers times the forces'
influence functions), the posterior draws of :mod:`attrition.pooling`, :class:`attrition.funnel.FunnelFitter`
and :mod:`attrition.mischarging`, and the imputation draws of :func:`attrition.trends.impute_missing_forces`.

Running on a Dask cluster (``pip install dask distributed``)::

    from dask.distributed import Client
    import joblib
    client = Client("tcp://scheduler:8786")        # or Client() for a local cluster
    with joblib.parallel_config(backend="dask"):
        power_curve({"effect_hr": [1.0, 1.4, 1.8]}, n_sims=500, random_state=1)

The numbers are those of the sequential call (``tests/test_parallel.py`` checks it on a local cluster).
The functions run in the workers must be importable (defined at module level), as joblib requires, and the
workers need ``attrition`` installed.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from ._utils import check_random_state

__all__ = ["iter_tasks", "replicate", "run_tasks", "spawn"]


def single_thread_blas():
    """Context manager holding BLAS/OpenMP to one thread (``threadpoolctl``).

    For loops of many small matrix products (a Newton fit per bootstrap replicate): on a busy 2-core machine
    a threaded BLAS spends most of such a product waiting for its threads (a 20,000 x 65 cross-product took
    420 ms with two threads against 9 ms with one). Parallelism belongs to the replicates (joblib), not to
    the products inside them.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def spawn(random_state, n: int) -> list[np.random.Generator]:
    """``n`` independent child generators of ``random_state``, the same ones on every call with the same seed.

    Parameters
    ----------
    random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
    n : int
        Number of children (>= 0).
    """
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"the number of replicates must be a non-negative integer, got {n!r}")
    return check_random_state(random_state).spawn(int(n))


def _check_n_jobs(n_jobs) -> None:
    if n_jobs is not None and (not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs == 0):
        raise ValueError(f"n_jobs must be None (the active joblib configuration) or a non-zero integer "
                         f"(-1 = all cores), got {n_jobs!r}")


def iter_tasks(func: Callable, tasks: Sequence[tuple], *, n_jobs: int | None = None, progress: bool = False,
               desc: str = "replicates") -> Iterator:
    """The results of ``func(*task)`` for each task, through joblib, yielded in order as they are done.

    For long studies that save each result as it arrives; :func:`run_tasks` collects them in a list.
    Arguments as :func:`run_tasks`.
    """
    _check_n_jobs(n_jobs)
    from joblib import Parallel, delayed

    tasks = list(tasks)
    it: Iterable = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(func)(*t) for t in tasks)
    if progress:
        # a text bar: tqdm.auto would need ipywidgets in notebooks and warns without them
        from tqdm import tqdm

        it = tqdm(it, total=len(tasks), desc=desc, leave=False)
    yield from it


def run_tasks(func: Callable, tasks: Sequence[tuple], *, n_jobs: int | None = None, progress: bool = False,
              desc: str = "replicates") -> list:
    """``[func(*task) for task in tasks]``, through joblib, in order.

    Parameters
    ----------
    func : callable
        A module-level function (workers import it).
    tasks : sequence of tuple
        Positional arguments of each call.
    n_jobs : int, optional
        Workers. ``None`` (default) uses the active :func:`joblib.parallel_config` (sequential when none is
        active); ``-1`` all cores. An explicit ``1`` always runs in this process, whatever the configuration.
    progress : bool, default False
        Show a text progress bar (tqdm, on stderr).
    desc : str
        Label of the progress bar.

    Returns
    -------
    list
        The results, in the order of ``tasks``.
    """
    _check_n_jobs(n_jobs)  # raise here, not at the first next() of the generator
    return list(iter_tasks(func, tasks, n_jobs=n_jobs, progress=progress, desc=desc))


def replicate(func: Callable, n: int, *, random_state=None, args: tuple = (), n_jobs: int | None = None,
              progress: bool = False, desc: str = "replicates") -> list:
    """``[func(rng_i, *args) for i in range(n)]`` with independent child generators ``rng_i``.

    Parameters
    ----------
    func : callable
        ``func(rng, *args)``, a module-level function; ``rng`` is the replicate's own
        :class:`numpy.random.Generator`.
    n : int
        Number of replicates.
    random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Parent seed; the children are spawned from it in order, so the results are identical for any
        ``n_jobs`` or backend.
    args : tuple
        Further positional arguments, the same for every replicate (sent to each worker once per task;
        keep large arrays few).
    n_jobs, progress, desc
        As in :func:`run_tasks`.

    Returns
    -------
    list
        One result per replicate, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from attrition._parallel import replicate
    >>> def mean_of_draws(rng, k):
    ...     return rng.normal(size=k).mean()
    >>> a = replicate(mean_of_draws, 4, random_state=1, args=(10,))
    >>> b = replicate(mean_of_draws, 4, random_state=1, args=(10,), n_jobs=2)  # doctest: +SKIP
    >>> np.allclose(a, b)  # doctest: +SKIP
    True
    """
    return run_tasks(func, [(rng, *args) for rng in spawn(random_state, n)], n_jobs=n_jobs, progress=progress,
                     desc=desc)
