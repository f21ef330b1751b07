"""Structured JSON logging (structlog). Log lines carry ids and route templates only: no
patient identifier, name or clinical value is ever passed to a logger.

``tests/security/test_logs.py`` runs the end-to-end workflow with every logger at DEBUG and
searches the output for each patient value it used.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

#: Standard-library loggers that would write patient data at INFO/DEBUG: SQLAlchemy's engine
#: logger and aiosqlite print every statement with its bound parameters (names, national
#: IDs, vitals); python-multipart traces the parts of an upload. They stay at WARNING
#: whatever ``HMS_LOG_LEVEL`` says (the engine also hides parameters from its messages and
#: exceptions: ``hide_parameters=True`` in ``hms.db.session``).
PHI_PRONE_LOGGERS = ("sqlalchemy.engine", "aiosqlite", "python_multipart", "multipart")


class StdoutLogger:
    """structlog logger writing one line per event to the *current* ``sys.stdout``.

    structlog's ``PrintLogger`` keeps the stream it was created with; looking it up at each
    write lets a test (or a re-configuration) capture every line.
    """

    def msg(self, message: str) -> None:
        """Write one rendered event."""
        print(message, file=sys.stdout, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stdout_logger(*_args: Any) -> StdoutLogger:
    return StdoutLogger()


def configure(level: str = "INFO", json: bool = True) -> None:
    """Configure structlog and the standard library root logger.

    Can be called again (each app, each test) and takes effect at once: loggers are not
    cached on first use.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stdout_logger,
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=numeric, stream=sys.stdout, format="%(message)s")
    for name in PHI_PRONE_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
