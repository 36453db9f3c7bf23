"""Tests of the CR2 (bias-reduced linearisation) variances of attrition.effects.officer (officer_effect and
officer_did): R clubSandwich references (tests/results/officer_cr2.R), dense brute force, the closed form of
a one-way cluster design, Bell-McCaffrey df, simulation coverage."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from scipy.special import expit

from attrition.effects.officer import EXPOSURE, _CR2, merge_officer, officer_did, officer_effect
from attrition.exceptions import StatisticalWarning
from attrition.synthetic import simulate

RESULTS = Path(__file__).parent / "results"

LO, HI = "lower 95%", "upper 95%"
MEASURES = ["risk_untreated", "risk_treated", "risk_difference", "risk_ratio", "odds_ratio"]


def _tiny(seed=7, n=500, n_forces=6):
    """Small forces of unequal size, two years; forces F1-F3 have an officer in 2021/22."""
    rng = np.random.default_rng(seed)
    w = np.arange(1, n_forces + 1, dtype=float)
    force = rng.choice([f"F{k}" for k in range(1, n_forces + 1)], size=n, p=w / w.sum())
    fy = rng.choice(["2020/21", "2021/22"], size=n)
    risk = rng.choice(["standard", "high"], size=n, p=[0.7, 0.3])
    off = np.isin(force, ["F1", "F2", "F3"]) & (fy == "2021/22")
    u = dict(zip([f"F{k}" for k in range(1, n_forces + 1)], rng.normal(0, 0.4, n_forces)))
    y = rng.random(n) < expit(-1.2 + 0.7 * off + 0.9 * (risk == "high") + pd.Series(force).map(u).to_numpy())
    cases = pd.DataFrame({"force": force, "financial_year": fy, "risk": risk, "charged": y})
    forces = pd.DataFrame([(f"F{k}", yr, k <= 3 and yr == "2021/22") for k in range(1, n_forces + 1)
                           for yr in ("2020/21", "2021/22")], columns=["force", "financial_year", EXPOSURE])
    return cases, forces


def _sympow(S, power):
    """Symmetric matrix power with the Moore-Penrose convention for zero eigenvalues."""
    ev, Q = np.linalg.eigh((S + S.T) / 2)
    keep = ev > 1e-12
    d = np.zeros_like(ev)
    d[keep] = ev[keep] ** power
    return (Q * d) @ Q.T


def _dense_cr2(cases, forces, res):
    """CR2 SEs and Bell-McCaffrey df of the five measures with n x n matrices (Pustejovsky & Tipton 2018):
    upper Cholesky factors of the working inverse covariance, dense hat matrix, (I - H_gg)^{-1/2}."""
    df = merge_officer(cases, forces)
    codes = pd.factorize(df["force"], sort=True)[0]
    G = codes.max() + 1
    off = df[EXPOSURE].to_numpy(float)
    X = np.column_stack([np.ones(len(df)), off, (df["risk"] == "standard").to_numpy(float)])
    beta = res.attrs["coefficients"]["coef"].to_numpy()
    rho = res.attrs["working_correlation"]
    y = df["charged"].to_numpy(float)
    n = len(y)
    p = expit(X @ beta)
    A = p * (1 - p)
    D = X * A[:, None]
    L = np.zeros((n, n))  # block diagonal, L_g' L_g = V_g^{-1}
    for g in range(G):
        i = np.flatnonzero(codes == g)
        R = (1 - rho) * np.eye(len(i)) + rho
        V = np.sqrt(A[i])[:, None] * R * np.sqrt(A[i])[None, :]
        L[np.ix_(i, i)] = np.linalg.cholesky(np.linalg.inv(V)).T
    Bm = L @ D
    e = L @ (y - p)
    M = np.linalg.inv(Bm.T @ Bm)
    H = Bm @ M @ Bm.T
    Uadj = np.zeros((G, 3))
    Gm = [np.zeros((n, 3)) for _ in range(5)]
    grads, mus, cm = [], [], []
    for a in (0.0, 1.0):
        Xa = X.copy()
        Xa[:, 1] = a
        m = expit(Xa @ beta)
        mus.append(m.mean())
        grads.append((Xa * (m * (1 - m))[:, None]).mean(axis=0))
        cm.append(np.array([np.sum(m[codes == g] - m.mean()) / n for g in range(G)]))
    g0, g1 = grads
    mu0, mu1 = mus
    C = np.column_stack([g0, g1, g1 - g0, g1 / mu1 - g0 / mu0, [0, 1, 0]])
    Gcols = np.zeros((n, G, 5))
    for g in range(G):
        i = np.flatnonzero(codes == g)
        Ag = _sympow(np.eye(len(i)) - H[np.ix_(i, i)], -0.5)
        Uadj[g] = Bm[i].T @ Ag @ e[i]
        Gcols[i, g, :] = Ag @ Bm[i] @ M @ C
    IFb = Uadj @ M
    casemix = np.column_stack([cm[0], cm[1], cm[1] - cm[0], cm[1] / mu1 - cm[0] / mu0, np.zeros(G)])
    IF = casemix + IFb @ C
    se = np.sqrt(np.sum(IF**2, axis=0))
    dof = []
    for k in range(5):
        Om = Gcols[:, :, k].T @ (np.eye(n) - H) @ Gcols[:, :, k]
        dof.append(np.trace(Om) ** 2 / np.sum(Om**2))
    return se, np.array(dof), np.sqrt(np.diag(M @ Uadj.T @ Uadj @ M))


@pytest.mark.parametrize("method,correlation", [("glm_cluster", "independence"), ("gee", "exchangeable")])
def test_cr2_equals_dense_brute_force(method, correlation):
    cases, forces = _tiny()
    res = officer_effect(cases, forces, "charged", covariates=["risk"], method=method,
                         correlation=correlation, small_sample="cr2", naive=False)
    if method == "gee":
        assert res.attrs["working_correlation"] != 0
    se, dof, coef_se = _dense_cr2(cases, forces, res)
    assert_allclose(res["se"].to_numpy(), se, rtol=1e-10)
    assert_allclose(res["df"].to_numpy(), dof, rtol=1e-10)
    assert_allclose(res.attrs["coefficients"]["se"].to_numpy(), coef_se, rtol=1e-10)
    # the interval is t(df) on the reported scale
    rd = res.set_index("measure").loc["risk_difference"]
    q = stats.t(rd["df"]).ppf(0.975)
    assert_allclose([rd[LO], rd[HI]], [rd["estimate"] - q * rd["se"], rd["estimate"] + q * rd["se"]], rtol=1e-12)


def test_cr2_linear_one_way_design_closed_form():
    """y_gi = b0 + b1 T_g + e: CR2 variance of b1 is sum_a s_a^2 / G_a (s_a^2 = variance of the cluster means
    in arm a, equal cluster sizes) and the Bell-McCaffrey df is the Welch df with equal variances,
    (1/G1 + 1/G0)^2 / (1/(G1^2 (G1-1)) + 1/(G0^2 (G0-1))); for b0 (the control mean) G0 - 1."""
    rng = np.random.default_rng(3)
    G1, G0, m = 3, 10, 7
    G = G1 + G0
    codes = np.repeat(np.arange(G), m)
    T = (codes < G1).astype(float)
    y = 1.0 + 0.5 * T + rng.normal(0, 1, G)[codes] + rng.normal(0, 1, G * m)
    X = np.column_stack([np.ones(G * m), T])
    XtX = X.T @ X
    b = np.linalg.solve(XtX, X.T @ y)
    e = y - X @ b
    U = np.column_stack([np.bincount(codes, X[:, j] * e) for j in range(2)])
    K = np.stack([X[codes == g].T @ X[codes == g] for g in range(G)])
    cr2 = _CR2(K, XtX)
    Minv = np.linalg.inv(XtX)
    IF = cr2.adjust(U) @ Minv
    V = IF.T @ IF
    ybar = np.bincount(codes, y) / m
    s1, s0 = np.var(ybar[:G1], ddof=1), np.var(ybar[G1:], ddof=1)
    assert_allclose(V[1, 1], s1 / G1 + s0 / G0, rtol=1e-12)
    assert_allclose(V[0, 0], s0 / G0, rtol=1e-12)
    welch = (1 / G1 + 1 / G0) ** 2 / (1 / (G1**2 * (G1 - 1)) + 1 / (G0**2 * (G0 - 1)))
    assert_allclose(cr2.df(np.array([[0.0], [1.0]])), [welch], rtol=1e-12)
    assert_allclose(cr2.df(np.array([[1.0], [0.0]])), [G0 - 1], rtol=1e-12)
    # CR1 with G/(G-1) * (n-1)/(n-k) differs: smaller for the rare arm
    cr1 = G / (G - 1) * (G * m - 1) / (G * m - 2) * (Minv @ U.T @ U @ Minv)[1, 1]
    assert cr1 < V[1, 1]


@pytest.fixture(scope="module")
def default_nc():
    from attrition.data import load_default
    d = load_default()
    cases = d.cases.assign(suspect_found=d.cases["days_to_suspect_identified"].notna())
    out = {}
    for ss in ("t", "cr2"):
        for outcome in ("suspect_found", "charged"):
            out[ss, outcome] = officer_effect(cases, d.forces, outcome, method="glm_cluster", small_sample=ss,
                                              naive=False).set_index("measure")
    return d, out


def test_cr2_df_below_G_minus_1_with_few_exposed_forces(default_nc):
    d, out = default_nc
    cr1, cr2 = out["t", "charged"], out["cr2", "charged"]
    assert (cr1["df"] == 42).all() and cr1["n_exposed_clusters"].iloc[0] == 7
    # 7 exposed forces: the df of every contrast involving the exposed risk is about the number of exposed
    # forces, far below G - 1 = 42
    for m in ("risk_treated", "risk_difference", "risk_ratio", "odds_ratio"):
        assert 3 < cr2.loc[m, "df"] < 10, (m, cr2.loc[m, "df"])
    assert cr2.loc["risk_untreated", "df"] > cr2.loc["risk_treated", "df"]
    assert (cr2["se"] >= cr1["se"] * 0.99).all()
    assert (cr2.loc["risk_difference", HI] - cr2.loc["risk_difference", LO]
            > 1.2 * (cr1.loc["risk_difference", HI] - cr1.loc["risk_difference", LO]))
    assert_allclose(cr2["estimate"], cr1["estimate"], rtol=1e-12)
    truth = d.truth["officer_charged_rd"]
    assert cr2.loc["risk_difference", LO] <= truth <= cr2.loc["risk_difference", HI]
    assert cr2.loc["risk_difference", LO] > 0  # the real effect is still detected


def test_cr2_negative_control_on_default_data(default_nc):
    _, out = default_nc
    cr1, cr2 = out["t", "suspect_found"], out["cr2", "suspect_found"]
    rd1, rd2 = cr1.loc["risk_difference"], cr2.loc["risk_difference"]
    # suspect identification varies between forces with their investigative quality (the generator's force
    # quality), so the estimate is a force-level quantity with noise of a few points, not a case-level null
    assert abs(rd2["estimate"]) < 0.05
    assert rd2["p"] > rd1["p"] and rd2[HI] - rd2[LO] > rd1[HI] - rd1[LO]


def test_cr2_negative_control_covers_zero(default_nc):
    # the generator has no officer effect on suspect identification (an earlier generator's default dataset
    # excluded 0 by chance; the current one, with force quality, covers it)
    _, out = default_nc
    rd = out["cr2", "suspect_found"].loc["risk_difference"]
    assert rd[LO] <= 0 <= rd[HI]


def test_cr2_rejected_for_aipw():
    cases, forces = _tiny()
    with pytest.raises(ValueError, match="small_sample='cr2' is available for method 'gee' or 'glm_cluster'"):
        officer_effect(cases, forces, "charged", covariates=["risk"], method="aipw", small_sample="cr2")


def _study_function(monkeypatch, name: str):
    """``one`` of the study script ``tests/studies/<name>.py``, pickled by value for joblib's workers: a worker
    process started earlier (by another test on the same pytest-xdist worker) cannot import the script."""
    import importlib

    import cloudpickle  # joblib's workers unpickle with it when installed (it is, with dask)

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "studies"))
    module = importlib.import_module(name)
    cloudpickle.register_pickle_by_value(module)
    return module.one


@pytest.mark.slow
def test_cr2_coverage_of_charged_rd_replication(monkeypatch):
    """80 replications of the default design (43 forces, 7 with an officer, 3 adopting in the last year): the
    CR2 interval of the charge RD covers the truth; CR1 t(G-1) less often. A 300-replication run gave CR1
    0.887, CR2 0.947 (tests/studies/officer_coverage.py gives all methods); 80 keep the Monte Carlo SE near
    0.025."""
    from joblib import Parallel, delayed

    one = _study_function(monkeypatch, "officer_coverage")

    reps = 80
    methods = (("glm_cluster", "cr2"), ("glm_cluster", "t"))
    rows = [r for rep in Parallel(n_jobs=2)(delayed(one)(s, 40_000, methods) for s in range(reps)) for r in rep]
    df = pd.DataFrame(rows)
    assert "error" not in df.columns or df["error"].isna().all()
    cov = df[df["measure"] == "risk_difference"].groupby("small_sample")["cover"].mean()
    assert cov["cr2"] >= 0.90, f"CR2 coverage {cov['cr2']:.3f} (CR1 {cov['t']:.3f}) over {reps} replications"
    assert cov["cr2"] >= cov["t"], f"CR2 coverage {cov['cr2']:.3f} below CR1 {cov['t']:.3f}"


# ------------------------------------------------------------------------------ clubSandwich references
def _club_data():
    """tests/results/officer_cr2_data.csv as a case table and a force-year table."""
    d = pd.read_csv(RESULTS / "officer_cr2_data.csv")
    forces = (d.groupby(["force", "financial_year"], as_index=False)["officer"].max()
              .rename(columns={"officer": EXPOSURE}))
    forces[EXPOSURE] = forces[EXPOSURE].astype(bool)
    return d.drop(columns="officer").assign(charged=d["charged"].astype(bool)), forces


def _club(model, term="officer"):
    ref = pd.read_csv(RESULTS / "officer_cr2_ref.csv")
    return ref[(ref["model"] == model) & (ref["term"] == term)].iloc[0]


@pytest.mark.parametrize("model,covariates", [("did", ["risk"]), ("did_nocov", [])])
def test_did_cr2_matches_clubsandwich(model, covariates):
    """TWFE DiD with absorbed force effects = clubSandwich CR2 of lm(... + factor(force)), Satterthwaite df."""
    cases, forces = _club_data()
    with pytest.warns(StatisticalWarning, match="Only 3 forces adopting .* CR2 intervals"):
        res = officer_did(cases, forces, "charged", covariates=covariates)
    did = res.iloc[0]
    ref = _club(model)
    assert_allclose(did["estimate"], ref["coef"], rtol=1e-10)
    assert_allclose(did["se"], ref["se"], rtol=1e-10)
    assert_allclose(did["df"], ref["df"], rtol=1e-10)
    assert did["method"] == "TWFE linear probability model, CR2 by force, Bell-McCaffrey df"
    q = stats.t(ref["df"]).ppf(0.975)
    assert_allclose([did[LO], did[HI]], [ref["coef"] - q * ref["se"], ref["coef"] + q * ref["se"]], rtol=1e-10)
    # with 3 adopting forces the df are about 2.5, not G - 1 = 5, and the CR2 SE exceeds the CR1 one
    with pytest.warns(StatisticalWarning, match="unreliable .* use small_sample='cr2'"):
        cr1 = officer_did(cases, forces, "charged", covariates=covariates, small_sample="t").iloc[0]
    assert did["df"] < 3 and cr1["df"] == 5 and did["se"] > cr1["se"]
    assert_allclose(cr1["estimate"], did["estimate"], rtol=1e-12)


def test_glm_cr2_matches_clubsandwich_with_force_level_exposure():
    """Fitted risks constant within a force: our CR2 and clubSandwich's coincide exactly."""
    cases, forces = _club_data()
    last = cases[cases["financial_year"] == "2022/23"]
    res = officer_effect(last, forces, "charged", covariates=[], method="glm_cluster", small_sample="cr2",
                         naive=False).set_index("measure").loc["odds_ratio"]
    ref = _club("glm_force_level")
    assert_allclose(np.log(res["estimate"]), ref["coef"], rtol=1e-10)
    assert_allclose(res["se"], ref["se"], rtol=1e-10)
    assert_allclose(res["df"], ref["df"], rtol=1e-10)


