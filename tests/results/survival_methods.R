# Reference values for tests/test_survival_methods.py: methods added for issue 17.
# Run from the repo root: Rscript tests/results/survival_methods.R   (R 4.2, survival 3.5-3, cmprsk 2.2)
# Inputs are CSVs already stored by the other scripts (regression_reference.R, survival_gray.R,
# survival_cif.R, survival_multistate.R); writes tests/results/survival_methods_*.csv.
suppressMessages({library(survival); library(cmprsk)})
out <- function(df, name) write.csv(df, file.path("tests/results", name), row.names = FALSE)
rd <- function(name) read.csv(file.path("tests/results", name), stringsAsFactors = FALSE)
ctl <- coxph.control(eps = 1e-12, iter.max = 100, toler.chol = 1e-14)

# 1. Fine-Gray (finegray + coxph) with case weights, strata, Breslow ties -------------------------
rc <- rd("regression_data_rc.csv")
rc$status[is.na(rc$status)] <- ""
rc$fstatus <- factor(ifelse(rc$status == "", "censor", rc$status), levels = c("censor", "a", "b"))
rc$g <- rc$force %% 3
res <- list()
add <- function(model, fit) {
  cf <- coef(fit)
  res[[length(res) + 1]] <<- data.frame(model = model, covariate = names(cf), coef = unname(cf),
    se = sqrt(diag(fit$var)), naive_se = sqrt(diag(fit$naive.var)), loglik = fit$loglik[2])
}
fgw <- finegray(Surv(time, fstatus) ~ id + x1 + x2, data = rc, etype = "a", weights = w)
add("fg_w", coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2, weights = fgwt, data = fgw, cluster = id, control = ctl))
fgs <- finegray(Surv(time, fstatus) ~ id + x1 + x2 + strata(g), data = rc, etype = "a")
fgs$sg <- rc$g[match(fgs$id, rc$id)]  # finegray drops the strata column
add("fg_strata", coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + strata(sg), weights = fgwt, data = fgs, cluster = id,
                       control = ctl))
fg <- finegray(Surv(time, fstatus) ~ id + x1 + x2, data = rc, etype = "a")
add("fg_breslow", coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2, weights = fgwt, data = fg, cluster = id,
                        ties = "breslow", control = ctl))
out(do.call(rbind, res), "survival_methods_fg.csv")

# 2. stratified Gray test (cmprsk::cuminc(strata=)) ----------------------------------------------
gs <- rd("survival_gray_synth_data.csv")
gr <- NULL
for (rho in c(0, 1)) {
  tt <- cuminc(gs$time, gs$status, gs$group, strata = gs$w, rho = rho)$Tests
  gr <- rbind(gr, data.frame(rho = rho, cause = rownames(tt), statistic = tt[, "stat"], p_value = tt[, "pv"],
                             df = tt[, "df"]))
}
out(gr, "survival_methods_gray_strata.csv")

# 3. "log" confidence intervals (survfit conf.type = "log") of the CIFs and of Kaplan-Meier --------
mg <- rd("survival_cif_mgus2_data.csv")
f <- survfit(Surv(etime, factor(event)) ~ 1, data = mg, conf.type = "log")
ci <- NULL
for (k in 1:2) ci <- rbind(ci, data.frame(time = f$time, cause = as.character(k), estimate = f$pstate[, k + 1],
                                          se = f$std.err[, k + 1], lower = f$lower[, k + 1], upper = f$upper[, k + 1]))
km <- survfit(Surv(etime, event > 0) ~ 1, data = mg, conf.type = "log")
ci <- rbind(ci, data.frame(time = km$time, cause = "survival", estimate = km$surv, se = km$std.err * km$surv,
                           lower = km$lower, upper = km$upper))
out(ci, "survival_methods_logci.csv")

