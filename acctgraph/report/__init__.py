"""Outputs people open: tables (Parquet/CSV/JSON), run records, reports and graph pages."""
