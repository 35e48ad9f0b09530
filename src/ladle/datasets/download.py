"""Downloads with a progress bar, bounded retries, resumption of partial files and checksums.

Example:
    >>> import hashlib, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"abc")
    >>> verify_file(p, sha256=hashlib.sha256(b"abc").hexdigest())
    True
"""

from __future__ import annotations

import hashlib
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["ChecksumError", "DownloadError", "download", "download_and_verify", "extract_tar",
           "file_digest", "verify_file"]

CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed after all its retries.

    Example:
        >>> isinstance(DownloadError("x"), OSError)
        True
    """


class ChecksumError(ValueError):
    """A file's checksum differs from the expected one (the file has been deleted).

    Example:
        >>> isinstance(ChecksumError("x"), ValueError)
        True
    """


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"")
        >>> file_digest(p)[:8]
        'e3b0c442'
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify_file(path: str | Path, sha256: str | None = None, md5: str | None = None) -> bool:
    """True when the file matches the given checksum(s); True when none is given.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"")
        >>> verify_file(p, md5="d41d8cd98f00b204e9800998ecf8427e")
        True
    """
    if sha256 and file_digest(path, "sha256") != sha256.lower():
        return False
    if md5 and file_digest(path, "md5") != md5.lower():
        return False
    return True


def download(url: str, path: str | Path, retries: int = 3, timeout: float = 30.0,
             backoff: float = 0.5, progress: bool = True) -> Path:
    """Download ``url`` to ``path``, resuming a partial ``path + '.part'`` with an HTTP Range request.

    Each failure (connection dropped, timeout, 5xx) is retried up to ``retries`` times with
    exponential backoff; what arrived before a drop is kept and the next attempt asks only for the
    rest. The file appears at ``path`` only once complete.

    Example:
        >>> download  # doctest: +ELLIPSIS
        <function download at ...>
    """
    path = Path(path)
    part = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    last: BaseException | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = getattr(response, "status", 200)
                if have and status != 206:  # the server ignored the range: start again
                    have = 0
                total = response.headers.get("Content-Length")
                total = int(total) + have if total is not None else None
                _stream(response, part, have, total, url, progress)
            if total is not None and part.stat().st_size < total:
                raise DownloadError(f"connection closed after {part.stat().st_size} of {total} bytes")
            part.replace(path)
            return path
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # range not satisfiable: the partial file is complete
                part.replace(path)
                return path
            last = exc
            if exc.code < 500:  # 404 and friends will not get better
                break
        except (OSError, DownloadError) as exc:
            last = exc
    raise DownloadError(f"could not download {url} after {retries + 1} attempts: {last}; check the "
                        "URL and your connection, or place the file at " f"{path} by hand") from last


def _stream(response, part: Path, have: int, total: int | None, url: str, progress: bool) -> None:
    from tqdm.auto import tqdm

    with open(part, "ab" if have else "wb") as out, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, disable=not progress,
            desc=url.rsplit("/", 1)[-1], leave=False) as bar:
        while True:
            block = response.read(CHUNK)
            if not block:
                break
            out.write(block)
            bar.update(len(block))


def download_and_verify(url: str, path: str | Path, sha256: str | None = None,
                        md5: str | None = None, retries: int = 3, timeout: float = 30.0,
                        progress: bool = True) -> Path:
    """Download unless a verified copy is already there; check the checksum; delete on mismatch.

    Example:
        >>> download_and_verify  # doctest: +ELLIPSIS
        <function download_and_verify at ...>
    """
    path = Path(path)
    if path.exists() and verify_file(path, sha256, md5):
        return path
    download(url, path, retries=retries, timeout=timeout, progress=progress)
    if not verify_file(path, sha256, md5):
        got = file_digest(path, "sha256" if sha256 else "md5")
        path.unlink()
        raise ChecksumError(
            f"{path.name} downloaded from {url} has checksum {got}, expected "
            f"{sha256 or md5}; the file was deleted. Retry; if it persists the file on the server "
            "changed or the download is being altered")
    return path


def extract_tar(archive: str | Path, dest: str | Path) -> Path:
    """Extract a tar archive safely: the ``data`` filter refuses absolute paths, ``..``, devices and links out.

    Example:
        >>> extract_tar  # doctest: +ELLIPSIS
        <function extract_tar at ...>
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        try:
            tar.extractall(dest, filter="data")
        except tarfile.FilterError as exc:
            raise ValueError(f"refusing to extract {archive}: {exc}") from None
    return dest
