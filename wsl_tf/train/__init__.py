"""Training: optimizers, EASGD, the custom loop and its callbacks (precision@k and the run directory it writes are
read back by wsl_tf/precision.py and wsl_tf/run_directory.py, which evaluation shares)."""
