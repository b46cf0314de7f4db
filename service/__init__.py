"""`incentives serve`: the engine as an HTTP service (FastAPI on uvicorn), with the 政策计算器
page at `/`.

Needs the `serve` extra (`pip install 'incentives[serve]'`); nothing else in the package imports
this one. Embedding it:

    from incentives.service import create_app, Settings
    app = create_app(Settings(policies=None))          # an ASGI application
"""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
