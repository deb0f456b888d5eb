"""Clusters from the account graph: detect (Leiden, seeded), attach (by behaviour), score."""
