# Reference values for tests/test_survival_regression_strata.py: stratified cause-specific Cox models
# (Efron ties, counting-process data with late entry and a time-varying covariate) on the data written by
# regression_strata.py. R 4.2, survival 3.5. Run from the repository root: Rscript tests/results/regression_strata.R
library(survival)
d <- read.csv("tests/results/regression_strata_data.csv")
ctl <- coxph.control(eps = 1e-12, iter.max = 100, toler.chol = 1e-15)
zero <- data.frame(x1 = 0, x2 = 0, g1 = 0, g2 = 0)
fits <- list(
  # name, cause, weighted, cluster
  list("c1_id", 1, FALSE, "id"), list("c2_id", 2, FALSE, "id"),
  list("c1_w_cl", 1, TRUE, "cl"), list("c2_w_cl", 2, TRUE, "cl"), list("c1_nocl", 1, FALSE, NA))
coefs <- NULL; bh <- NULL
for (f in fits) {
  d$ev <- as.integer(d$status == f[[2]])
  args <- list(formula = Surv(start, stop, ev) ~ x1 + x2 + g1 + g2 + strata(s), data = d, ties = "efron",
               control = ctl, model = TRUE)
  if (f[[3]]) args$weights <- d$w
  if (!is.na(f[[4]])) args$cluster <- d[[f[[4]]]]
  m <- do.call(coxph, args)
  coefs <- rbind(coefs, data.frame(fit = f[[1]], covariate = names(coef(m)), coef = unname(coef(m)),
                                   se = sqrt(diag(vcov(m))), naive_se = sqrt(diag(if (is.null(m$naive.var)) vcov(m) else m$naive.var)),
                                   loglik = m$loglik[2], n = m$n, nevent = m$nevent))
  sf <- survfit(m, newdata = zero, se.fit = FALSE)
  st <- rep(sub("^s=", "", names(sf$strata)), sf$strata)
  keep <- sf$n.event > 0
  bh <- rbind(bh, data.frame(fit = f[[1]], stratum = st[keep], time = sf$time[keep], cumhaz = sf$cumhaz[keep]))
}
write.csv(coefs, "tests/results/regression_strata_ref.csv", row.names = FALSE)
write.csv(bh, "tests/results/regression_strata_basehaz.csv", row.names = FALSE)
print(coefs, digits = 12)
