"""The ``ringroute`` command and ``python -m ringroute``.

Importing the CLI loads numpy, scipy, osmnx and the rest (about 2 s); a Ctrl-C in that
time ends with one line too, not a traceback.
"""

from __future__ import annotations

import signal
import sys

EXIT_INTERRUPTED = 130  # as ringroute.cli's, which cannot be imported yet where it is used


def run() -> int:
    """Run the CLI as a program: SIGTERM ends it like Ctrl-C (temporary files removed)."""
    try:
        from ringroute.cli import main, on_sigterm  # noqa: PLC0415 - see the module doc
    except KeyboardInterrupt:
        sys.stderr.write("ringroute: interrupted\n")
        return EXIT_INTERRUPTED
    signal.signal(signal.SIGTERM, on_sigterm)
    code = main()
    # the work is done and reported: a late Ctrl-C does not turn it into a failure
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return code


if __name__ == "__main__":
    raise SystemExit(run())
