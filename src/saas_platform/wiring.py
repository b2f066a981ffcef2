"""The composition root: what each package provides to those below it, connected once.

Lower packages declare hooks (``core/hooks.py``); the packages above them connect handlers
here. Every entry point (the API's ``create_app``, the CLI, workers, tests) calls
:func:`wire` before it does anything else; calling it again changes nothing.
"""

from __future__ import annotations

_wired = False


def wire() -> None:
    global _wired
    if _wired:
        return
    _wired = True
