"""Running the service on uvicorn: one process, or `workers` processes sharing the socket.

SIGHUP reloads the policy directory without dropping a request. In one process the new set is
loaded in a thread beside the old, which answers until the new one is ready (`state.Holder`); a
set that does not load is logged and the old one stays. With several workers uvicorn replaces
them one at a time, each new worker loading the set before the old one stops; a new worker that
cannot load it never starts serving, and the old workers stay.
"""

from __future__ import annotations

import copy
import logging
import os
import signal
import threading
from typing import Any

from ..engine import PolicySet
from .settings import ENVIRONMENT, Settings
from .state import Holder

log = logging.getLogger("incentives.service")
WORKER_START_TIMEOUT = 60  # seconds


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, with the service's own messages (reloads, errors) beside its own."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["incentives.service"] = {
        "handlers": ["default"], "level": level.upper(), "propagate": False,
    }  # fmt: skip
    return config


def serve(
    settings: Settings, *, host: str, port: int, workers: int = 1, log_level: str = "info",
) -> None:  # fmt: skip
    """Serve until SIGINT or SIGTERM. Raises PolicyError before listening if the set does not
    load."""
    import uvicorn

    options: dict[str, Any] = {
        "host": host, "port": port, "log_level": log_level, "log_config": log_config(log_level),
        # decisions on standard output: keep the access log off it
        "access_log": settings.decision_log != "-",
        "server_header": False,
    }  # fmt: skip
    if workers == 1:
        from .app import create_app

        holder = Holder(settings.policies)
        server = uvicorn.Server(uvicorn.Config(create_app(settings, holder), **options))
        reload_on_hangup(holder)
        server.run()
        return
    PolicySet(settings.policies)  # refuse a broken set before starting any worker
    os.environ[ENVIRONMENT] = settings.to_environment()
    uvicorn.run(
        "incentives.service.app:app_from_environment", factory=True, workers=workers,
        # a new worker loads the set before it answers: on a busy machine that takes seconds
        timeout_worker_healthcheck=WORKER_START_TIMEOUT, **options,
    )  # fmt: skip


def reload_on_hangup(holder: Holder) -> None:
    """SIGHUP reloads `holder` in a thread; requests go on being answered meanwhile."""

    def hangup(signum: int, frame: object) -> None:
        log.info("SIGHUP: reloading the policy set")
        threading.Thread(target=holder.reload, name="reload", daemon=True).start()

    signal.signal(signal.SIGHUP, hangup)
