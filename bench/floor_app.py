"""The floor of bench/bench_http.py: a bare Flask application with one route that answers "ok" (no database, no
session, no template), served by the same command as the application it stands beside (`flask run` or gunicorn
with deploy/gunicorn.conf.py), so a page's figure can be read against what the server and Flask alone cost."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def floor() -> str:
    """The cheapest answer Flask can give."""
    return "ok"
