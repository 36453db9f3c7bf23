# Reference values for tests/test_survival_gray.py (attrition.survival.gray_test).
# Run from the repo root: Rscript tests/results/survival_gray.R ; cmprsk::cuminc()$Tests.
suppressMessages({library(cmprsk); library(survival)})
out <- function(df, name) write.csv(df, file.path("tests/results", name), row.names = FALSE)
tests <- function(ci, label, rho) {
  tt <- ci$Tests
  data.frame(dataset = label, rho = rho, cause = rownames(tt), statistic = tt[, "stat"],
             p_value = tt[, "pv"], df = tt[, "df"])
}
res <- NULL
# mgus2: progression vs death by sex (monthly ties)
etime <- with(mgus2, ifelse(pstat == 0, futime, ptime))
event <- with(mgus2, ifelse(pstat == 0, 2 * death, 1))
for (rho in c(0, 1)) res <- rbind(res, tests(cuminc(etime, event, mgus2$sex, rho = rho), "mgus2", rho))
# tie-heavy synthetic: 3 groups, 3 causes, daily times
set.seed(99)
n <- 500
g <- sample(c("east", "north", "west"), n, replace = TRUE)
time <- 1 + floor(rexp(n, 1 / ifelse(g == "east", 15, 25)))
status <- sample(0:3, n, replace = TRUE, prob = c(0.25, 0.35, 0.25, 0.15))
status[g == "west" & status == 1 & runif(n) < 0.5] <- 2
syn <- data.frame(time = time, status = status, group = g, w = sample(1:3, n, replace = TRUE))
out(syn, "survival_gray_synth_data.csv")
for (rho in c(0, 1)) res <- rbind(res, tests(cuminc(syn$time, syn$status, syn$group, rho = rho), "synth", rho))
out(res, "survival_gray_ref.csv")
