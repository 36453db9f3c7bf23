# Reference values for tests/test_survival_cif.py (attrition.survival.cumulative_incidence).
# Run: Rscript tests/results/survival_cif.R   (from the repo root; writes tests/results/survival_cif_*.csv)
# R 4.2, survival 3.5-x. Variance in survfit multi-state = infinitesimal jackknife.
suppressMessages(library(survival))
out <- function(df, name) write.csv(df, file.path("tests/results", name), row.names = FALSE)

ms_tidy <- function(fit, states, group = NA) {
  # fit: survfit multi-state (no strata); keep cause columns (all states but the first "(s0)")
  res <- NULL
  for (k in seq_along(states)) {
    res <- rbind(res, data.frame(time = fit$time, cause = states[k], group = group,
                                 estimate = fit$pstate[, k + 1], se = fit$std.err[, k + 1],
                                 lower = fit$lower[, k + 1], upper = fit$upper[, k + 1],
                                 at_risk = fit$n.risk[, 1]))
  }
  res
}

# 1. mgus2: progression (pcm) vs death, competing risks, by sex; ties in months
etime <- with(mgus2, ifelse(pstat == 0, futime, ptime))
event <- with(mgus2, ifelse(pstat == 0, 2 * death, 1))
mg <- data.frame(id = mgus2$id, etime = etime, event = event, sex = as.character(mgus2$sex))
out(mg, "survival_cif_mgus2_data.csv")
fit <- survfit(Surv(etime, factor(event)) ~ 1, data = mg, conf.type = "log-log")
ref <- ms_tidy(fit, c("1", "2"))
for (s in c("F", "M")) {
  f2 <- survfit(Surv(etime, factor(event)) ~ 1, data = mg[mg$sex == s, ], conf.type = "log-log")
  ref <- rbind(ref, ms_tidy(f2, c("1", "2"), s))
}
out(ref, "survival_cif_mgus2_ref.csv")

# 2. overall Kaplan-Meier (Greenwood) on mgus2: survfit reports std.err of log S
km <- survfit(Surv(etime, event > 0) ~ 1, data = mg, conf.type = "log-log")
out(data.frame(time = km$time, estimate = km$surv, se = km$std.err * km$surv,
               lower = km$lower, upper = km$upper, at_risk = km$n.risk), "survival_cif_mgus2_km.csv")

# 3. tie-heavy synthetic with delayed entry and non-integer sampling weights, 3 causes
set.seed(20240611)
n <- 400
entry <- pmax(0, round(rexp(n, 1 / 8)) - 4)
gap <- 1 + floor(rexp(n, 1 / 25))
time <- entry + gap
status <- sample(0:3, n, replace = TRUE, prob = c(0.3, 0.3, 0.25, 0.15))
w <- round(runif(n, 0.2, 3), 2)
wi <- sample(1:4, n, replace = TRUE)
syn <- data.frame(id = seq_len(n), entry = entry, time = time, status = status, w = w, wi = wi)
out(syn, "survival_cif_synth_data.csv")
f_lt <- survfit(Surv(entry, time, factor(status)) ~ 1, data = syn, id = id, conf.type = "log-log")
out(ms_tidy(f_lt, c("1", "2", "3")), "survival_cif_synth_lt_ref.csv")
f_w <- survfit(Surv(time, factor(status)) ~ 1, data = syn, weights = w, conf.type = "log-log")
out(ms_tidy(f_w, c("1", "2", "3")), "survival_cif_synth_w_ref.csv")
f_ltw <- survfit(Surv(entry, time, factor(status)) ~ 1, data = syn, id = id, weights = w, conf.type = "log-log")
out(ms_tidy(f_ltw, c("1", "2", "3")), "survival_cif_synth_ltw_ref.csv")
# integer frequency weights == expanded rows
ex <- syn[rep(seq_len(n), syn$wi), ]
ex$id <- seq_len(nrow(ex))
f_ex <- survfit(Surv(entry, time, factor(status)) ~ 1, data = ex, id = id, conf.type = "log-log")
out(ms_tidy(f_ex, c("1", "2", "3")), "survival_cif_synth_ltfreq_ref.csv")
# KM with delayed entry, IJ variance: single-cause multi-state fit, state "(s0)" = survival
km2 <- survfit(Surv(entry, time, factor(status > 0)) ~ 1, data = syn, id = id, conf.type = "log-log")
out(data.frame(time = km2$time, estimate = km2$pstate[, 1], se = km2$std.err[, 1],
               at_risk = km2$n.risk[, 1]), "survival_cif_synth_km_lt_ref.csv")
