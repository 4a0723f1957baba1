"""Data sources, splits, preprocessing and batching."""
