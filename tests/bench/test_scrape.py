"""The hot reads benchmark reads the API's request counts from /metrics (bench/scrape.py)."""

from bench import scrape

EXPOSITION = """\
# HELP http_request_seconds Time to answer, by route.
# TYPE http_request_seconds histogram
http_request_seconds_bucket{le="0.05",method="GET",route="/api/v1/me",status="200"} 7
http_request_seconds_count{method="GET",route="/api/v1/me",status="200"} 9
# HELP http_requests_total Requests answered, by route, method and status.
# TYPE http_requests_total counter
http_requests_total{route="/api/v1/buildings/<uuid:id>",method="get",status="200"} 1234.0
http_requests_total{method="GET",route="/api/v1/buildings/<uuid:id>",status="404"} 3
http_requests_total{method="POST",route="/api/v1/auth/login",status="200"} 1 1700000000000
http_requests_total{method="GET",route="/api/v1/say \\"hi\\"",status="200"} 2
http_requests_created{method="GET",route="/api/v1/me",status="200"} 1.7e+09
fieldapi_queue_depth 4
"""


def test_reads_the_request_counter_by_method_route_and_status():
    found = scrape.requests_by_route(EXPOSITION)

    assert found is not None
    assert found.metric == "http_requests_total"
    assert found.counts == {
        ("GET", "/api/v1/buildings/<uuid:id>", "200"): 1234,
        ("GET", "/api/v1/buildings/<uuid:id>", "404"): 3,
        ("POST", "/api/v1/auth/login", "200"): 1,
        ("GET", '/api/v1/say "hi"', "200"): 2,
    }


def test_falls_back_to_a_latency_histograms_count():
    only_histogram = "\n".join(
        line for line in EXPOSITION.splitlines() if "requests_total" not in line
    )

    found = scrape.requests_by_route(only_histogram)

    assert found is not None
    assert found.metric == "http_request_seconds_count"
    assert found.counts == {("GET", "/api/v1/me", "200"): 9}


def test_other_label_names_for_route_and_status():
    text = 'http_requests_total{code="503",handler="/ready",method="GET"} 5\n'

    found = scrape.requests_by_route(text)

    assert found is not None
    assert found.counts == {("GET", "/ready", "503"): 5}


def test_nothing_without_route_method_and_status_labels():
    text = 'process_cpu_seconds_total 12.5\nrequests_total{method="GET"} 3\n'

    assert scrape.requests_by_route(text) is None


def test_route_templates_match_the_paths_they_serve():
    building = "/api/v1/buildings/0b5e6a52-3f04-4c8e-9d2e-3c1f0e0f9a11"

    assert scrape.matches("/api/v1/buildings/<uuid:id>", building)
    assert scrape.matches("/api/v1/buildings/{id}", building)
    assert scrape.matches("/api/v1/buildings", "/api/v1/buildings")
    assert not scrape.matches("/api/v1/buildings", building)
    assert not scrape.matches("/api/v1/buildings/<uuid:id>", "/api/v1/buildings")
    assert not scrape.matches("/api/v1/buildings/<uuid:id>", building + "/history")
    assert not scrape.matches("/api/v1/me", "/api/v1/mex")
