# Reference values for tests/test_effects_officer_cr2.py: CR2 cluster-robust variances and
# Bell-McCaffrey (Satterthwaite) degrees of freedom from clubSandwich, on officer_cr2_data.csv
# (written by officer_cr2_make_data.py).
# R 4.2, clubSandwich 0.5.8 (Debian r-cran-clubsandwich).
# Run from the repository root: Rscript tests/results/officer_cr2.R
library(clubSandwich)
d <- read.csv("tests/results/officer_cr2_data.csv")
d$risk <- factor(d$risk, levels = c("high", "medium", "standard"))
d$financial_year <- factor(d$financial_year)
tight <- glm.control(epsilon = 1e-14, maxit = 100)  # clubSandwich uses the weights of the last IRLS step
out <- NULL
add <- function(model, fit, cluster) {
  V <- vcovCR(fit, cluster = cluster, type = "CR2")
  ct <- coef_test(fit, vcov = V, test = "Satterthwaite")
  out <<- rbind(out, data.frame(model = model, term = ct$Coef, coef = ct$beta, se = ct$SE, df = ct$df_Satt))
}
# (1) DiD: two-way fixed effects linear probability model (force and year dummies), clustered on force
add("did", lm(charged ~ officer + factor(force) + financial_year + risk, data = d), d$force)
# (2) the same without covariates
add("did_nocov", lm(charged ~ officer + factor(force) + financial_year, data = d), d$force)
# (3) officer_effect's GLM: logistic regression on the exposure and case mix, clustered on force.
#     With fitted risks that vary within a force, clubSandwich's CR2 (Pustejovsky & Tipton's Cholesky
#     form) and attrition's (whitened residuals, symmetric square root: see officer.py) are two exactly
#     unbiased variants that differ slightly.
add("glm", glm(charged ~ officer + risk, family = binomial, data = d, control = tight), d$force)
# (4) a force-level exposure only (last year): fitted risks are constant within a force and the two
#     variants coincide
last <- d$financial_year == "2022/23"
add("glm_force_level", glm(charged ~ officer, family = binomial, data = d[last, ], control = tight), d$force[last])
write.csv(out, "tests/results/officer_cr2_ref.csv", row.names = FALSE)
print(out, digits = 10)
