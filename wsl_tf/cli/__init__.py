"""absl entry points: train, eval, export, predict, demo."""