def test_glm_cr2_close_to_clubsandwich_with_case_mix():
    """Risks varying within a force: the two exactly-unbiased CR2 variants (officer.py Notes) differ by ~1e-4."""
    cases, forces = _club_data()
    res = officer_effect(cases, forces, "charged", covariates=["risk"], method="glm_cluster", small_sample="cr2",
                         naive=False)
    coef = res.attrs["coefficients"]
    ref = _club("glm")
    assert_allclose(coef.loc[EXPOSURE, "coef"], ref["coef"], rtol=1e-10)
    o = res.set_index("measure").loc["odds_ratio"]
    assert_allclose(o["se"], ref["se"], rtol=1e-3)
    assert_allclose(o["df"], ref["df"], rtol=1e-3)
    assert o["se"] != pytest.approx(ref["se"], rel=1e-8)  # the documented difference is real


@pytest.mark.slow
def test_did_cr2_coverage_replication(monkeypatch):
    """30 datasets with the 3 adopting forces of the synthetic default: CR2 (Bell-McCaffrey df about 2) covers
    the true effect on the adopters; CR1 with t(42) does not. The full study (tests/studies/did_coverage.py,
    200 datasets) gave CR2 198/200, CR1 164/200; at 99% the chance of fewer than 28/30 is below 0.4%."""
    from joblib import Parallel, delayed

    one = _study_function(monkeypatch, "did_coverage")

    rows = [r for rep in Parallel(n_jobs=2)(delayed(one)(100 + k, 40_000) for k in range(30)) for r in rep]
    df = pd.DataFrame(rows)
    cover = df.groupby("small_sample")["cover"].sum()
    assert cover["cr2"] >= 28, cover.to_dict()
    assert cover["t"] < cover["cr2"], cover.to_dict()
    err = (df["estimate"] - df["att"])[df["small_sample"] == "cr2"]
    assert abs(err.mean()) < 3 * err.std() / np.sqrt(len(err)), err.mean()
