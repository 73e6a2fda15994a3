"""Hello world on Flask: what the same gunicorn serves when the application does nothing.

``bench.hot_reads`` serves it beside the API, on the same settings, and measures both.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> dict[str, str]:
    return {"hello": "world"}
