"""Extracting a `.tar.gz` of an image folder, once and atomically."""

import hashlib
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

from keras_gnap.datasets.messages import announce
from keras_gnap.datasets.messages import describe_source

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")

# Python >= 3.11.4 has extraction filters (3.12 and 3.13 warn without one);
# `_safe_members` gives the same protection on older versions.
_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}

# Archives larger than this announce their (one-time) extraction.
_ANNOUNCE_BYTES = 8 * 2**20


def is_archive(path):
    """Whether `path` is named like a tar archive this module reads."""
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def default_cache_dir():
    """`$KERAS_HOME/keras_gnap` (`~/.keras/keras_gnap` by default)."""
    keras_home = os.environ.get("KERAS_HOME", "~/.keras")
    return Path(keras_home).expanduser() / "keras_gnap"


def extract_archive(path, cache_dir=None, source=None):
    """Extracts a tar archive into the cache and returns the folder.

    The archive goes to a temporary folder next to its destination, which
    is renamed into place only once extraction succeeded: an interrupted or
    failed extraction never leaves a half folder, and a later call finds
    the complete folder and returns at once. The destination name carries
    a hash of the archive's path, size and modification time, so a changed
    archive is extracted again.

    Args:
        path: path-like. The `.tar.gz`, `.tgz` or `.tar` file.
        cache_dir: path-like. Where extracted folders live. Defaults to
            `default_cache_dir()`.
        source: the `source` argument of `load`, for error messages.
            Defaults to `path`.

    Returns:
        The `Path` of the extracted folder.

    Raises:
        ValueError: if the archive is corrupt or has a member that would
            land outside the folder (absolute path, `..`, link, device).
    """
    path = Path(path).resolve()
    source = path if source is None else source
    cache_root = Path(cache_dir or default_cache_dir()).expanduser()
    stat = path.stat()
    key = f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode()
    stem = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    digest = hashlib.sha256(key).hexdigest()[:12]
    target = cache_root / "extracted" / f"{stem}-{digest}"
    if target.is_dir():
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    if stat.st_size > _ANNOUNCE_BYTES:
        announce(f"Extracting {path.name} to {target} (only once).")
    partial = Path(
        tempfile.mkdtemp(
            prefix=f".{stem}-", suffix=".partial", dir=target.parent
        )
    )
    try:
        try:
            with tarfile.open(path, "r:*") as tar:
                tar.extractall(
                    partial, members=_safe_members(tar, source), **_FILTER
                )
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise ValueError(
                f"Could not extract archive {path}: {e}. "
                f"Received: {describe_source(source)}"
            ) from e
        try:
            partial.rename(target)
        except OSError:
            # Another process finished the same extraction first.
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _safe_members(tar, source):
    """Yields the archive's files and folders, refusing unsafe members.

    Only regular files and folders with relative paths that stay inside
    the destination are allowed; this is the "data" extraction filter of
    Python 3.12, spelled out so older Pythons get it too.
    """
    for member in tar:
        name = member.name
        parts = Path(name).parts
        unsafe = (
            os.path.isabs(name)
            or ".." in parts
            or not (member.isfile() or member.isdir())
        )
        if unsafe:
            raise ValueError(
                f"Archive member {name!r} is not a plain file or folder "
                "inside the archive; refusing to extract it. "
                f"Received: {describe_source(source)}"
            )
        # Drop owner and special permission bits from the archive.
        member.mode = 0o755 if member.isdir() else 0o644
        member.uid = member.gid = 0
        member.uname = member.gname = ""
        yield member
