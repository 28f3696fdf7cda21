"""Evaluation (paper section 4): metrics, baselines, transfer, embeddings, pictures, the training choices, the
report, and run_evaluation.py, the registry of experiments run on a trained run (wsl-eval). Precision@k on a
split is in wsl_tf/precision.py, where the trainer validates with it. Evaluation sits above training."""
