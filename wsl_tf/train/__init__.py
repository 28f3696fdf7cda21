"""Training: optimizers, EASGD, the custom loop and its callbacks, validation (precision@k on a split), and a run
directory read back."""
