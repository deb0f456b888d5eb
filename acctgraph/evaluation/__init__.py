"""Measuring the detector: metrics against ground truth, tuning sweeps, the naive baseline."""
