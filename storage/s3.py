"""Blob store on an S3-compatible service (AWS S3, SeaweedFS, MinIO, ...)."""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from storage.errors import BlobNotFound, StorageError, StorageUnavailable, TooLarge
from storage.interfaces import BlobInfo, UploadInstruction, validate_key, validate_prefix

CHUNK_SIZE = 64 * 1024
# SigV4 presigned requests cannot outlive seven days.
MAX_EXPIRES_IN = 7 * 24 * 3600

_UNAVAILABLE_EXCEPTIONS = (
    # EndpointConnectionError, ConnectTimeoutError, SSLError and ProxyConnectionError.
    botocore.exceptions.ConnectionError,
    # ReadTimeoutError, ConnectionClosedError and ResponseStreamingError.
    botocore.exceptions.HTTPClientError,
    # A body cut short by the server or the network.
    botocore.exceptions.IncompleteReadError,
)
_UNAVAILABLE_CODES = frozenset(
    {
        "NoSuchBucket",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "InternalError",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})


class S3BlobStore:
    """Blobs as objects in one bucket.

    Credentials are found the standard boto3 way (``AWS_ACCESS_KEY_ID`` and
    ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role). ``post_policy=False`` makes
    ``upload_instruction`` return presigned PUTs, for services without POST policy support;
    those sign Content-Type and Content-Length, so a body of another length or type fails
    the signature check.

    ``client`` replaces the boto3 client built from the other arguments. The timeouts (in
    seconds) and ``max_retries`` (retries after the first attempt; botocore's
    ``retries.max_attempts``) bound how long an unreachable store can stall a request.
    ``list_page_size`` is the number of keys fetched per listing request.
    """

    kind = "s3"
    direct_upload = True

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        post_policy: bool = True,
        client: Any = None,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        max_retries: int = 3,
        list_page_size: int = 1000,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        if not 1 <= list_page_size <= 1000:
            raise ValueError("list_page_size must be between 1 and 1000")
        self.bucket = bucket
        self.post_policy = post_policy
        self.list_page_size = list_page_size
        if client is None:
            client = _make_client(
                endpoint_url=endpoint_url,
                region=region,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_retries=max_retries,
            )
        self.client = client
        # Non-seekable streams are buffered part by part; at most four 8 MiB parts are held
        # at once, whatever the size of the upload.
        self._transfer_config = TransferConfig(
            multipart_threshold=8 * 1024 * 1024,
            multipart_chunksize=8 * 1024 * 1024,
            max_concurrency=4,
        )
        self._transfer_config.max_in_memory_upload_chunks = 4

    def __repr__(self) -> str:
        return f"S3BlobStore({self.bucket!r}, endpoint_url={self.client.meta.endpoint_url!r})"

    @contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        """Translate botocore exceptions into storage errors."""
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            raise self._client_error(exc, key) from exc
        except _UNAVAILABLE_EXCEPTIONS as exc:
            raise StorageUnavailable(f"S3 endpoint unreachable: {exc}") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise StorageError(f"S3 request failed: {exc}") from exc

    def _client_error(self, exc: botocore.exceptions.ClientError, key: str | None) -> StorageError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code == "NoSuchBucket":
            return StorageUnavailable(f"S3 bucket {self.bucket!r} does not exist")
        if code in _NOT_FOUND_CODES or status == 404:
            return BlobNotFound(key or "")
        if status >= 500 or status == 429 or code in _UNAVAILABLE_CODES:
            return StorageUnavailable(f"S3 service error: {exc}")
        return StorageError(f"S3 request refused: {exc}")

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str,
        max_size: int | None = None,
    ) -> BlobInfo:
        validate_key(key)
        if isinstance(data, (bytes, bytearray, memoryview)):
            body = bytes(data)
            if max_size is not None and len(body) > max_size:
                raise TooLarge(f"blob is larger than {max_size} bytes")
            with self._errors(key):
                self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
                )
            return BlobInfo(key=key, size=len(body), content_type=content_type)

        # The wrapper hides seek(), so the transfer manager reads the stream once, part by
        # part; an exception it raises aborts the upload and nothing is stored.
        reader = _CountingReader(data, max_size=max_size)
        with self._errors(key):
            self.client.upload_fileobj(
                reader,
                self.bucket,
                key,
                ExtraArgs={"ContentType": content_type},
                Config=self._transfer_config,
            )
        return BlobInfo(key=key, size=reader.count, content_type=content_type)

    def open(self, key: str) -> BinaryIO:
        validate_key(key)
        with self._errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        return io.BufferedReader(_BodyReader(response["Body"], self), buffer_size=CHUNK_SIZE)

    def get(self, key: str) -> bytes:
        validate_key(key)
        with self._errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            with response["Body"] as body:
                return body.read()

    def head(self, key: str) -> BlobInfo | None:
        validate_key(key)
        try:
            with self._errors(key):
                response = self.client.head_object(Bucket=self.bucket, Key=key)
        except BlobNotFound:
            # HEAD responses carry no error body, so a missing bucket also lands here;
            # ping() is what tells the two apart.
            return None
        return BlobInfo(
            key=key,
            size=int(response["ContentLength"]),
            content_type=response.get("ContentType"),
        )

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(
            paginator.paginate(
                Bucket=self.bucket,
                Prefix=prefix,
                PaginationConfig={"PageSize": self.list_page_size},
            )
        )
        while True:
            with self._errors():
                page = next(pages, None)
            if page is None:
                return
            for item in page.get("Contents", ()):
                key = item["Key"]
                if _is_valid_key(key):
                    yield key

    def presign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str | None:
        validate_key(key)
        _check_expires_in(expires_in)
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        with self._errors(key):
            return self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires_in
            )

    def upload_instruction(
        self, key: str, *, content_type: str, size: int, expires_in: int
    ) -> UploadInstruction | None:
        validate_key(key)
        _check_expires_in(expires_in)
        if size < 0:
            raise ValueError("size must not be negative")
        if not content_type:
            raise ValueError("content_type is required")
        # Taken before signing and rounded down, so the reported expiry is never later than
        # the one the store enforces.
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_in)
        with self._errors(key):
            if self.post_policy:
                post = self.client.generate_presigned_post(
                    self.bucket,
                    key,
                    Fields={"Content-Type": content_type},
                    Conditions=[
                        {"Content-Type": content_type},
                        ["content-length-range", size, size],
                    ],
                    ExpiresIn=expires_in,
                )
                return UploadInstruction(
                    method="POST",
                    url=post["url"],
                    headers={},
                    fields={name: str(value) for name, value in post["fields"].items()},
                    expires_at=expires_at,
                )
            url = self.client.generate_presigned_url(
                "put_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ContentType": content_type,
                    "ContentLength": size,
                },
                ExpiresIn=expires_in,
            )
        return UploadInstruction(
            method="PUT",
            url=url,
            headers={"Content-Type": content_type, "Content-Length": str(size)},
            fields={},
            expires_at=expires_at,
        )

    def ping(self) -> None:
        try:
            with self._errors():
                self.client.head_bucket(Bucket=self.bucket)
        except BlobNotFound:
            raise StorageUnavailable(f"S3 bucket {self.bucket!r} does not exist") from None
        except StorageUnavailable:
            raise
        except StorageError as exc:
            # Refused credentials make the store just as unusable as a network outage.
            raise StorageUnavailable(str(exc)) from exc


