"""Whole registers at once: the flat register columns, the vectorised (Polars) back end, the
per-batch pipeline shared by `incentives screen` and Spark. Needs the `batch` extra."""
