"""A run: its configuration, the in-memory result, stage timing, the pipeline (the only module
that knows the stage order) and the writing of a run folder."""
