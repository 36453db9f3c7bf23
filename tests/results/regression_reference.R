## Reference values for tests/test_survival_regression.py
## (attrition.survival.regression: CauseSpecificCox, FineGrayFitter).
## Run from the repository root:  Rscript tests/results/regression_reference.R
## R 4.2, survival 3.5-x, cmprsk 2.2-x.  Writes regression_*.csv next to this script.
suppressPackageStartupMessages({library(survival); library(cmprsk)})
out <- function(x, name) write.csv(x, file.path("tests/results", name), row.names = FALSE, quote = TRUE)
set.seed(20261124)

## ---- right-censored competing-risks data, integer days (many ties) -------------------
n <- 400
id <- seq_len(n)
force <- sample(1:12, n, replace = TRUE)
x1 <- round(rnorm(n), 1)
x2 <- rbinom(n, 1, 0.4)
ha <- 0.020 * exp(0.5 * x1 + 0.7 * x2)
hb <- 0.015 * exp(-0.3 * x1 + 0.4 * x2)
t_event <- rexp(n, ha + hb)
cause <- ifelse(runif(n) < ha / (ha + hb), "a", "b")
t_cens <- runif(n, 5, 90)
time <- ceiling(pmin(t_event, t_cens))
status <- ifelse(t_event <= t_cens, cause, "")   # "" = censored
w <- round(runif(n, 0.5, 2), 2)
rc <- data.frame(id, force, time, status, x1, x2, w, stringsAsFactors = FALSE)
out(rc, "regression_data_rc.csv")

## ---- counting-process form (start, stop] with a time-varying covariate and late entry ----
s <- ceiling(runif(n, 1, 60))                          # tv switches 0 -> 1 after day s
entry <- ifelse(runif(n) < 0.2, floor(runif(n, 0, 1) * (time - 1)), 0)
split <- s > entry & s < time
cp1 <- data.frame(id, force, start = entry, stop = ifelse(split, s, time),
                  status = ifelse(split, "", status), x1, x2, tv = ifelse(split, 0, as.integer(s <= entry)), w)
cp2 <- data.frame(id, force, start = s, stop = time, status, x1, x2, tv = 1, w)[split, ]
cp <- rbind(cp1, cp2)
cp <- cp[order(cp$id, cp$start), ]
stopifnot(all(cp$start < cp$stop))
out(cp, "regression_data_cp.csv")

res <- list()
add <- function(model, fit, robust) {
  cf <- coef(fit)
  res[[length(res) + 1]] <<- data.frame(model = model, covariate = names(cf), coef = unname(cf),
                                        se = sqrt(diag(fit$var)),
                                        naive_se = sqrt(diag(if (robust) fit$naive.var else fit$var)),
                                        loglik = fit$loglik[2])
}
ctl <- coxph.control(eps = 1e-12, iter.max = 100, toler.chol = 1e-14)
## cause-specific Cox, right-censored, Efron
add("cs_rc_a",         coxph(Surv(time, status == "a") ~ x1 + x2, data = rc, control = ctl), FALSE)
add("cs_rc_a_cluster", coxph(Surv(time, status == "a") ~ x1 + x2, data = rc, cluster = force, control = ctl), TRUE)
add("cs_rc_b_cluster", coxph(Surv(time, status == "b") ~ x1 + x2, data = rc, cluster = force, control = ctl), TRUE)
add("cs_rc_a_breslow", coxph(Surv(time, status == "a") ~ x1 + x2, data = rc, ties = "breslow", control = ctl), FALSE)
## cause-specific Cox, counting process with time-varying covariate and late entry
add("cs_cp_a",         coxph(Surv(start, stop, status == "a") ~ x1 + x2 + tv, data = cp, control = ctl), FALSE)
add("cs_cp_a_cluster", coxph(Surv(start, stop, status == "a") ~ x1 + x2 + tv, data = cp, cluster = force, control = ctl), TRUE)
add("cs_cp_a_id",      coxph(Surv(start, stop, status == "a") ~ x1 + x2 + tv, data = cp, cluster = id, control = ctl), TRUE)
add("cs_cp_b_wt_cluster", coxph(Surv(start, stop, status == "b") ~ x1 + x2 + tv, data = cp, weights = w,
                                cluster = force, control = ctl), TRUE)

## Fine-Gray via finegray() + weighted coxph
rc$fstatus <- factor(ifelse(rc$status == "", "censor", rc$status), levels = c("censor", "a", "b"))
fg <- finegray(Surv(time, fstatus) ~ id + force + x1 + x2, data = rc, etype = "a")
out(fg[, c("id", "fgstart", "fgstop", "fgstatus", "fgwt")], "regression_fg_expanded.csv")
fg_id <- coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2, weights = fgwt, data = fg, cluster = id, control = ctl)
add("fg_a_id", fg_id, TRUE)
add("fg_a_force", coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2, weights = fgwt, data = fg, cluster = force,
                        control = ctl), TRUE)
