"""True risks of the target-trial test world (tests/_trial_world.py) under each strategy, by simulation.

Run from the repository root: ``python tests/results/trial_world_truth.py`` (about 3 minutes); writes
``tests/results/trial_world_truth.csv``. 1,000,000 cases per strategy (common random numbers), so the
Monte Carlo SE of a risk is at most 0.0005 and of a log RR about 0.004 (charge) / 0.002 (withdrawal).
"""
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _trial_world import world_truth  # noqa: E402

rows = []
for escalation in (False, True):
    t = world_truth(1_000_000, random_state=2026, escalation=escalation)
    rows.append(t.rename_axis("outcome").reset_index().assign(escalation=escalation))
pd.concat(rows).to_csv(HERE / "trial_world_truth.csv", index=False, float_format="%.6f")
