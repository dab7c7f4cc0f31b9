"""Neural reweighting (DCTR, Andreassen and Nachman, arXiv:1907.08209): a parametrized
Deep Sets classifier between a nominal and varied samples gives per-event weights that
move the nominal sample to other parameter values, including those exact weights cannot
reach (the shower cut-off, ML against classic cluster decays, another tune).

Modules: samples (inputs), features (classifier inputs), config (recipes), model
(classifier, needs torch), run (train / apply), weights (weight files, Kish ESS),
histograms (weighted LEP analyses and the two-sample comparison). ``hadml reweight``
is the command line (hadml.reweight.cli). See docs/reweighting.md.
"""
