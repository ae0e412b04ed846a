"""Turning a log directory into committed points: discover files, tail them, commit batches."""
