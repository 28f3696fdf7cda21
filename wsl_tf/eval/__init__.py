"""Evaluation (paper section 4): metrics, the shared word-prediction loop, baselines, transfer, embeddings,
pictures, the report, and run_evaluation.py, which runs them all on a trained run (wsl-eval)."""