# 4. multi-state: infinitesimal-jackknife SEs of the occupation probabilities and of the cumulative
#    hazards (survfit, id = clusters), rmean at several horizons, and fits by group -------------------
ms_fit <- function(d, states, weights = NULL) {
  d$to <- factor(ifelse(is.na(d$to_state), "censor", d$to_state), levels = c("censor", states[-1]))
  d$from <- factor(d$from_state, levels = states)
  if (is.null(weights)) survfit(Surv(start, stop, to) ~ 1, data = d, id = id, istate = from)
  else survfit(Surv(start, stop, to) ~ 1, data = d, id = id, istate = from, weights = d[[weights]])
}
tidy_p <- function(fit, states, label) {
  ps <- fit$pstate; se <- fit$std.err
  res <- NULL
  for (k in seq_along(fit$states)) {
    st <- if (fit$states[k] == "(s0)") states[1] else fit$states[k]
    res <- rbind(res, data.frame(model = label, time = fit$time, state = st, probability = ps[, k], se = se[, k]))
  }
  res
}
# cumulative hazard of each transition h -> j: the Nelson-Aalen estimate on the sojourns in h (left-truncated
# at their start) with its std.chaz (sum of dN / Y^2, the Aalen-type variance survfit reports)
tidy_h <- function(d, states, label) {
  res <- NULL
  for (h in unique(d$from_state)) for (j in unique(d$to_state[d$from_state == h & !is.na(d$to_state)])) {
    dh <- d[d$from_state == h, ]
    f <- survfit(Surv(start, stop, !is.na(to_state) & to_state == j) ~ 1, data = dh)
    keep <- f$n.event > 0
    res <- rbind(res, data.frame(model = label, time = f$time[keep], from = h, to = j, cumhaz = f$cumhaz[keep],
                                 se = f$std.chaz[keep]))
  }
  res
}
mgd <- rd("survival_ms_mgus2_data.csv")
mst <- c("MGUS", "PCM", "death")
f1 <- ms_fit(mgd, mst)
syn <- rd("survival_ms_synth_data.csv")
names(syn)[names(syn) == "case_id"] <- "id"
sst <- c("reported", "suspect", "charged", "nfa", "convicted", "dropped")
f2 <- ms_fit(syn, sst)
f3 <- ms_fit(syn, sst, weights = "w")
out(rbind(tidy_p(f1, mst, "mgus2"), tidy_p(f2, sst, "synth"), tidy_p(f3, sst, "synth_w")), "survival_methods_ms_ij.csv")
out(rbind(tidy_h(mgd, mst, "mgus2"), tidy_h(syn, sst, "synth")), "survival_methods_ms_cumhaz.csv")
rm <- NULL
for (tau in c(60, 120, 240)) {
  tab <- summary(f1, rmean = tau)$table
  rm <- rbind(rm, data.frame(horizon = tau, state = sub("^\\(s0\\)$", "MGUS", rownames(tab)), rmean = tab[, "rmean"]))
}
out(rm, "survival_methods_ms_rmean.csv")
# by group: sex from mgus2
mgd$sex <- as.character(mgus2$sex[match(mgd$id, mgus2$id)])
out(data.frame(id = mgd$id, sex = mgd$sex), "survival_methods_ms_mgus2_sex.csv")
byg <- NULL
for (s in c("F", "M")) byg <- rbind(byg, cbind(group = s, tidy_p(ms_fit(mgd[mgd$sex == s, ], mst), mst, "mgus2")))
out(byg, "survival_methods_ms_bygroup.csv")

# 5. Fine-Gray with delayed entry (left truncation): finegray on (entry, time] data with id, which weights by
#    the censoring and the truncation distributions (Geskus 2011) -----------------------------------------
set.seed(17)
lt <- rc
lt$entry <- ifelse(runif(nrow(lt)) < 0.3, floor(runif(nrow(lt)) * (lt$time - 1)), 0)
lt$entry[lt$time <= 1] <- 0
lt <- lt[lt$entry < lt$time, ]
out(lt[, c("id", "entry", "time", "status", "x1", "x2")], "survival_methods_fg_lt_data.csv")
lt$cid <- lt$id
fgl <- finegray(Surv(entry, time, fstatus) ~ x1 + x2 + cid, data = lt, id = id, etype = "a")
fgl$id <- fgl$cid
out(fgl[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")], "survival_methods_fg_lt_expanded.csv")
res <- list()
add("fg_lt", coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2, weights = fgwt, data = fgl, cluster = id, control = ctl))
out(do.call(rbind, res), "survival_methods_fg_lt.csv")
