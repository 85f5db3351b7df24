"""The one way genbench gets a file it does not ship: look locally first, verify, then download.

Order: an explicit path, $GENBENCH_DATA/<name>, the resource's own system folders (e.g. a Debian
package's), the user cache ($GENBENCH_CACHE, default ~/.cache/genbench), and only then the
resource's URLs, unless $GENBENCH_OFFLINE is set. Every file is checked against its SHA-256
before use (a download before it is written). When nothing works the error names the file, its
checksum, where to get it and where to put it. `recording()` lists the files a block fetched, so
`genbench fetch DATASET` reports what its loader needed without a second list to keep in step.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from genbench.errors import GenbenchError
from genbench.io import atomic_write_bytes
from genbench.paths import cache_dir


@dataclass(frozen=True)
class Resource:
    name: str  # file name on disk
    sha256: str
    urls: tuple[str, ...] = ()
    search: tuple[str, ...] = ()  # extra local folders to look in
    hint: str = ""  # another way to get it, e.g. "apt-get install dataset-fashion-mnist"
    subdir: str = ""  # folder under the cache / $GENBENCH_DATA
    gzipped: bool = False  # sha256 is of the decompressed bytes (repackagers recompress, content stays)


def sha256_of(path: Path, gzipped: bool = False) -> str:
    h = hashlib.sha256()
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except (OSError, EOFError) as e:
        raise GenbenchError(f"{path} cannot be read ({e})") from None
    return h.hexdigest()


def candidates(resource: Resource, path: str | os.PathLike | None = None) -> list[Path]:
    out = []
    if path is not None:
        p = Path(path)
        out.append(p / resource.name if p.is_dir() else p)
    if os.environ.get("GENBENCH_DATA"):
        root = Path(os.environ["GENBENCH_DATA"])
        out += [root / resource.subdir / resource.name, root / resource.name]
    out += [Path(d) / resource.name for d in resource.search]
    out.append(cache_dir() / resource.subdir / resource.name)
    return out


def offline() -> bool:
    return os.environ.get("GENBENCH_OFFLINE", "").lower() not in ("", "0", "false", "no")


_recorders: list[list[Path]] = []


@contextmanager
def recording() -> Iterator[list[Path]]:
    """The verified path of every file fetched inside the `with` block, in order."""
    paths: list[Path] = []
    _recorders.append(paths)
    try:
        yield paths
    finally:
        _recorders.pop()  # blocks nest: the innermost ends first


def fetch(resource: Resource, path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Path to a verified local copy of `resource`."""
    found = _fetch(resource, path, download)
    for paths in _recorders:
        paths.append(found)
    return found


def _fetch(resource: Resource, path: str | os.PathLike | None, download: bool) -> Path:
    for candidate in candidates(resource, path):
        if candidate.is_file():
            digest = sha256_of(candidate, resource.gzipped)
            if digest != resource.sha256:
                raise GenbenchError(f"{candidate} has SHA-256 {digest[:16]}…, expected {resource.sha256[:16]}… "
                                    f"for {resource.name}: delete it or replace it with the right file")
            return candidate
        if path is not None and candidate == candidates(resource, path)[0]:
            raise GenbenchError(f"{candidate} does not exist (given as the path of {resource.name})")
    target = cache_dir() / resource.subdir / resource.name
    errors = []
    if download and not offline():
        for url in resource.urls:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    data = response.read()
            except OSError as e:
                errors.append(f"{url}: {e}")
                continue
            digest = hashlib.sha256(gzip.decompress(data) if resource.gzipped else data).hexdigest()
            if digest != resource.sha256:
                errors.append(f"{url}: SHA-256 {digest[:16]}… does not match")
                continue
            return atomic_write_bytes(target, data)
    where = f"{target}" + (f" or $GENBENCH_DATA/{resource.subdir + '/' if resource.subdir else ''}{resource.name}")
    how = f"download {resource.urls[0]}" if resource.urls else "obtain it"
    hint = f"; or {resource.hint}" if resource.hint else ""
    tried = f" (download failed: {errors[0]})" if errors else (" (offline: GENBENCH_OFFLINE is set)" if offline() else "")
    raise GenbenchError(f"{resource.name} not found{tried}: {how} (SHA-256 {resource.sha256}) and put it at {where}{hint}")
