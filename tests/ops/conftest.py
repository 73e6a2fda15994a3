"""Operations tests: scraping /metrics in the test process, and apps with other settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fieldapi import create_app
from tests.photos.conftest import PhotoClient


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape: (sample name, its labels) → value. Parsing is the check that
    the text is the Prometheus format."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class Scraper:
    """Reads /metrics through a test client, from loopback, and answers differences."""

    def __init__(self, client) -> None:
        self.client = client
        self.last: dict = {}

    def scrape(self) -> dict:
        response = self.client.get("/metrics")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert response.mimetype == "text/plain"
        self.text = response.get_data(as_text=True)
        self.last = samples(self.text)
        return self.last

    def value(self, name: str, **labels: str) -> float:
        return self.last.get((name, frozenset(labels.items())), 0.0)

    def change(self, before: dict, name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return self.last.get(key, 0.0) - before.get(key, 0.0)


@pytest.fixture
def scraper(client) -> Scraper:
    return Scraper(client)


@pytest.fixture
def photos(client, app) -> PhotoClient:
    return PhotoClient(client, app)


@pytest.fixture
def make_app(settings, app) -> Iterator:
    """``make_app(**changes)``: an app on the test database and store with other settings."""
    made = []

    def make(**changes):
        new = create_app(dataclasses.replace(settings, **changes))
        made.append(new)
        return new

    yield make
    for new in made:
        new.extensions["fieldapi.engine"].dispose()
