"""Evaluation: word prediction, transfer, embeddings, maps, reports."""