def _make_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    connect_timeout: float,
    read_timeout: float,
    max_retries: int,
) -> Any:
    config = Config(
        signature_version="s3v4",
        # S3-compatible services differ in their support for the newer default checksums.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # botocore's "max_attempts" counts retries, not including the first attempt.
        retries={"max_attempts": max_retries, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        s3={"addressing_style": "path"},
    )
    # A private session: the default boto3 session is not safe to share between threads.
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def content_disposition(filename: str) -> str:
    """Return an ``attachment`` Content-Disposition value naming ``filename`` (RFC 6266)."""
    fallback = "".join(
        char if " " <= char <= "~" and char not in '"\\' else "_" for char in filename
    )
    encoded = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _check_expires_in(expires_in: int) -> None:
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds")


def _is_valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except StorageError:
        return False
    return True


class _CountingReader:
    """Read-only view of a stream that counts bytes and enforces ``max_size``."""

    def __init__(self, stream: BinaryIO, *, max_size: int | None) -> None:
        self._stream = stream
        self._max_size = max_size
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.count += len(chunk)
        if self._max_size is not None and self.count > self._max_size:
            raise TooLarge(f"blob is larger than {self._max_size} bytes")
        return chunk


class _BodyReader(io.RawIOBase):
    """Raw stream over a botocore response body that raises storage errors."""

    def __init__(self, body: Any, store: S3BlobStore) -> None:
        self._body = body
        self._store = store

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with self._store._errors():
            data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
