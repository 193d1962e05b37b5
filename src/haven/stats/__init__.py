"""Funnel counts and their safe publication: thresholds, rounding, delay and differential privacy."""
