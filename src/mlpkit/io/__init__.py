"""Files mlpkit writes and reads: the one atomic write, checkpoint files, saved models."""
