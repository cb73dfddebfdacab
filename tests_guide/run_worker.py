"""``python -m tests_guide.run_worker [options]``: the worker with the guide's handler.

A handler module outside ``courier_worker.handlers`` is imported before the
worker starts, which is when the app derives its tasks and bindings.
"""

from __future__ import annotations

import sys

from courier_worker.celery_app import app

import tests_guide.example.handler  # noqa: F401  (declares the guide's handler)

if __name__ == "__main__":
    app.worker_main(["worker", *sys.argv[1:]])
