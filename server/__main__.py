"""``python -m server`` / ``superposition-explorer``: start the explorer with uvicorn.

Flags (each also an environment variable): --host (SUPERPOSITION_HOST, default 127.0.0.1),
--port (SUPERPOSITION_PORT, 8000), --cache-dir (SUPERPOSITION_CACHE_DIR, models_cache/),
--device (SUPERPOSITION_DEVICE: auto, cpu or cuda), --backend (SUPERPOSITION_BACKEND: local or
ray), --ray-address (SUPERPOSITION_RAY_ADDRESS) and --workers (SUPERPOSITION_WORKERS) for training
on Ray actors. ``--help`` lists every setting.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import FrameType

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from server.api.app import BackendUnavailable, create_app
from server.api.settings import WS_FRAME_FACTOR, Settings
from server.device import DeviceUnavailable


def main(argv: list[str] | None = None) -> None:
    """Parse the settings, check the device, and serve until interrupted."""
    try:
        settings = Settings(_cli_parse_args=sys.argv[1:] if argv is None else argv)
    except ValidationError as exc:  # each field and why, never the value (it may be the token)
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.exit(f"error: {problems}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(settings)  # resolves the device: fail fast, before binding the port
    except (DeviceUnavailable, BackendUnavailable) as exc:
        sys.exit(f"error: {exc}")
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        workers=1,
        # Frames up to this size get an error naming max_message_bytes (server/api/live.py);
        # larger ones close the socket (1009) before they take more memory.
        ws_max_size=WS_FRAME_FACTOR * settings.limits.max_message_bytes,
    )
    PromptServer(config, app).run()


class PromptServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM or Ctrl-C also stops the training worker at once.

    uvicorn waits for open requests before it shuts the app down, and a REST training could
    hold it for minutes. Stopping the worker answers every waiting client (REST 503, live
    sockets closed with 1012) within a step; uvicorn then closes what is left.
    """

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        worker = getattr(self.app.state, "worker", None)  # set by the app's lifespan
        if worker is not None:
            # Off the signal handler: it may have interrupted this thread inside the worker's
            # lock, which is not re-entrant.
            threading.Thread(target=worker.stop, name="stop-worker", daemon=True).start()


if __name__ == "__main__":
    main()
