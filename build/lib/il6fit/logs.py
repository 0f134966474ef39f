"""Logging set-up for the command-line edges (workflow scripts)."""

from __future__ import annotations

import logging
import sys
import warnings


def log_to(path: str) -> None:
    """Send stderr, warnings and il6fit's progress messages to a log file.

    Parameters
    ----------
    path : str
        The log file (a rule's ``log:``); created or truncated.
    """
    sys.stderr = open(path, "w", buffering=1)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        force=True,
    )
    # progress of il6fit and of PyMC's sampling; compiler chatter stays at warnings
    for name in ("il6fit", "pymc", "__main__"):
        logging.getLogger(name).setLevel(logging.INFO)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
