#!/usr/bin/env Rscript
# regen.R: export the classic mixed-model data sets to CSV and record lme4's
# fits of them as golden JSON for tests/cli/test_lmm.sh. Run from this folder:
#   Rscript regen.R /path/to/shared/bench/baseline_lme4.R
# (needs r-base-core and r-cran-lme4; nlme ships with R). The test suite
# itself never runs R.
suppressMessages(library(lme4))
a <- commandArgs(TRUE)
base <- if (length(a)) a[1] else "../../../../shared/bench/baseline_lme4.R"
w <- function(d, f) write.csv(d, f, row.names = FALSE)
w(lme4::sleepstudy, "sleepstudy.csv")
o <- as.data.frame(nlme::Orthodont)
o$Subject <- as.character(o$Subject); o$Sex <- as.character(o$Sex)
w(o, "orthodont.csv")
w(lme4::Dyestuff, "dyestuff.csv")
w(lme4::Penicillin, "penicillin.csv")
w(lme4::Pastes, "pastes.csv")
fits <- list(
  c("sleepstudy_reml", "sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", "REML"),
  c("sleepstudy_ml", "sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", "ML"),
  c("sleepstudy_int_reml", "sleepstudy.csv", "Reaction ~ Days + (1 | Subject)", "REML"),
  c("sleepstudy_int_ml", "sleepstudy.csv", "Reaction ~ Days + (1 | Subject)", "ML"),
  c("sleepstudy_diag_reml", "sleepstudy.csv", "Reaction ~ Days + (Days || Subject)", "REML"),
  c("orthodont_reml", "orthodont.csv", "distance ~ age + (age | Subject)", "REML"),
  c("orthodont_sex_reml", "orthodont.csv", "distance ~ age * Sex + (age | Subject)", "REML"),
  c("orthodont_sex_ml", "orthodont.csv", "distance ~ age * Sex + (age | Subject)", "ML"),
  c("dyestuff_reml", "dyestuff.csv", "Yield ~ 1 + (1 | Batch)", "REML"),
  c("dyestuff_ml", "dyestuff.csv", "Yield ~ 1 + (1 | Batch)", "ML"),
  c("penicillin_reml", "penicillin.csv", "diameter ~ 1 + (1 | plate) + (1 | sample)", "REML"),
  c("pastes_nested_reml", "pastes.csv", "strength ~ 1 + (1 | batch/cask)", "REML"),
  c("pastes_explicit_reml", "pastes.csv", "strength ~ 1 + (1 | batch) + (1 | batch:cask)", "REML"),
  c("pastes_explicit_ml", "pastes.csv", "strength ~ 1 + (1 | batch) + (1 | batch:cask)", "ML"))
idx <- c()
for (f in fits) {
  out <- system2("Rscript", c(base, f[2], shQuote(f[3]), f[4]), stdout = TRUE)
  writeLines(out, paste0(f[1], ".json"))
  idx <- c(idx, paste(f[1], f[2], f[4], f[3], sep = "\t"))
}
writeLines(idx, "fits.tsv")
# conditional modes for one model, to check BLUPs
m <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
r <- ranef(m)$Subject
w(data.frame(group = "Subject", level = rownames(r), r, check.names = FALSE),
  "sleepstudy_reml_ranef.csv")
