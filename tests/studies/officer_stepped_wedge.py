"""Power (or type I error) of a stepped-wedge roll-out of dedicated officers (attrition.effects.power_stepped_wedge).

Run from the repository root (2 workers):
``OMP_NUM_THREADS=1 .venv/bin/python tests/studies/officer_stepped_wedge.py HR N_SIMS REPORTS_PER_YEAR STEPS PER_STEP [did]``
e.g. ``... officer_stepped_wedge.py 1.3 40 120000 3 4`` (national volume, 3 yearly steps of 4 forces).
"""
import sys
import time
import warnings

import numpy as np

from attrition.effects import power_stepped_wedge

if __name__ == "__main__":
    hr, sims, rpy, steps, per = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    analysis = sys.argv[6] if len(sys.argv) > 6 else "randomisation"
    warnings.simplefilter("ignore")
    t0 = time.time()
    # no effect at all when hr == 1: the officer's effect on recording also raises charging in the generator
    extra = {"officer_or_recording": 1.0} if hr == 1.0 else {}
    s = power_stepped_wedge(hr, n_steps=steps, forces_per_step=per, reports_per_year=rpy, analysis=analysis,
                            n_sims=sims, random_state=7000, n_jobs=2, progress=False, **extra)
    print(s.to_string())
    print(f"power {s['power']:.3f} (MC SE {s['power_se']:.3f}); coverage {s['coverage']:.3f} (MC SE "
          f"{np.sqrt(s['coverage'] * (1 - s['coverage']) / (s['n_sims'] - s['n_failed'])):.3f})")
    print(f"runtime {time.time() - t0:.0f} s on 2 workers")
