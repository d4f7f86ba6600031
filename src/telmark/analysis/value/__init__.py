"""Customer value: retention (sBG) for contract cohorts, BG/NBD + Gamma-Gamma CLV for purchases."""
