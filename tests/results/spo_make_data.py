"""Make tests/results/spo_cp_data.csv: the SPO counting-process table of a modest simulated sample.

The stored CSV is the reference input (R and Python both read it); re-running this script after a change
to attrition.synthetic gives different data, so re-run spo_reference.R too.

Run from the repository root: ``.venv/bin/python tests/results/spo_make_data.py``, then
``Rscript tests/results/spo_reference.R`` (writes spo_reference.csv).
"""
import warnings
from pathlib import Path

import numpy as np

from attrition._utils import check_random_state
from attrition.effects import spo
from attrition.synthetic import simulate

HERE = Path(__file__).parent
N_CASES, SEED, MAX_CASES, SAMPLE_SEED = 30_000, 20261124, 6_000, 7

if __name__ == "__main__":
    d = simulate(n_cases=N_CASES, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a generator artefact may drop a case or two; the table is what counts
        cp = spo.spo_counting_process(d.cases)
    treated = cp.groupby("case_id", sort=False)["spo"].transform("max").to_numpy() > 0
    first = ~cp["case_id"].duplicated().to_numpy()
    w = spo._control_sample(treated[first], MAX_CASES, check_random_state(SAMPLE_SEED))
    cp["w"] = np.repeat(w, np.diff(np.r_[np.flatnonzero(first), len(cp)]))
    cp = cp.drop(columns=["event"])
    cp.to_csv(HERE / "spo_cp_data.csv", index=False, float_format="%.17g")
    print(len(cp), "rows", int(cp["spo"].sum()), "exposed rows")
