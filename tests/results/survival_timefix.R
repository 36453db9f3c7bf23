# Reference values for tests/test_survival_timefix.py: near-tied times (R's timefix / aeqSurv) in every
# estimator, and R's default (robust) SE of coxph with non-integer case weights.
# Run from the repo root: Rscript tests/results/survival_timefix.R   (R 4.2, survival 3.5-3, cmprsk 2.2, etm 1.1)
# Times are written with 17 significant digits (write.csv's 15 would erase the near ties).
suppressMessages({library(survival); library(cmprsk); library(etm)})
out <- function(df, name) write.csv(df, file.path("tests/results", name), row.names = FALSE)
g17 <- function(x) sprintf("%.17g", x)
set.seed(20261202)
n <- 300
day <- sample(1:400, n, replace = TRUE)
alt <- runif(n) < 0.5
# years two ways: day / 365.25 or (day - 1) / 365.25 + 1 / 365.25 (differ in the last bits for many days)
time <- ifelse(alt, (day - 1) / 365.25 + 1 / 365.25, day / 365.25)
eday <- ifelse(runif(n) < 0.3, pmax(0, day - sample(1:60, n, replace = TRUE)), 0)
entry <- ifelse(runif(n) < 0.5, eday / 365.25, (eday * 0.1) / 36.525)
stopifnot(all(entry < time))
status <- sample(0:2, n, replace = TRUE, prob = c(0.3, 0.4, 0.3))
x1 <- round(rnorm(n), 2)
x2 <- rbinom(n, 1, 0.5)
grp <- ifelse(x2 == 1, "b", "a")
w <- round(runif(n, 0.3, 2.5), 3)
id <- seq_len(n)
d <- data.frame(id, time, entry, status, x1, x2, grp, w)
fixed <- aeqSurv(Surv(entry, time, status > 0))
d$time_fixed <- fixed[, 2]; d$entry_fixed <- fixed[, 1]
cat("distinct times raw:", length(unique(time)), " after timefix:", length(unique(d$time_fixed)), "\n")
dd <- d; for (v in c("time", "entry", "time_fixed", "entry_fixed")) dd[[v]] <- g17(d[[v]])
out(dd, "survival_timefix_data.csv")

ms_tidy <- function(fit, states, label) {
  res <- NULL
  for (k in seq_along(states))
    res <- rbind(res, data.frame(model = label, time = g17(fit$time), cause = states[k], estimate = fit$pstate[, k + 1],
                                 se = fit$std.err[, k + 1], at_risk = fit$n.risk[, 1]))
  res
}
# 1. CIF (survfit multi-state, IJ variance), right-censored; with delayed entry; with sampling weights
cif <- rbind(
  ms_tidy(survfit(Surv(time, factor(status)) ~ 1, data = d), c("1", "2"), "rc"),
  ms_tidy(survfit(Surv(entry, time, factor(status)) ~ 1, data = d, id = id), c("1", "2"), "lt"),
  ms_tidy(survfit(Surv(time, factor(status)) ~ 1, data = d, weights = w), c("1", "2"), "w"))
out(cif, "survival_timefix_cif.csv")
# the same without timefix: shows the merge matters
nofix <- ms_tidy(survfit(Surv(time, factor(status)) ~ 1, data = d, timefix = FALSE), c("1", "2"), "rc_nofix")
cat("max |CIF difference| timefix vs not at common times: ",
    max(abs(approx(as.numeric(nofix$time[nofix$cause == "1"]), nofix$estimate[nofix$cause == "1"],
                   as.numeric(cif$time[cif$model == "rc" & cif$cause == "1"]), method = "constant", rule = 2)$y -
            cif$estimate[cif$model == "rc" & cif$cause == "1"])), "\n")

# 2. Gray's test (cmprsk has no timefix: run on the aeqSurv-merged times)
gt <- cuminc(d$time_fixed, d$status, d$grp)$Tests
out(data.frame(cause = rownames(gt), statistic = gt[, "stat"], p_value = gt[, "pv"], df = gt[, "df"]),
    "survival_timefix_gray.csv")

# 3. multi-state (etm, Greenwood-type variance; etm has no timefix: merged times), 0 -> 1, 0 -> 2, delayed entry
ed <- data.frame(id = d$id, from = 0, to = ifelse(d$status == 0, "cens", d$status), entry = d$entry_fixed,
                 exit = d$time_fixed)
tra <- matrix(FALSE, 3, 3, dimnames = list(c("0", "1", "2"), c("0", "1", "2"))); tra["0", "1"] <- tra["0", "2"] <- TRUE
ef <- etm(ed, c("0", "1", "2"), tra, "cens", s = 0)
ms <- NULL
for (st in c("0", "1", "2")) ms <- rbind(ms, data.frame(time = g17(ef$time), state = st, probability = ef$est["0", st, ],
                                                        var = trcov(ef, paste("0", st))))
out(ms, "survival_timefix_etm.csv")

# 4. Cox and Fine-Gray (coxph / finegray apply timefix by default)
ctl <- coxph.control(eps = 1e-12, iter.max = 100, toler.chol = 1e-14)
res <- list()
add <- function(model, fit) {
  cf <- coef(fit)
  res[[length(res) + 1]] <<- data.frame(model = model, covariate = names(cf), coef = unname(cf),
    se = sqrt(diag(fit$var)), naive_se = sqrt(diag(if (is.null(fit$naive.var)) fit$var else fit$naive.var)),
    robust = !is.null(fit$naive.var), loglik = fit$loglik[2])
}
add("cs_rc", coxph(Surv(time, status == 1) ~ x1 + x2, data = d, control = ctl))
add("cs_lt", coxph(Surv(entry, time, status == 1) ~ x1 + x2, data = d, control = ctl))
add("cs_rc_nofix", coxph(Surv(time, status == 1) ~ x1 + x2, data = d, control = coxph.control(eps = 1e-12, iter.max = 100, toler.chol = 1e-14, timefix = FALSE)))
# non-integer weights, no cluster: R's default is the robust (per-row sandwich) SE
add("cs_rc_w", coxph(Surv(time, status == 1) ~ x1 + x2, data = d, weights = w, control = ctl))
add("cs_lt_w", coxph(Surv(entry, time, status == 1) ~ x1 + x2, data = d, weights = w, control = ctl))
# integer weights: model-based SE (frequency weights)
d$wi <- 1 + (id %% 3)
add("cs_rc_wi", coxph(Surv(time, status == 1) ~ x1 + x2, data = d, weights = wi, control = ctl))
# negative entry times are accepted by R; zero weights are not (coxph: "Invalid weights, must be >0"):
# attrition drops zero-weight rows, so the reference is the fit without them
d$wz <- ifelse(id %% 7 == 0, 0, d$w)
add("cs_lt_neg_wz", coxph(Surv(entry - 0.5, time, status == 1) ~ x1 + x2, data = d[d$wz > 0, ], weights = wz,
                          control = ctl))
add("cs_rc_breslow", coxph(Surv(time, status == 1) ~ x1 + x2, data = d, ties = "breslow", control = ctl))
d$fstatus <- factor(d$status, levels = 0:2, labels = c("censor", "1", "2"))
fg <- finegray(Surv(time, fstatus) ~ id + x1 + x2, data = d, etype = "1")
add("fg_id", coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2, weights = fgwt, data = fg, cluster = id, control = ctl))
out(do.call(rbind, res), "survival_timefix_cox.csv")
