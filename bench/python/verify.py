"""Token verification from Python: the trainpod binding against PyJWT (HS256) with the same
claims and checks, measured in one run. Run: `.venv/bin/python bench/python/verify.py` after a
release build of the binding (`maturin develop --release -m bindings-python/Cargo.toml`)."""

from __future__ import annotations

import base64
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import jwt
import trainpod

SECRET = b"0123456789abcdef0123456789ABCDEF"
AUDIENCE = "https://app.example.com"


def per_op_ns(fn: Callable[[], object], iterations: int) -> float:
    rounds = []
    for _ in range(7):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            fn()
        rounds.append((time.perf_counter_ns() - start) / iterations)
    return statistics.median(rounds)


def main() -> None:
    now = int(time.time())
    keys = "k1:active:" + base64.urlsafe_b64encode(SECRET).decode().rstrip("=")
    tokens = trainpod.Tokens(keys, AUDIENCE, now=now)
    issued = tokens.issue("dataset.read", "user-1", "job-1", dataset="ds-42")
    c = issued.claims
    claims = {
        "iss": c.iss,
        "aud": c.aud,
        "sub": c.sub,
        "pur": c.pur,
        "job": c.job,
        "ds": c.ds,
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": c.jti,
        "once": c.once,
    }
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    options: Any = {"require": ["exp", "nbf", "iat", "aud", "iss", "sub"]}

    def verify_trainpod() -> object:
        return tokens.verify(issued.token, "dataset.read", job="job-1", dataset="ds-42")

    def verify_pyjwt() -> object:
        return jwt.decode(
            token,
            SECRET,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer="trainpod",
            options=options,
        )

    verify_trainpod()
    verify_pyjwt()
    ours = per_op_ns(verify_trainpod, 20000)
    theirs = per_op_ns(verify_pyjwt, 5000)
    print(
        json.dumps(
            {
                "benchmark": "python token verify",
                "trainpod_us": round(ours / 1000, 2),
                "pyjwt_us": round(theirs / 1000, 2),
                "ratio": round(theirs / ours, 1),
                "target": ">= 5x PyJWT",
            }
        )
    )


if __name__ == "__main__":
    main()
