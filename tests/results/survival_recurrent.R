# Reference values for tests/test_survival_recurrent_generic.py: recurrent events from generic (id, time, event)
# data. Run from the repo root: Rscript tests/results/survival_recurrent.R   (R 4.2, survival 3.5-3)
# Mean cumulative function = Nelson-Aalen of the recurrences with each subject at risk until its end of
# follow-up; survfit(Surv(start, stop, event) ~ 1, id = id) gives its robust (infinitesimal-jackknife,
# Lawless-Nadeau) standard error in std.chaz.
suppressMessages(library(survival))
out <- function(df, name) write.csv(df, file.path("tests/results", name), row.names = FALSE)
set.seed(20261202)
n <- 150
fu <- sample(20:200, n, replace = TRUE)
grp <- sample(c("a", "b"), n, replace = TRUE)
rows <- list()
for (i in 1:n) {
  t <- 0
  repeat {
    t <- t + sample(1:(if (grp[i] == "a") 40 else 25), 1)
    if (t > fu[i]) break
    rows[[length(rows) + 1]] <- data.frame(id = i, time = t, event = 1, group = grp[i])
    if (runif(1) < 0.1) rows[[length(rows) + 1]] <- data.frame(id = i, time = t, event = 1, group = grp[i])  # 2 on a day
  }
  rows[[length(rows) + 1]] <- data.frame(id = i, time = fu[i], event = 0, group = grp[i])
}
d <- do.call(rbind, rows)
out(d, "survival_recurrent_data.csv")
# counting-process form: (previous time, time] per row
cp <- aggregate(event ~ id + time + group, data = d, FUN = sum)
cp <- cp[order(cp$id, cp$time), ]
cp$start <- ave(cp$time, cp$id, FUN = function(x) c(0, head(x, -1)))
ref <- NULL
for (g in c("all", "a", "b")) {
  sub <- if (g == "all") cp else cp[cp$group == g, ]
  ex <- sub[rep(seq_len(nrow(sub)), pmax(sub$event, 1)), ]
  ex$event <- as.integer(ex$event > 0)
  ex$start2 <- ex$start
  ex$stop2 <- ex$time
  dup <- duplicated(ex[, c("id", "time")])
  first <- duplicated(ex[, c("id", "time")], fromLast = TRUE)
  # two events on one day: the first ends on a sliver before the day, the second covers the sliver; the risk
  # set on the sliver is the day's, so the day's increment and its influence are the same in total
  ex$stop2[first] <- ex$time[first] - 1e-6
  ex$start2[dup] <- ex$time[dup] - 1e-6
  f <- survfit(Surv(start2, stop2, event) ~ 1, data = ex, id = id, timefix = FALSE)
  keep <- f$n.event > 0
  tt <- round(f$time[keep])
  agg <- data.frame(time = tt, cumhaz = f$cumhaz[keep], se = f$std.chaz[keep])
  agg <- agg[!duplicated(agg$time, fromLast = TRUE), ]
  ref <- rbind(ref, cbind(group = g, agg))
}
out(ref, "survival_recurrent_mcf.csv")
# time to the 2nd event: Kaplan-Meier of (time of 2nd event, or end of follow-up)
k2 <- do.call(rbind, lapply(split(d, d$id), function(x) {
  ev <- sort(x$time[x$event == 1])
  if (length(ev) >= 2) data.frame(id = x$id[1], time = ev[2], status = 1) else data.frame(id = x$id[1], time = max(x$time), status = 0)
}))
km <- survfit(Surv(time, status) ~ 1, data = k2)
out(data.frame(time = km$time, probability = 1 - km$surv, se = km$std.err * km$surv), "survival_recurrent_k2.csv")
