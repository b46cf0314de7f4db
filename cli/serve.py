"""`incentives serve`: the engine as an HTTP service with the 政策计算器 page (the serve extra)."""

from __future__ import annotations

from pathlib import Path

import click

from ..engine import InputError
from .main import main, policies_option


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@policies_option
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each loads the policy set once).")  # fmt: skip
@click.option("--decision-log", metavar="FILE|-",
              help="Append one JSON line per decision to FILE ('-': standard output). Off by default.")  # fmt: skip
@click.option("--max-body", default=None, type=click.IntRange(1), metavar="BYTES",
              help="Largest profile body accepted (default 1 MiB).")  # fmt: skip
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))  # fmt: skip
def serve(
    host: str, port: int, policies_dir: Path | None, workers: int, decision_log: str | None,
    max_body: int | None, log_level: str,
) -> None:  # fmt: skip
    """Serve the policy set over HTTP: /v1 API (OpenAPI at /openapi.json, docs at /docs) and the
    政策计算器 page at /. SIGHUP reloads the policy directory."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise InputError("serve needs the serve extra: pip install 'incentives[serve]'") from None
    from ..service.run import serve as run
    from ..service.settings import MAX_BODY, Settings

    settings = Settings(policies_dir, decision_log, max_body or MAX_BODY)
    run(settings, host=host, port=port, workers=workers, log_level=log_level)
