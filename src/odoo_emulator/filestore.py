"""Attachment files as Odoo stores them (odoo-protocol.md section 7): ``<filestore>/<sha1[:2]>/
<sha1>``, with an empty ``checklist/<sha1[:2]>/<sha1>`` entry written with each new file (Odoo's
garbage-collection spool, which is why dumps hold ``filestore/checklist/...`` entries, 11.1)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def store_name(checksum: str) -> str:
    return f"{checksum[:2]}/{checksum}"


def write_file(filestore: Path, data: bytes) -> tuple[str, str]:
    """Store ``data``; answer (store_fname, sha1 checksum). Existing files are reused."""
    checksum = hashlib.sha1(data).hexdigest()  # noqa: S324 - Odoo's content address
    fname = store_name(checksum)
    full_path = filestore / fname
    if not full_path.exists():
        full_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = full_path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, full_path)
        mark_for_gc(filestore, fname)
    return fname, checksum


def read_file(filestore: Path, fname: str) -> bytes:
    try:
        return (filestore / fname).read_bytes()
    except OSError:
        # Odoo logs "_read_file reading ..." and answers empty content.
        return b""


def mark_for_gc(filestore: Path, fname: str) -> None:
    entry = filestore / "checklist" / fname
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.touch()


def copy_filestore(source: Path, target: Path) -> None:
    """Odoo copies the filestore only when the source exists and the target does not."""
    if source.exists() and not target.exists():
        shutil.copytree(source, target)


def remove_filestore(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
