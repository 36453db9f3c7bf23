"""Resampling loops through joblib: one random stream per replicate, so results never depend on the workers.

Every loop of independent replicates in ``attrition`` (power simulations, replication studies, bootstraps)
goes through :func:`replicate` or :func:`run_tasks`. Both hand the work to :class:`joblib.Parallel`, so they

* run sequentially by default (``n_jobs=None`` and no active joblib configuration);
* honour the active joblib backend: inside ``with joblib.parallel_config(backend="loky", n_jobs=2):`` or
  ``with joblib.parallel_config(backend="dask"):`` (a ``dask.distributed.Client`` open) the same call runs
  on those workers;
* give identical results whatever the backend and the number of workers, because each replicate draws from
  its own child generator spawned in order from ``random_state``
  (:meth:`numpy.random.Generator.spawn`), never from a shared stream.

The functions run in the workers must be importable (defined at module level), as joblib requires.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ._utils import check_random_state

__all__ = ["replicate", "run_tasks", "spawn"]


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
        active); ``-1`` all cores.
    progress : bool, default False
        Show a text progress bar (tqdm, on stderr).
    desc : str
        Label of the progress bar.

    Returns
    -------
    list
        The results, in the order of ``tasks``.
    """
    _check_n_jobs(n_jobs)
    from joblib import Parallel, delayed

    tasks = list(tasks)
    it: Iterable = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(func)(*t) for t in tasks)
    if progress:
        # a text bar: tqdm.auto would need ipywidgets in notebooks and warns without them
        from tqdm import tqdm

        it = tqdm(it, total=len(tasks), desc=desc, leave=False)
    return list(it)


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