fgb <- finegray(Surv(time, fstatus) ~ id + force + x1 + x2, data = rc, etype = "b")
add("fg_b_id", coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2, weights = fgwt, data = fgb, cluster = id,
                     control = ctl), TRUE)
## cmprsk::crr, the original Fine-Gray estimator (its own sandwich SE)
for (cc in c("a", "b")) {
  code <- ifelse(rc$status == "", 0, ifelse(rc$status == "a", 1, 2))
  crr_fit <- crr(rc$time, code, cov1 = cbind(x1 = rc$x1, x2 = rc$x2), failcode = ifelse(cc == "a", 1, 2),
                 cencode = 0, gtol = 1e-10)
  res[[length(res) + 1]] <- data.frame(model = paste0("crr_", cc), covariate = c("x1", "x2"),
                                       coef = unname(crr_fit$coef), se = sqrt(diag(crr_fit$var)),
                                       naive_se = NA, loglik = crr_fit$loglik)
}
## same-day exits (duration 0): finegray starts the risk intervals at -1
rc0 <- rc
rc0$time[1:15] <- 0
stopifnot(any(rc0$time == 0 & rc0$status == "a"), any(rc0$time == 0 & rc0$status == ""))
add("cs_rc0_a", coxph(Surv(time, status == "a") ~ x1 + x2, data = rc0, cluster = force, control = ctl), TRUE)
fg0 <- finegray(Surv(time, fstatus) ~ id + force + x1 + x2, data = rc0, etype = "a")
stopifnot(min(fg0$fgstart) == -1)
add("fg_rc0_a", coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2, weights = fgwt, data = fg0, cluster = id,
                      control = ctl), TRUE)

## without ties (continuous times) crr and finegray + coxph estimate the same thing
set.seed(7)
m <- 200
nt <- data.frame(id = seq_len(m), z1 = round(rnorm(m), 2), z2 = rbinom(m, 1, 0.5))
h1 <- 0.03 * exp(0.6 * nt$z1 - 0.4 * nt$z2); h2 <- 0.02 * exp(0.3 * nt$z2)
te <- rexp(m, h1 + h2); tc <- runif(m, 5, 60)
nt$time <- round(pmin(te, tc), 6)
stopifnot(!anyDuplicated(nt$time))
nt$code <- ifelse(te <= tc, ifelse(runif(m) < h1 / (h1 + h2), 1, 2), 0)
out(nt, "regression_data_noties.csv")
nt$fstatus <- factor(nt$code, 0:2, c("censor", "a", "b"))
fgn <- finegray(Surv(time, fstatus) ~ id + z1 + z2, data = nt, etype = "a")
add("fg_noties_id", coxph(Surv(fgstart, fgstop, fgstatus) ~ z1 + z2, weights = fgwt, data = fgn, cluster = id,
                          control = ctl), TRUE)
crr_nt <- crr(nt$time, nt$code, cov1 = cbind(z1 = nt$z1, z2 = nt$z2), failcode = 1, cencode = 0, gtol = 1e-12)
res[[length(res) + 1]] <- data.frame(model = "crr_noties", covariate = c("z1", "z2"), coef = unname(crr_nt$coef),
                                     se = sqrt(diag(crr_nt$var)), naive_se = NA, loglik = crr_nt$loglik)
out(do.call(rbind, res), "regression_reference.csv")

## predicted cumulative incidence for covariate profiles from the finegray/coxph fit
prof <- data.frame(x1 = c(0, 1, -0.5), x2 = c(0, 1, 0))
times <- c(5, 10, 20, 40, 60, 85)
sf <- survfit(fg_id, newdata = prof)
S <- summary(sf, times = times, extend = TRUE)$surv   # rows = times, cols = profiles
cif <- data.frame(time = rep(times, 3), profile = rep(0:2, each = length(times)),
                  x1 = rep(prof$x1, each = length(times)), x2 = rep(prof$x2, each = length(times)),
                  cif = 1 - as.vector(S))
out(cif, "regression_fg_cif.csv")
## Efron baseline cumulative hazard of the cause-specific (counting-process, clustered) fit at x = 0
bh <- basehaz(coxph(Surv(start, stop, status == "a") ~ x1 + x2 + tv, data = cp, cluster = force, control = ctl),
              centered = FALSE)
out(bh, "regression_cs_basehaz.csv")
