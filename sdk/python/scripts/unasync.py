"""Generate the synchronous client from the asynchronous one (``_async`` -> ``_sync``).

The two clients have the same surface; writing one and deriving the other (as httpcore does)
keeps them from drifting apart. Run ``python scripts/unasync.py`` after editing ``_async``;
``--check`` fails when the generated files are stale (a test runs it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "saas_platform"
FILES = ("__init__.py", "client.py", "resources.py")

# Whole-word replacements, applied in order.
REPLACEMENTS: list[tuple[str, str]] = [
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\baclosing\b", "closing"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_lines\b", "iter_lines"),
    (r"\baiter_bytes\b", "iter_bytes"),
    (r"__aenter__", "__enter__"),
    (r"__aexit__", "__exit__"),
    (r"__aiter__", "__iter__"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\bimport asyncio\b", "import threading"),
    (r"\basyncio\.Lock\b", "threading.Lock"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\bAwaitable\[(\w+)\]", r"\1"),
    (r"\bAwaitable, ", ""),
    (r"\bAsyncGenerator\[(\w+), None\]", r"Generator[\1, None, None]"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"\b_async\b", "_sync"),
    (r"\basynchronous\b", "synchronous"),
    (r"\bawait ", ""),
]
HEADER = "# Generated from _async/{name} by scripts/unasync.py: do not edit.\n"


def generate(name: str) -> str:
    text = (PACKAGE / "_async" / name).read_text()
    for pattern, replacement in REPLACEMENTS:
        text = re.sub(pattern, replacement, text)
    return HEADER.format(name=name) + text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in FILES:
        target = PACKAGE / "_sync" / name
        wanted = generate(name)
        if target.exists() and target.read_text() == wanted:
            continue
        stale.append(str(target))
        if not check:
            target.parent.mkdir(exist_ok=True)
            target.write_text(wanted)
    if check and stale:
        print("stale (run scripts/unasync.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
