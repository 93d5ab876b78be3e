"""Schemathesis hooks for the spec fuzz pass (scripts/fuzz.sh).

- api-version: most generated cases get a supported one, so that requests reach the handlers
  instead of all stopping at the version check; every tenth case keeps the generated value.
- create bodies: every other generated policy names the issuer `Self` or `Unknown` (one that
  exists) and a valid subject, so that some creates are accepted and the write path runs with
  otherwise fuzzed policies.
- names: every other case addresses one of three fixed certificate names, so that reads,
  updates, merges, deletes, recovers and purges meet certificates the fuzzed creates made.
- error_envelope: every 4xx must carry Key Vault's envelope {"error": {"code", "message"}}.
- the number of requests sent is written to $FUZZ_COUNT_FILE at exit.
"""

import atexit
import json
import os

import schemathesis

_seen = {"requests": 0, "cases": 0}


@schemathesis.hook
def map_query(context, query):
    _seen["cases"] += 1
    if _seen["cases"] % 10 != 0:
        query = dict(query or {})
        query["api-version"] = "7.5"
    return query


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    _seen["paths"] = _seen.get("paths", 0) + 1
    n = _seen["paths"]
    if isinstance(path_parameters, dict) and "certificate-name" in path_parameters and n % 2 == 0:
        path_parameters = dict(path_parameters)
        path_parameters["certificate-name"] = f"fuzz{n % 3}"
    return path_parameters


@schemathesis.hook
def map_body(context, body):
    op = context.operation
    if op is None or not op.path.endswith("/create") or not isinstance(body, dict):
        return body
    policy = body.get("policy")
    if isinstance(policy, dict):
        _seen["creates"] = _seen.get("creates", 0) + 1
        n = _seen["creates"]
        if n % 2 == 0:
            issuer = policy.get("issuer") if isinstance(policy.get("issuer"), dict) else {}
            issuer["name"] = "Self" if n % 4 == 0 else "Unknown"
            policy["issuer"] = issuer
            x509 = policy.get("x509_props") if isinstance(policy.get("x509_props"), dict) else {}
            x509["subject"] = "CN=fuzz.example.com"
            policy["x509_props"] = x509
    return body


@schemathesis.hook
def after_call(context, case, response):
    _seen["requests"] += 1


@schemathesis.check
def error_envelope(ctx, response, case):
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = json.loads(response.content or b"")
    except ValueError as e:
        raise AssertionError(f"{response.status_code} without a JSON body: {e}")
    err = body.get("error") if isinstance(body, dict) else None
    if not (
        isinstance(err, dict)
        and isinstance(err.get("code"), str)
        and isinstance(err.get("message"), str)
    ):
        raise AssertionError(f"{response.status_code} outside the error envelope: {body!r}")
    return None


def _write_count():
    path = os.environ.get("FUZZ_COUNT_FILE")
    if path:
        with open(path, "w") as f:
            f.write(str(_seen["requests"]))


atexit.register(_write_count)
