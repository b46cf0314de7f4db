"""The fiscal years the engine accepts, in a module of its own that imports nothing, so that
the command line can declare its `--tax-year` option without loading the profile models."""

from __future__ import annotations

FISCAL_YEARS = (1949, 2200)  # the years a profile's financials (and a tax year asked for) may be
