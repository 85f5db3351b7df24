"""A run record on disk: sealed with a digest of its own content when a run writes it, and read
back only if the digest still matches.

The digest is SHA-256 over the record's canonical JSON (sorted keys, the digest field left out), as
it lies on disk. It is not a signature, anyone can recompute it: it is there so that a hand edit
(a metric nudged, a mode count typed in) or a damaged file is refused by name rather than scored,
tabled or gated as if a run had produced it. A record written before records were sealed has no
digest and is refused too: rerun it (`genbench bench` reruns it, or `genbench train`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from genbench.errors import GenbenchError
from genbench.io import finite

REQUIRED = ("recipe", "recipe_hash", "seed", "metrics")
DIGEST = "digest"


def content_digest(record: dict) -> str:
    """'sha256:<hex>' of `record` without its digest field, as JSON would store it."""
    body = {k: v for k, v in finite(record).items() if k != DIGEST}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def seal(record: dict) -> dict:
    """`record` with the digest of its content, to be written as it is."""
    return {**record, DIGEST: content_digest(record)}


def read_record(path: Path) -> dict:
    """The run record at `path`, refused in one line (naming the file) where it cannot be read, is not
    a run record, or its content no longer matches its digest."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise GenbenchError(f"run record {path} is a folder, not a record file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise GenbenchError(f"run record {path} cannot be read ({type(e).__name__}: {e})") from None
    if not isinstance(record, dict) or any(k not in record for k in REQUIRED):
        raise GenbenchError(f"{path} is not a genbench run record (needs {', '.join(REQUIRED)})")
    if DIGEST not in record:
        raise GenbenchError(f"run record {path} has no digest (written by hand, or before records were sealed); "
                            "rerun it")
    if record[DIGEST] != content_digest(record):
        raise GenbenchError(f"run record {path} does not match its digest: it was edited or damaged after the run "
                            "wrote it; rerun it")
    return record
