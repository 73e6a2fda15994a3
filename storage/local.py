"""Blob store on the local filesystem, for development and single-host deployments."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from storage.errors import BlobNotFound, InvalidKey, StorageUnavailable, TooLarge
from storage.interfaces import BlobInfo, UploadInstruction, validate_key, validate_prefix

CHUNK_SIZE = 64 * 1024

# Sidecar and temporary file names contain "~", which keys cannot, so they never collide
# with a blob and iter_keys skips them by the key rules alone.
_META_SUFFIX = "~meta"
_TMP_PREFIX = ".~tmp-"
# Common filesystems limit a file name to 255 bytes; the sidecar suffix must still fit.
_MAX_SEGMENT = 255 - len(_META_SUFFIX)


class LocalBlobStore:
    """Blobs as files under ``root``; the content type lives in a ``<name>~meta`` sidecar.

    Keys map to relative paths, so ``a/b`` and ``a`` cannot both exist (a file cannot also
    be a directory); storing one while the other exists raises ``InvalidKey``.
    """

    kind = "local"
    direct_upload = False

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        validate_key(key)
        if any(len(segment) > _MAX_SEGMENT for segment in key.split("/")):
            raise InvalidKey(f"blob key {key!r} has a segment too long for a local store")
        path = self.root / key
        # The key rules already rule out traversal; resolving also defeats symlinks that
        # point out of the root.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidKey(f"blob key {key!r} resolves outside the store")
        return path

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(path.name + _META_SUFFIX)

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str,
        max_size: int | None = None,
    ) -> BlobInfo:
        path = self._path(key)
        if path.is_dir():
            raise InvalidKey(f"blob key {key!r} is a prefix of other keys in a local store")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidKey(f"a prefix of blob key {key!r} is itself a key") from None
        except OSError as exc:
            raise StorageUnavailable(f"cannot create directory for {key!r}: {exc}") from exc

        tmp = _write_temp(path.parent, data, max_size=max_size)
        meta_tmp: Path | None = None
        try:
            meta = json.dumps({"content_type": content_type}).encode()
            meta_tmp = _write_temp(path.parent, meta, max_size=None)
            size = tmp.stat().st_size
            # Sidecar first: for a new key, a crash between the two renames leaves only an
            # orphan sidecar, never a blob without its content type.
            os.replace(meta_tmp, self._meta_path(path))
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StorageUnavailable(f"cannot store {key!r}: {exc}") from exc
        finally:
            for leftover in (tmp, meta_tmp):
                if leftover is not None:
                    with contextlib.suppress(OSError):
                        leftover.unlink()
        return BlobInfo(key=key, size=size, content_type=content_type)

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key!r}: {exc}") from exc

    def get(self, key: str) -> bytes:
        with self.open(key) as f:
            try:
                return f.read()
            except OSError as exc:
                raise StorageUnavailable(f"cannot read {key!r}: {exc}") from exc

    def head(self, key: str) -> BlobInfo | None:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageUnavailable(f"cannot stat {key!r}: {exc}") from exc
        if not path.is_file():
            return None
        return BlobInfo(key=key, size=st.st_size, content_type=self._read_content_type(path))

    def _read_content_type(self, path: Path) -> str | None:
        try:
            meta = json.loads(self._meta_path(path).read_bytes())
        except (OSError, ValueError):
            return None
        content_type = meta.get("content_type") if isinstance(meta, dict) else None
        return content_type if isinstance(content_type, str) else None

    def delete(self, key: str) -> None:
        path = self._path(key)
        # Blob before sidecar: an interrupted delete leaves an orphan sidecar, not a blob
        # that lost its content type.
        for target in (path, self._meta_path(path)):
            try:
                target.unlink()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                pass
            except OSError as exc:
                raise StorageUnavailable(f"cannot delete {key!r}: {exc}") from exc

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        # Only the directory named by the prefix's complete segments can hold matches.
        directory, _, _ = prefix.rpartition("/")
        start = self.root / directory if directory else self.root
        base = f"{directory}/" if directory else ""
        for key in _walk(start, base):
            if key.startswith(prefix):
                yield key

    def presign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str | None:
        validate_key(key)
        return None

    def upload_instruction(
        self, key: str, *, content_type: str, size: int, expires_in: int
    ) -> UploadInstruction | None:
        validate_key(key)
        return None

    def ping(self) -> None:
        if not self.root.is_dir():
            raise StorageUnavailable(f"storage root {self.root} is not a directory")
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise StorageUnavailable(f"storage root {self.root} is not readable and writable")


def _walk(directory: Path, base: str) -> Iterator[str]:
    """Yield valid keys below ``directory`` without following symbolic links."""
    try:
        with os.scandir(directory) as it:
            entries = [(e.name, e.is_dir(follow_symlinks=False), e) for e in it]
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise StorageUnavailable(f"cannot list {directory}: {exc}") from exc
    # Sorted only to make listings repeatable.
    entries.sort(key=lambda item: item[0])
    for name, is_dir, entry in entries:
        key = base + name
        if is_dir:
            yield from _walk(Path(entry.path), key + "/")
        elif entry.is_file(follow_symlinks=False) and _is_valid_key(key):
            yield key


def _is_valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except InvalidKey:
        return False
    return True


def _write_temp(directory: Path, data: bytes | BinaryIO, *, max_size: int | None) -> Path:
    """Write ``data`` to a new temporary file in ``directory``, fsync it and return its path.

    The temporary file is removed when anything goes wrong, including ``TooLarge`` and
    exceptions raised by ``data.read``.
    """
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=_TMP_PREFIX)
    except OSError as exc:
        raise StorageUnavailable(f"cannot create a file in {directory}: {exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, (bytes, bytearray, memoryview)):
                if max_size is not None and len(data) > max_size:
                    raise TooLarge(f"blob is larger than {max_size} bytes")
                _write(out, data)
            else:
                _copy_stream(data, out, max_size=max_size)
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise StorageUnavailable(f"cannot write to {directory}: {exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def _copy_stream(src: BinaryIO, out: BinaryIO, *, max_size: int | None) -> None:
    written = 0
    while True:
        # Reading one byte past the limit is how an oversized stream is told apart from one
        # that ends exactly at it.
        want = CHUNK_SIZE if max_size is None else min(CHUNK_SIZE, max_size - written + 1)
        chunk = src.read(want)
        if not chunk:
            return
        written += len(chunk)
        if max_size is not None and written > max_size:
            raise TooLarge(f"blob is larger than {max_size} bytes")
        _write(out, chunk)


def _write(out: BinaryIO, chunk: bytes | bytearray | memoryview) -> None:
    # Only failures of the store's own disk become StorageUnavailable; errors raised while
    # reading the caller's stream propagate unchanged.
    try:
        out.write(chunk)
    except OSError as exc:
        raise StorageUnavailable(f"cannot write blob data: {exc}") from exc


def _fsync_dir(directory: Path) -> None:
    # Makes the rename durable; some filesystems do not allow opening a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
