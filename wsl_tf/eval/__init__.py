"""Evaluation: precision@k (metrics.py) and the word-prediction loop on a held-out split (word_prediction.py)."""
