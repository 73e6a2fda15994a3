"""Blob store contract tests, run against the local backend and a real SeaweedFS."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.client
import io
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import botocore.auth
import botocore.signers
import pytest
from urllib3 import encode_multipart_formdata

from storage import (
    BlobInfo,
    BlobNotFound,
    BlobStore,
    InvalidKey,
    LocalBlobStore,
    S3BlobStore,
    StorageError,
    StorageUnavailable,
    TooLarge,
    UploadInstruction,
    from_url,
)
from tests.support.seaweedfs import SeaweedFS

MakeS3Store = Callable[..., S3BlobStore]


def payload(size: int, seed: str = "evidence") -> bytes:
    """Deterministic non-repeating bytes, so misplaced chunks cannot go unnoticed."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


class OneWayStream:
    """A readable stream without seek/tell, like a request body."""

    def __init__(self, data: bytes, *, fail_after: int | None = None) -> None:
        self._buffer = io.BytesIO(data)
        self._fail_after = fail_after
        self.reads = 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if self._fail_after is not None and self._buffer.tell() >= self._fail_after:
            raise ConnectionResetError("client went away")
        return self._buffer.read(size)


def listed(store: BlobStore, prefix: str = "") -> list[str]:
    """The keys under ``prefix``, sorted (listing order is not part of the contract)."""
    keys = list(store.iter_keys(prefix))
    assert len(keys) == len(set(keys)), f"duplicate keys listed: {keys}"
    return sorted(keys)


# --- the contract, for every backend -------------------------------------------------------


def test_store_implements_the_protocol(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)
    assert store.kind in ("local", "s3")
    assert store.direct_upload is (store.kind == "s3")


def test_put_bytes_round_trip(store: BlobStore) -> None:
    data = payload(1000)

    info = store.put("photos/2024/a.jpg", data, content_type="image/jpeg")

    assert info == BlobInfo(key="photos/2024/a.jpg", size=1000, content_type="image/jpeg")
    assert store.get("photos/2024/a.jpg") == data
    assert store.head("photos/2024/a.jpg") == info
    with store.open("photos/2024/a.jpg") as f:
        assert f.read() == data


def test_put_empty_blob(store: BlobStore) -> None:
    info = store.put("empty", b"", content_type="application/octet-stream")

    assert info.size == 0
    assert store.get("empty") == b""
    assert store.head("empty") == BlobInfo("empty", 0, "application/octet-stream")


@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 200_000])
def test_put_stream_round_trip(store: BlobStore, size: int) -> None:
    data = payload(size)
    stream = OneWayStream(data)

    info = store.put("streamed.png", stream, content_type="image/png")

    assert info == BlobInfo(key="streamed.png", size=size, content_type="image/png")
    assert store.get("streamed.png") == data
    assert store.head("streamed.png") == info


