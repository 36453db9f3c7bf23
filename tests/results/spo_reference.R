# Reference values for tests/test_effects_spo.py: cause-specific Cox models with the SPO as a
# time-varying covariate, on the counting-process table written by spo_make_data.py.
# R 4.2, survival 3.5.  Run from the repository root: Rscript tests/results/spo_reference.R
library(survival)
d <- read.csv("tests/results/spo_cp_data.csv")
f <- function(ev) as.formula(paste0("Surv(start, stop, ", ev, ") ~ spo + risk_medium + risk_high + ",
                                    "financial_year_2021_22 + financial_year_2022_23"))
out <- NULL
for (ev in c("charge", "withdrawal")) {
  # (1) all cases, robust SE clustered on the case
  m1 <- coxph(f(ev), data = d, ties = "efron", cluster = case_id, control = coxph.control(eps = 1e-10, iter.max = 50))
  # (2) exposure-stratified subsample (w > 0), weighted, robust SE clustered on the case
  s <- d[d$w > 0, ]
  m2 <- coxph(f(ev), data = s, weights = w, ties = "efron", cluster = case_id,
              control = coxph.control(eps = 1e-10, iter.max = 50))
  for (k in 1:2) {
    m <- list(m1, m2)[[k]]
    out <- rbind(out, data.frame(fit = c("all", "weighted")[k], outcome = ev, covariate = names(coef(m)),
                                 coef = unname(coef(m)), robust_se = sqrt(diag(vcov(m))),
                                 naive_se = sqrt(diag(m$naive.var)), n = m$n, nevent = m$nevent))
  }
}
write.csv(out, "tests/results/spo_reference.csv", row.names = FALSE)
print(out, digits = 10)
