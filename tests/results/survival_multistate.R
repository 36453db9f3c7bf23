# Reference values for tests/test_survival_multistate.py (attrition.survival.MultiStateFitter).
# Run from the repo root: Rscript tests/results/survival_multistate.R
# etm 1.1: Aalen-Johansen with the Greenwood-type variance (Andersen et al. 1993, (4.4.19)), which
# is the estimator MultiStateFitter uses; survival 3.5 survfit gives the same point estimates and
# the restricted mean time in state (rmean).
suppressMessages({library(etm); library(survival)})
out <- function(df, name) write.csv(df, file.path("tests/results", name), row.names = FALSE)

etm_tidy <- function(fit, states, s0) {
  res <- NULL
  for (st in states) {
    tr <- paste(s0, st)
    res <- rbind(res, data.frame(time = fit$time, state = st, probability = fit$est[s0, st, ],
                                 var = trcov(fit, tr)))
  }
  res
}

# ---- 1. mgus2 illness-death without recovery: MGUS -> PCM -> death, MGUS -> death (months)
ptemp <- with(mgus2, ifelse(ptime == futime & pstat == 1, ptime - 0.1, ptime))
r1 <- data.frame(id = mgus2$id, start = 0, stop = ptemp,
                 from_state = "MGUS",
                 to_state = ifelse(mgus2$pstat == 1, "PCM", ifelse(mgus2$death == 1, "death", NA)))
has_p <- mgus2$pstat == 1
r2 <- data.frame(id = mgus2$id[has_p], start = ptemp[has_p], stop = mgus2$futime[has_p],
                 from_state = "PCM", to_state = ifelse(mgus2$death[has_p] == 1, "death", NA))
mg <- rbind(r1, r2)
mg <- mg[order(mg$id, mg$start), ]
out(mg, "survival_ms_mgus2_data.csv")
states <- c("MGUS", "PCM", "death")
tra <- matrix(FALSE, 3, 3, dimnames = list(states, states))
tra["MGUS", "PCM"] <- tra["MGUS", "death"] <- tra["PCM", "death"] <- TRUE
ed <- data.frame(id = mg$id, from = mg$from_state, to = ifelse(is.na(mg$to_state), "cens", mg$to_state),
                 entry = mg$start, exit = mg$stop)
fit <- etm(ed, states, tra, "cens", s = 0)
out(etm_tidy(fit, states, "MGUS"), "survival_ms_mgus2_etm.csv")
# survfit: same AJ point estimate + rmean
sf_dat <- mg
sf_dat$to <- factor(ifelse(is.na(mg$to_state), "censor", mg$to_state), levels = c("censor", "PCM", "death"))
sf_dat$from <- factor(mg$from_state, levels = c("MGUS", "PCM", "death"))
sfit <- survfit(Surv(start, stop, to) ~ 1, data = sf_dat, id = id, istate = from)
tab <- summary(sfit, rmean = 120)$table
out(data.frame(state = sub("^\\(s0\\)$", "MGUS", rownames(tab)), horizon = 120, rmean = tab[, "rmean"]),
    "survival_ms_mgus2_rmean.csv")
ps <- sfit$pstate; colnames(ps) <- sfit$states
out(data.frame(time = sfit$time, MGUS = ps[, "MGUS"], PCM = ps[, "PCM"], death = ps[, "death"]),
    "survival_ms_mgus2_survfit.csv")

# ---- 2. synthetic police journey, daily ties, delayed entry, integer frequency weights
set.seed(7)
n <- 300
rows <- list()
for (i in seq_len(n)) {
  t <- if (runif(1) < 0.2) sample(1:10, 1) else 0   # delayed entry (case joins the data late)
  st <- "reported"; cens <- sample(40:400, 1); w <- sample(1:3, 1)
  repeat {
    if (t >= cens) break
    nxt <- switch(st,
      reported = sample(c("suspect", "nfa"), 1, prob = c(0.6, 0.4)),
      suspect = sample(c("charged", "nfa"), 1, prob = c(0.5, 0.5)),
      charged = sample(c("convicted", "dropped"), 1, prob = c(0.7, 0.3)))
    gap <- 1 + floor(rexp(1, 1 / switch(st, reported = 20, suspect = 30, charged = 60)))
    if (t + gap > cens) { rows[[length(rows) + 1]] <- data.frame(case_id = i, start = t, stop = cens,
                          from_state = st, to_state = NA, w = w); break }
    rows[[length(rows) + 1]] <- data.frame(case_id = i, start = t, stop = t + gap, from_state = st,
                                           to_state = nxt, w = w)
    t <- t + gap; st <- nxt
    if (st %in% c("nfa", "convicted", "dropped")) break
  }
}
syn <- do.call(rbind, rows)
out(syn, "survival_ms_synth_data.csv")
states <- c("reported", "suspect", "charged", "nfa", "convicted", "dropped")
tra <- matrix(FALSE, 6, 6, dimnames = list(states, states))
tra["reported", c("suspect", "nfa")] <- TRUE
tra["suspect", c("charged", "nfa")] <- TRUE
tra["charged", c("convicted", "dropped")] <- TRUE
mk <- function(d) data.frame(id = d$case_id, from = d$from_state,
                             to = ifelse(is.na(d$to_state), "cens", d$to_state), entry = d$start, exit = d$stop)
fit <- etm(mk(syn), states, tra, "cens", s = 0)
out(etm_tidy(fit, states, "reported"), "survival_ms_synth_etm.csv")
ex <- syn[rep(seq_len(nrow(syn)), syn$w), ]
ex$case_id <- paste(ex$case_id, ave(seq_len(nrow(ex)), paste(ex$case_id, ex$start), FUN = seq_along))
fitx <- etm(mk(ex), states, tra, "cens", s = 0)
out(etm_tidy(fitx, states, "reported"), "survival_ms_synth_etm_expanded.csv")
