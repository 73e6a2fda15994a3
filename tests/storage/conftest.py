"""Fixtures running the blob store tests against every backend."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import BlobStore, LocalBlobStore, S3BlobStore
from tests.support.seaweedfs import SeaweedFS, make_bucket


@pytest.fixture
def s3_credentials(
    seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> SeaweedFS:
    """Expose the server's credentials the standard boto3 way, isolated from ~/.aws."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name, value in seaweedfs.env.items():
        monkeypatch.setenv(name, value)
    return seaweedfs


@pytest.fixture
def s3_bucket(seaweedfs: SeaweedFS) -> Iterator[str]:
    """A fresh, empty bucket, removed with its contents afterwards."""
    name = make_bucket(seaweedfs, f"t-{secrets.token_hex(6)}")
    yield name
    client = seaweedfs.client()
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name):
        for item in page.get("Contents", ()):
            client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


@pytest.fixture
def make_s3_store(s3_credentials: SeaweedFS, s3_bucket: str) -> Callable[..., S3BlobStore]:
    """Build an ``S3BlobStore`` on the fresh bucket; keyword arguments override defaults."""

    def make(**options: Any) -> S3BlobStore:
        options.setdefault("endpoint_url", s3_credentials.endpoint_url)
        options.setdefault("region", s3_credentials.region)
        return S3BlobStore(s3_bucket, **options)

    return make


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each backend in turn, empty."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return request.getfixturevalue("make_s3_store")()
