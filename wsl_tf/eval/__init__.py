"""Evaluation (paper section 4): metrics, baselines, transfer, embeddings, pictures, the report, and
run_evaluation.py, which runs them all on a trained run (wsl-eval). Precision@k on a split is in
wsl_tf/precision.py, where the trainer validates with it; evaluation never trains (sweeps that do are in
wsl_tf/sweeps.py and are passed in)."""
