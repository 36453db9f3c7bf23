"""Reference values for tests/test_pooling.py: statsmodels BinomialBayesMixedGLM (random-intercept logistic,
variational Bayes) on 43 groups, against which the empirical-Bayes beta-binomial shrinkage is compared.

Run from the repository root: ``.venv/bin/python tests/results/pooling_statsmodels.py``
(writes tests/results/pooling_statsmodels.csv; takes ~30 s).
"""
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

rng = np.random.default_rng(5)
G = 43
n = rng.integers(20, 600, G)
p = 1 / (1 + np.exp(-(-1.5 + rng.normal(0, 0.4, G))))
x = rng.binomial(n, p)
rows = pd.DataFrame({"g": np.repeat(np.arange(G), n)})
rows["y"] = np.concatenate([np.r_[np.ones(xi), np.zeros(ni - xi)] for xi, ni in zip(x, n)])
model = BinomialBayesMixedGLM.from_formula("y ~ 1", {"g": "0 + C(g)"}, rows)
fit = model.fit_vb()
post = 1 / (1 + np.exp(-(fit.fe_mean[0] + fit.vc_mean)))
out = pd.DataFrame({"group": np.arange(G), "n": n, "x": x, "glmm_posterior_mean": post,
                    "glmm_sd_logit": np.exp(fit.vcp_mean[0])})
out.to_csv(Path(__file__).with_name("pooling_statsmodels.csv"), index=False, float_format="%.10g")
