"""Training: optimizers, EASGD, the custom loop and its callbacks."""
