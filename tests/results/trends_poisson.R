# Reference values for tests/test_trends.py: exact conditional CI and p-value of a ratio of two
# Poisson rates with equal exposure (R stats::poisson.test), counts in the later year (b) / earlier (a).
pairs <- data.frame(b = c(90, 120, 0, 7, 250, 13), a = c(100, 100, 12, 3, 300, 13))
out <- do.call(rbind, lapply(seq_len(nrow(pairs)), function(i) {
  t <- poisson.test(c(pairs$b[i], pairs$a[i]), c(1, 1))
  data.frame(b = pairs$b[i], a = pairs$a[i], lower = t$conf.int[1], upper = t$conf.int[2], p_value = t$p.value)
}))
write.csv(out, "trends_poisson.csv", row.names = FALSE)
