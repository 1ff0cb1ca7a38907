"""Shared pytest setup: never touch real AWS from a test."""

from __future__ import annotations

import os

# Fake credentials and region for every test; an accidental real call fails fast.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Dynamigrate")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "dynamigrate-test")
os.environ.setdefault("POWERTOOLS_DEV", "false")