def test_put_seekable_file_object(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "upload.bin"
    data = payload(300_000, seed="file")
    source.write_bytes(data)

    with source.open("rb") as f:
        info = store.put("from-file", f, content_type="image/webp")

    assert info.size == len(data)
    assert store.get("from-file") == data


def test_put_stream_larger_than_one_upload_part(store: BlobStore) -> None:
    # Above the S3 multipart threshold (8 MiB): the object is assembled from parts.
    data = payload(9 * 1024 * 1024 + 123, seed="big")

    info = store.put("big.jpg", OneWayStream(data), content_type="image/jpeg")

    assert info.size == len(data)
    assert store.head("big.jpg") == info
    with store.open("big.jpg") as f:
        digest = hashlib.sha256()
        while chunk := f.read(100_000):
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_open_streams_in_pieces(store: BlobStore) -> None:
    data = payload(150_000)
    store.put("piecewise", data, content_type="image/jpeg")

    with store.open("piecewise") as f:
        first = f.read(10)
        rest = f.read()
        assert f.read() == b""

    assert first == data[:10]
    assert rest == data[10:]


def test_overwrite_replaces_data_and_content_type(store: BlobStore) -> None:
    store.put("k", b"old contents", content_type="image/jpeg")

    info = store.put("k", b"new", content_type="image/png")

    assert info == BlobInfo("k", 3, "image/png")
    assert store.get("k") == b"new"
    assert store.head("k") == info


def test_delete_is_idempotent(store: BlobStore) -> None:
    store.put("doomed/1", b"x", content_type="text/plain")
    store.put("doomed/2", b"y", content_type="text/plain")

    store.delete("doomed/1")
    store.delete("doomed/1")
    store.delete("never/existed")

    assert store.head("doomed/1") is None
    with pytest.raises(BlobNotFound):
        store.get("doomed/1")
    assert store.get("doomed/2") == b"y"
    assert list(store.iter_keys()) == ["doomed/2"]


def test_missing_key(store: BlobStore) -> None:
    assert store.head("missing") is None
    with pytest.raises(BlobNotFound):
        store.get("missing")
    with pytest.raises(BlobNotFound):
        store.open("missing")
    with pytest.raises(BlobNotFound):
        store.open("missing/below/it")


def test_iter_keys_with_prefix(store: BlobStore) -> None:
    keys = [
        "a-b/x",
        "a.txt",
        "a/b",
        "a/c/d",
        "photos/ab1.jpg",
        "photos/ab2.jpg",
        "photos/b.jpg",
        "photosx",
        "z",
    ]
    for key in reversed(keys):
        store.put(key, key.encode(), content_type="text/plain")

    assert listed(store) == sorted(keys)
    assert listed(store, "photos/") == ["photos/ab1.jpg", "photos/ab2.jpg", "photos/b.jpg"]
    assert listed(store, "photos/ab") == ["photos/ab1.jpg", "photos/ab2.jpg"]
    assert listed(store, "photos") == [
        "photos/ab1.jpg",
        "photos/ab2.jpg",
        "photos/b.jpg",
        "photosx",
    ]
    assert listed(store, "a/") == ["a/b", "a/c/d"]
    assert listed(store, "a") == ["a-b/x", "a.txt", "a/b", "a/c/d"]
    assert listed(store, "nothing/") == []


def test_iter_keys_is_lazy(store: BlobStore) -> None:
    store.put("one", b"1", content_type="text/plain")

    keys = store.iter_keys()

    assert isinstance(keys, Iterator)
    assert next(keys) == "one"
    assert next(keys, None) is None


def test_longest_valid_key(store: BlobStore) -> None:
    key = "/".join(["s" * 200, "t" * 200, "u" * 110])
    assert len(key) == 512

    store.put(key, b"long", content_type="text/plain")

    assert store.get(key) == b"long"
    assert list(store.iter_keys()) == [key]


BAD_KEYS = [
    "",
    "../x",
    "a/../b",
    "..",
    "a/..",
    ".",
    "a/./b",
    "/abs",
    "/",
    "a//b",
    "a/",
    "a b",
    "a\\b",
    "a\x00b",
    "caf\u00e9",
    "photo?.jpg",
    "k" * 513,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused(store: BlobStore, key: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.put(key, b"x", content_type="text/plain"),
        lambda: store.put(key, OneWayStream(b"x"), content_type="text/plain"),
        lambda: store.get(key),
        lambda: store.open(key),
        lambda: store.head(key),
        lambda: store.delete(key),
        lambda: store.presign_get(key, expires_in=60),
        lambda: store.upload_instruction(key, content_type="image/jpeg", size=1, expires_in=60),
    ]
    for call in calls:
        with pytest.raises(InvalidKey):
            call()
    assert list(store.iter_keys()) == []


def test_invalid_key_is_a_value_error() -> None:
    assert issubclass(InvalidKey, ValueError)
    assert issubclass(InvalidKey, StorageError)


@pytest.mark.parametrize("prefix", ["../", "/", "/a", "a//", "a/../", "a b"])
def test_invalid_prefixes_are_refused(store: BlobStore, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        list(store.iter_keys(prefix))


@pytest.mark.parametrize("as_stream", [False, True])
def test_max_size(store: BlobStore, as_stream: bool) -> None:
    data = payload(100_000)

    def body(blob: bytes) -> bytes | OneWayStream:
        return OneWayStream(blob) if as_stream else blob

    info = store.put("fits", body(data), content_type="image/jpeg", max_size=len(data))
    assert info.size == len(data)
    assert store.get("fits") == data

    with pytest.raises(TooLarge):
        store.put("too-big", body(data + b"!"), content_type="image/jpeg", max_size=len(data))

    assert store.head("too-big") is None
    assert list(store.iter_keys()) == ["fits"]


def test_failing_stream_stores_nothing(store: BlobStore) -> None:
    stream = OneWayStream(payload(300_000), fail_after=130_000)

    with pytest.raises(ConnectionResetError):
        store.put("interrupted", stream, content_type="image/jpeg")

    assert stream.reads > 1
    assert store.head("interrupted") is None
    assert list(store.iter_keys()) == []


def test_failing_stream_during_multipart_upload_stores_nothing(store: BlobStore) -> None:
    # Fails after the first 8 MiB part has been sent: the multipart upload is aborted.
    stream = OneWayStream(payload(17 * 1024 * 1024, seed="parts"), fail_after=12 * 1024 * 1024)

    with pytest.raises(ConnectionResetError):
        store.put("interrupted-big", stream, content_type="image/jpeg")

    assert store.head("interrupted-big") is None
    assert list(store.iter_keys()) == []
    if isinstance(store, S3BlobStore):
        pending = store.client.list_multipart_uploads(Bucket=store.bucket)
        assert pending.get("Uploads", []) == []


def test_failing_stream_keeps_previous_blob(store: BlobStore) -> None:
    store.put("kept", b"original", content_type="image/jpeg")

    with pytest.raises(ConnectionResetError):
        store.put(
            "kept",
            OneWayStream(payload(300_000), fail_after=70_000),
            content_type="image/png",
        )

    assert store.get("kept") == b"original"
    assert store.head("kept") == BlobInfo("kept", 8, "image/jpeg")


def test_ping_live_store(store: BlobStore) -> None:
    store.ping()


# --- local backend -------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def test_local_creates_root(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "new" / "root")

    assert (tmp_path / "new" / "root").is_dir()
    store.ping()


def test_local_does_not_sign(local: LocalBlobStore) -> None:
    local.put("a", b"x", content_type="text/plain")

    assert local.presign_get("a", expires_in=60, filename="a.txt") is None
    assert local.upload_instruction("a", content_type="text/plain", size=1, expires_in=60) is None


def test_local_blob_is_never_visible_half_written(local: LocalBlobStore) -> None:
    data = payload(400_000)
    seen: list[BlobInfo | None] = []

    class Watching(OneWayStream):
        def read(self, size: int = -1) -> bytes:
            seen.append(local.head("watched"))
            return super().read(size)

    local.put("watched", Watching(data), content_type="image/jpeg")

    assert len(seen) > 2
    assert all(info is None for info in seen)
    assert local.get("watched") == data


def test_local_failed_put_leaves_no_files(local: LocalBlobStore) -> None:
    with pytest.raises(ConnectionResetError):
        local.put(
            "dir/interrupted", OneWayStream(payload(200_000), fail_after=1), content_type="a/b"
        )
    with pytest.raises(TooLarge):
        local.put("dir/too-big", OneWayStream(payload(200_000)), content_type="a/b", max_size=10)
    with pytest.raises(TooLarge):
        local.put("dir/too-big", payload(11), content_type="a/b", max_size=10)

    assert files_under(local.root) == []


def test_local_layout_keeps_keys_and_sidecars_apart(local: LocalBlobStore) -> None:
    local.put("x/photo.jpg", b"jpeg", content_type="image/jpeg")

    assert files_under(local.root) == ["x/photo.jpg", "x/photo.jpg~meta"]
    assert (local.root / "x" / "photo.jpg").read_bytes() == b"jpeg"
    assert list(local.iter_keys()) == ["x/photo.jpg"]

    local.delete("x/photo.jpg")

    assert files_under(local.root) == []


def test_local_ignores_foreign_files(local: LocalBlobStore) -> None:
    local.put("ok", b"x", content_type="text/plain")
    (local.root / "has space").write_bytes(b"?")
    (local.root / ".~tmp-leftover").write_bytes(b"?")

    assert list(local.iter_keys()) == ["ok"]


def test_local_blob_without_sidecar_has_no_content_type(local: LocalBlobStore) -> None:
    (local.root / "bare").write_bytes(b"abc")

    assert local.head("bare") == BlobInfo("bare", 3, None)


def test_local_refuses_symlinks_out_of_root(local: LocalBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (local.root / "link").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidKey):
        local.get("link/secret")
    with pytest.raises(InvalidKey):
        local.put("link/planted", b"x", content_type="text/plain")
    with pytest.raises(InvalidKey):
        local.delete("link/secret")

    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert list(local.iter_keys()) == []


def test_local_key_cannot_be_file_and_prefix(local: LocalBlobStore) -> None:
    local.put("a", b"file", content_type="text/plain")
    local.put("b/c", b"nested", content_type="text/plain")

    with pytest.raises(InvalidKey):
        local.put("a/b", b"x", content_type="text/plain")
    with pytest.raises(InvalidKey):
        local.put("b", b"x", content_type="text/plain")

    assert local.head("b") is None
    assert list(local.iter_keys()) == ["a", "b/c"]


def test_local_refuses_segments_too_long_for_the_filesystem(local: LocalBlobStore) -> None:
    with pytest.raises(InvalidKey):
        local.put("s" * 251, b"x", content_type="text/plain")


def test_local_ping_fails_without_root(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "gone")
    (tmp_path / "gone").rmdir()

    with pytest.raises(StorageUnavailable):
        store.ping()


# --- from_url ------------------------------------------------------------------------------


def test_from_url_file(tmp_path: Path) -> None:
    store = from_url(f"file://{tmp_path}/blobs")

    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "blobs").resolve()
    assert from_url(f"file://localhost{tmp_path}").root == tmp_path.resolve()


def test_from_url_s3() -> None:
    store = from_url("s3://evidence", endpoint_url="http://127.0.0.1:1", region="eu-west-1")

    assert isinstance(store, S3BlobStore)
    assert store.bucket == "evidence"
    assert store.post_policy is True
    assert store.client.meta.endpoint_url == "http://127.0.0.1:1"
    assert store.client.meta.region_name == "eu-west-1"
    assert from_url("s3://evidence?post_policy=0").post_policy is False
    assert from_url("s3://evidence?post_policy=1").post_policy is True


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file://relative/path", "relative paths are not allowed"),
        ("file:relative/path", "relative paths are not allowed"),
        ("file:", "relative paths are not allowed"),
        ("file:///abs?x=1", "no options"),
        ("s3://", "needs a bucket"),
        ("s3://bucket/prefix", "only a bucket"),
        ("s3://bucket?region=x", "unknown S3 storage option"),
        ("s3://bucket?post_policy=maybe", "post_policy"),
        ("http://example.com/bucket", "unsupported storage URL"),
        ("/var/lib/blobs", "unsupported storage URL"),
    ],
)
def test_from_url_refuses(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_url(url)


# --- S3 against SeaweedFS ------------------------------------------------------------------


def fetch(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    """Plain HTTP request with no AWS credentials; returns status, body and headers."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(), dict(exc.headers)


def post_form(
    instruction: UploadInstruction, body: bytes, *, filename: str = "p.jpg"
) -> tuple[int, bytes]:
    """Upload ``body`` the way the phone app follows a POST instruction."""
    fields: list[tuple[str, str | tuple[str, bytes, str]]] = list(instruction.fields.items())
    content_type = instruction.fields.get("Content-Type", "application/octet-stream")
    fields.append(("file", (filename, body, content_type)))
    encoded, form_type = encode_multipart_formdata(fields)
    status, response, _ = fetch(
        instruction.url,
        method="POST",
        data=encoded,
        headers={**instruction.headers, "Content-Type": form_type},
    )
    return status, response


@contextlib.contextmanager
def signing_clock_behind() -> Iterator[None]:
    """Make botocore sign as if it were two hours ago, so short expiries have passed.

    Only for presigning: requests signed this way are refused as skewed.
    """
    real = botocore.auth.get_current_datetime

    def two_hours_ago(remove_tzinfo: bool = True) -> datetime:
        return real(remove_tzinfo) - timedelta(hours=2)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.auth, "get_current_datetime", two_hours_ago)
        patch.setattr(botocore.signers, "get_current_datetime", two_hours_ago)
        yield


def test_s3_store_uses_the_configured_client(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store()
    config = store.client.meta.config

    assert config.signature_version == "s3v4"
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    # Three retries after the first attempt.
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert config.connect_timeout == 5
    assert config.read_timeout == 30
    assert config.s3 == {"addressing_style": "path"}


def test_s3_presign_get_downloads_without_credentials(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store()
    data = payload(5000)
    store.put("evidence/p.jpg", data, content_type="image/jpeg")

    url = store.presign_get("evidence/p.jpg", expires_in=300)

    assert url is not None
    status, body, headers = fetch(url)
    assert status == 200
    assert body == data
    assert headers["Content-Type"] == "image/jpeg"


def test_s3_presign_get_names_the_download(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store()
    store.put("evidence/p.jpg", b"jpeg", content_type="image/jpeg")

    url = store.presign_get("evidence/p.jpg", expires_in=300, filename='Hall "B" kitchen.jpg')

    assert url is not None
    status, body, headers = fetch(url)
    assert status == 200
    assert body == b"jpeg"
    assert headers["Content-Disposition"] == (
        'attachment; filename="Hall _B_ kitchen.jpg"; '
        "filename*=UTF-8''Hall%20%22B%22%20kitchen.jpg"
    )


def test_s3_presign_get_refuses_forged_urls(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store()
    mine, other = payload(100, seed="mine"), payload(100, seed="other")
    store.put("mine.jpg", mine, content_type="image/jpeg")
    store.put("other.jpg", other, content_type="image/jpeg")
    url = store.presign_get("mine.jpg", expires_in=300)
    assert url is not None
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))

    signature = query["X-Amz-Signature"]
    forged = {**query, "X-Amz-Signature": ("0" if signature[0] != "0" else "1") + signature[1:]}
    status, body, _ = fetch(parts._replace(query=urllib.parse.urlencode(forged)).geturl())
    assert status == 403
    assert mine not in body

    other_url = parts._replace(path=parts.path.replace("mine.jpg", "other.jpg")).geturl()
    status, body, _ = fetch(other_url)
    assert status == 403
    assert other not in body

    longer = {**query, "X-Amz-Expires": "604800"}
    status, _, _ = fetch(parts._replace(query=urllib.parse.urlencode(longer)).geturl())
    assert status == 403


def test_s3_presign_get_expires(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store()
    data = payload(100)
    store.put("old.jpg", data, content_type="image/jpeg")

    with signing_clock_behind():
        url = store.presign_get("old.jpg", expires_in=60)

    assert url is not None
    status, body, _ = fetch(url)
    assert status == 403
    assert data not in body


def test_s3_upload_instruction_post(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store()
    data = payload(12_345)
    before = datetime.now(UTC)

    instruction = store.upload_instruction(
        "uploads/x.jpg", content_type="image/jpeg", size=len(data), expires_in=600
    )

    assert instruction is not None
    assert instruction.method == "POST"
    assert instruction.headers == {}
    assert instruction.fields["key"] == "uploads/x.jpg"
    assert instruction.fields["Content-Type"] == "image/jpeg"
    assert instruction.expires_at.tzinfo is not None
    assert before + timedelta(seconds=598) <= instruction.expires_at
    assert instruction.expires_at <= datetime.now(UTC) + timedelta(seconds=600)

    assert post_form(instruction, data) == (204, b"")

    assert store.head("uploads/x.jpg") == BlobInfo("uploads/x.jpg", len(data), "image/jpeg")
    assert store.get("uploads/x.jpg") == data


@pytest.mark.parametrize(
    ("delta", "error"),
    [
        (-1, b"EntityTooSmall"),
        (-2000, b"EntityTooSmall"),
        (1, b"EntityTooLarge"),
        (1000, b"EntityTooLarge"),
    ],
)
def test_s3_post_policy_enforces_length(
    make_s3_store: MakeS3Store, delta: int, error: bytes
) -> None:
    store = make_s3_store()
    instruction = store.upload_instruction(
        "uploads/len.jpg", content_type="image/jpeg", size=2000, expires_in=600
    )
    assert instruction is not None

    status, body = post_form(instruction, payload(2000 + delta))

    assert status == 400
    assert error in body
    assert store.head("uploads/len.jpg") is None


def test_s3_post_policy_enforces_content_type(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store()
    instruction = store.upload_instruction(
        "uploads/type.jpg", content_type="image/jpeg", size=100, expires_in=600
    )
    assert instruction is not None
    tampered = dataclasses.replace(
        instruction, fields={**instruction.fields, "Content-Type": "text/html"}
    )

    status, body = post_form(tampered, payload(100))

    assert status == 403
    assert b"Policy Condition failed" in body
    assert store.head("uploads/type.jpg") is None


def test_s3_post_policy_enforces_key(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store()
    instruction = store.upload_instruction(
        "uploads/granted.jpg", content_type="image/jpeg", size=100, expires_in=600
    )
    assert instruction is not None
    tampered = dataclasses.replace(
        instruction, fields={**instruction.fields, "key": "uploads/elsewhere.jpg"}
    )

    status, body = post_form(tampered, payload(100))

    assert status == 403
    assert b"Policy Condition failed" in body
    assert list(store.iter_keys()) == []


def test_s3_post_policy_expires(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store()
    with signing_clock_behind():
        instruction = store.upload_instruction(
            "uploads/late.jpg", content_type="image/jpeg", size=100, expires_in=60
        )
    assert instruction is not None

    status, body = post_form(instruction, payload(100))

    assert status == 403
    assert b"Policy expired" in body, body
    assert store.head("uploads/late.jpg") is None


def put_upload(
    url: str, body: bytes, headers: dict[str, str], *, chunked: bool = False
) -> tuple[int, bytes]:
    """Send a PUT the way an HTTP client would; Content-Length matches the body unless given.

    With ``chunked``, the body is sent with chunked transfer encoding and Content-Length
    is sent only if ``headers`` has it.
    """
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        connection.putrequest("PUT", f"{parts.path}?{parts.query}")
        sent = {name.lower(): value for name, value in headers.items()}
        if chunked:
            sent["transfer-encoding"] = "chunked"
        else:
            sent.setdefault("content-length", str(len(body)))
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders()
        if chunked:
            connection.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        else:
            connection.send(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_s3_upload_instruction_put(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store(post_policy=False)
    data = payload(4321)

    instruction = store.upload_instruction(
        "uploads/put.jpg", content_type="image/jpeg", size=len(data), expires_in=600
    )

    assert instruction is not None
    assert instruction.method == "PUT"
    assert instruction.fields == {}
    assert instruction.headers == {"Content-Type": "image/jpeg", "Content-Length": "4321"}
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(instruction.url).query))
    assert set(query["X-Amz-SignedHeaders"].split(";")) == {
        "content-length",
        "content-type",
        "host",
    }

    assert put_upload(instruction.url, data, instruction.headers) == (200, b"")

    assert store.head("uploads/put.jpg") == BlobInfo("uploads/put.jpg", 4321, "image/jpeg")
    assert store.get("uploads/put.jpg") == data


def test_s3_presigned_put_refuses_other_content_type(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store(post_policy=False)
    instruction = store.upload_instruction(
        "uploads/typed.jpg", content_type="image/jpeg", size=10, expires_in=600
    )
    assert instruction is not None

    status, body = put_upload(
        instruction.url, payload(10), {**instruction.headers, "Content-Type": "text/html"}
    )

    assert status == 403
    assert b"SignatureDoesNotMatch" in body
    assert store.head("uploads/typed.jpg") is None


@pytest.mark.parametrize(
    ("length", "chunked"),
    [(5000, False), (10, False), (5000, True), (1000, True)],
    ids=["longer", "shorter", "chunked-longer", "chunked-same-length"],
)
def test_s3_presigned_put_enforces_signed_length(
    make_s3_store: MakeS3Store, seaweedfs: SeaweedFS, length: int, chunked: bool
) -> None:
    """SeaweedFS 4.48 refuses a presigned PUT whose Content-Length differs from the signed one.

    The instruction signs ``content-length``, so a body of another length (sent with its
    true Content-Length, or chunked without one) fails the signature check with 403
    SignatureDoesNotMatch and nothing is stored. What SeaweedFS does not check is a length
    that was never signed: a URL presigned without ContentLength accepts any body, which is
    why ``upload_instruction`` always signs it.
    """
    store = make_s3_store(post_policy=False)
    instruction = store.upload_instruction(
        "uploads/sized.jpg", content_type="image/jpeg", size=1000, expires_in=600
    )
    assert instruction is not None
    headers = {"Content-Type": "image/jpeg"}

    status, body = put_upload(instruction.url, payload(length), headers, chunked=chunked)

    assert status == 403
    assert b"SignatureDoesNotMatch" in body
    assert store.head("uploads/sized.jpg") is None

    unsized = seaweedfs.client().generate_presigned_url(
        "put_object",
        Params={"Bucket": store.bucket, "Key": "uploads/unsized.jpg", "ContentType": "image/jpeg"},
        ExpiresIn=600,
    )
    status, _ = put_upload(unsized, payload(length), headers, chunked=chunked)
    assert status == 200
    assert store.head("uploads/unsized.jpg") == BlobInfo(
        "uploads/unsized.jpg", length, "image/jpeg"
    )


def test_s3_iter_keys_pages_through_listings(make_s3_store: MakeS3Store) -> None:
    store = make_s3_store(list_page_size=2)
    keys = [f"gc/{i:02d}" for i in range(7)] + ["other"]
    for key in keys:
        store.put(key, b"x", content_type="text/plain")
    listings: list[int] = []
    store.client.meta.events.register(
        "after-call.s3.ListObjectsV2",
        lambda parsed, **_: listings.append(len(parsed.get("Contents", ()))),
    )

    assert listed(store, "gc/") == keys[:7]
    assert listings == [2, 2, 2, 1]

    listings.clear()
    assert listed(store) == keys
    assert listings == [2, 2, 2, 2]


def test_s3_iter_keys_skips_foreign_objects(
    make_s3_store: MakeS3Store, seaweedfs: SeaweedFS
) -> None:
    store = make_s3_store()
    store.put("ok", b"x", content_type="text/plain")
    seaweedfs.client().put_object(Bucket=store.bucket, Key="made elsewhere", Body=b"?")

    assert list(store.iter_keys()) == ["ok"]


def test_s3_missing_bucket(s3_credentials: SeaweedFS) -> None:
    store = S3BlobStore(
        "no-such-bucket-here",
        endpoint_url=s3_credentials.endpoint_url,
        region=s3_credentials.region,
    )

    with pytest.raises(StorageUnavailable, match="does not exist"):
        store.ping()
    with pytest.raises(StorageUnavailable):
        store.get("a")
    with pytest.raises(StorageUnavailable):
        store.open("a")
    with pytest.raises(StorageUnavailable):
        list(store.iter_keys())
    # HEAD responses have no body to name the missing bucket; ping() reports it.
    assert store.head("a") is None


def test_s3_refused_credentials(s3_credentials: SeaweedFS, s3_bucket: str) -> None:
    client = SeaweedFS(
        endpoint_url=s3_credentials.endpoint_url,
        access_key=s3_credentials.access_key,
        secret_key="wrong-secret",
        region=s3_credentials.region,
        bucket=s3_bucket,
    ).client(retries={"max_attempts": 1})
    store = S3BlobStore(s3_bucket, client=client)

    with pytest.raises(StorageError) as raised:
        store.get("a")
    assert not isinstance(raised.value, (BlobNotFound, StorageUnavailable))
    with pytest.raises(StorageUnavailable):
        store.ping()


# --- S3 endpoint failures ------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quick_store(endpoint_url: str) -> S3BlobStore:
    """A store configured to give up fast, as a health check or a request handler would."""
    return S3BlobStore(
        "fieldapi-test",
        endpoint_url=endpoint_url,
        region="us-east-1",
        connect_timeout=0.5,
        read_timeout=0.5,
        max_retries=0,
    )


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")


def assert_every_call_unavailable(store: S3BlobStore) -> None:
    calls: list[Callable[[], object]] = [
        store.ping,
        lambda: store.get("a"),
        lambda: store.open("a"),
        lambda: store.head("a"),
        lambda: store.delete("a"),
        lambda: store.put("a", b"x", content_type="text/plain"),
        lambda: store.put("a", OneWayStream(b"x"), content_type="text/plain"),
        lambda: list(store.iter_keys()),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            call()
        assert time.monotonic() - started < 5


@pytest.mark.usefixtures("fake_credentials")
def test_s3_closed_port_is_unavailable() -> None:
    assert_every_call_unavailable(quick_store(f"http://127.0.0.1:{closed_port()}"))


@pytest.mark.usefixtures("fake_credentials")
def test_s3_silent_endpoint_is_unavailable() -> None:
    # Connections are accepted by the kernel backlog but never answered: a read timeout.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        assert_every_call_unavailable(quick_store(f"http://127.0.0.1:{port}"))


class _FailingHandler(BaseHTTPRequestHandler):
    status = 503

    def _fail(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"<Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>"
        if self.status == 500:
            body = b"<Error><Code>InternalError</Code><Message>oops</Message></Error>"
        self.send_response(self.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _fail

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.usefixtures("fake_credentials")
@pytest.mark.parametrize("status", [500, 503])
def test_s3_server_errors_are_unavailable(status: int) -> None:
    handler = type("Handler", (_FailingHandler,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert_every_call_unavailable(quick_store(f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_s3_from_url_against_seaweedfs(s3_credentials: SeaweedFS, s3_bucket: str) -> None:
    store = from_url(
        f"s3://{s3_bucket}?post_policy=0",
        endpoint_url=s3_credentials.endpoint_url,
        region=s3_credentials.region,
    )

    store.put("via-url", b"hello", content_type="text/plain")

    assert store.get("via-url") == b"hello"
    instruction = store.upload_instruction("x", content_type="text/plain", size=1, expires_in=60)
    assert instruction is not None
    assert instruction.method == "PUT"


def test_seaweedfs_fixture_serves_default_bucket(seaweedfs: SeaweedFS) -> None:
    names = {b["Name"] for b in seaweedfs.client().list_buckets()["Buckets"]}

    assert seaweedfs.bucket == "fieldapi-test"
    assert seaweedfs.bucket in names
    assert seaweedfs.endpoint_url.startswith("http://127.0.0.1:")
