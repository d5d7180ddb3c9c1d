#!/usr/bin/env python3
"""An HTTP API guarded by vatoken, and the "Settings -> API" page.

    python3 examples/api-server/app.py \
        --api-db 'dbname=app user=api_server' \
        --settings-db 'dbname=app user=webapp' \
        --staff examples/settings-page/staff.example.json \
        [--host 127.0.0.1] [--port 8080] [--port-file FILE]

--port 0 lets the operating system choose a free port; the line
"listening on http://HOST:PORT" (and --port-file, if given) tells which.

The API (this file):
    GET /flights        scope flights:read   the flights of the token's owner
    GET /flights/count  scope flights:read   how many
    POST /pireps        scope pireps:write   accepts a pilot report (discarded)
    GET /health         no token

Every guarded request takes a connection from a small pool (one per worker
thread at most), runs vatoken_verify($1, $2, $3) with the token, the
route's scopes and the peer's address as bind parameters, and answers:

    valid                                   the route runs, tenant = owner
    malformed, unknown, expired, revoked,
    disabled, no or unreadable header       401 + WWW-Authenticate: Bearer
    forbidden_scope, forbidden_client       403 (+ WWW-Authenticate for scope)
    rate_limited                            429 + X-RateLimit-*, RateLimit-Policy,
                                            RateLimit, Retry-After
    stale, database unreachable             503 + Retry-After
    anything else                           401 (fail closed)

The token is never logged: the request log shows the method, path and
status only, and no error message includes a header.

The client passed to vatoken_verify is the TCP peer.  Behind a reverse
proxy that is the proxy: then wrap the app in werkzeug's ProxyFix with the
exact number of proxies you run, never trust X-Forwarded-For as sent.
This script serves with Werkzeug's threaded server, which is fine for an
example and for tests; in production run the same Flask app under a WSGI
server (gunicorn, uWSGI) behind TLS, with one pool per worker process, and
set SESSION_COOKIE_SECURE for the settings page.
"""
import argparse
import datetime
import logging
import os
import queue
import re
import sys
import threading
import time
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row
from flask import Flask, g, jsonify, request

log = logging.getLogger("api")

# A token is 53 characters; anything much longer is not sent to the database.
MAX_TOKEN_LENGTH = 200

UNAUTHORIZED = {"malformed", "unknown", "expired", "revoked", "disabled"}
FORBIDDEN = {"forbidden_scope", "forbidden_client"}


class PoolTimeout(Exception):
    pass


class RetryOnFresh(Exception):
    pass


class Pool:
    """A small pool of autocommit connections, opened lazily.

    At most `size` connections exist; a request waits up to `timeout`
    seconds for one.  A connection that broke (server restart, network) is
    dropped and replaced by a fresh one on the next request;
    connection(fresh=True) also drops every idle one (after a server
    restart they are all dead, though none knows it until used).
    """

    def __init__(self, conninfo, size=4, timeout=5.0):
        self.conninfo = conninfo
        self.timeout = timeout
        self.idle = queue.LifoQueue()
        self.slots = threading.BoundedSemaphore(size)

    @contextmanager
    def connection(self, fresh=False):
        if not self.slots.acquire(timeout=self.timeout):
            raise PoolTimeout()
        conn = None
        try:
            while True:
                try:
                    conn = self.idle.get_nowait()
                except queue.Empty:
                    conn = None
                    break
                if not fresh:
                    break
                conn.close()
            if conn is None or conn.closed or conn.broken:
                conn = psycopg.connect(self.conninfo, autocommit=True, row_factory=dict_row,
                                       application_name="vatoken-example", connect_timeout=5)
            yield conn
        except BaseException:
            # Whatever failed, do not hand a connection in an unknown state
            # to the next request.
            if conn is not None:
                conn.close()
                conn = None
            raise
        finally:
            if conn is not None:
                if conn.closed or conn.broken or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.close()
                else:
                    self.idle.put(conn)
            self.slots.release()


def bearer_token():
    """The token of an `Authorization: Bearer <token>` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip(" ") or None


# What a token can possibly look like; anything else is answered malformed
# without asking the database (NUL, control characters, bytes above 0x7e).
PLAUSIBLE_TOKEN = re.compile(r"[\x21-\x7e]{1,%d}" % MAX_TOKEN_LENGTH)


def problem(status, message, headers=None):
    resp = jsonify(error=message)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def rate_headers(row):
    """The rate-limit headers of a token with a limit (vatoken_verify's
    rate_limit, rate_remaining and rate_reset are set): GitHub's
    X-RateLimit-* (the reset in seconds since the epoch) and the IETF draft's
    RateLimit-Policy and RateLimit (the reset in seconds from now)."""
    headers = {}
    limit, remaining, reset = row.get("rate_limit"), row.get("rate_remaining"), row.get("rate_reset")
    if limit is None or remaining is None or reset is None:
        return headers
    if isinstance(reset, datetime.datetime):
        reset_epoch = int(reset.timestamp() + 0.999)
    else:
        reset_epoch = int(reset)
    in_seconds = max(0, reset_epoch - int(time.time()))
    headers["X-RateLimit-Limit"] = str(limit)
    headers["X-RateLimit-Remaining"] = str(remaining)
    headers["X-RateLimit-Reset"] = str(reset_epoch)
    headers["RateLimit-Policy"] = '"token";q=%d' % limit
    headers["RateLimit"] = '"token";r=%d;t=%d' % (remaining, in_seconds)
    return headers


def retry_after(row):
    value = row.get("retry_after")
    if isinstance(value, datetime.timedelta):
        value = max(1, int(value.total_seconds() + 0.999))
    return str(value if value is not None else 1)


def register_api(app, pool):
    def guarded(*scopes):
        """Decorator: the route runs only for a valid token with `scopes`;
        g.owner is the token's owner (the tenant), g.conn the connection."""
        def wrap(view):
            def run(*args, **kwargs):
                token = bearer_token()
                if token is None:
                    return problem(401, "a bearer token is required",
                                   {"WWW-Authenticate": 'Bearer realm="api"'})
                if not PLAUSIBLE_TOKEN.fullmatch(token):
                    return problem(401, "malformed",
                                   {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'})
                try:
                    for attempt in (1, 2):
                        try:
                            with pool.connection(fresh=attempt == 2) as conn:
                                try:
                                    row = conn.execute(
                                        "SELECT * FROM vatoken_verify(%s, %s::text[], %s::inet)",
                                        (token, list(scopes), request.remote_addr)).fetchone()
                                except psycopg.OperationalError:
                                    if attempt == 1:
                                        raise RetryOnFresh()
                                    raise
                                status = row["status"]
                                if status == "valid":
                                    g.owner = row["owner"]
                                    g.token_id = row["token_id"]
                                    g.conn = conn
                                    resp = app.make_response(view(*args, **kwargs))
                                    for k, v in rate_headers(row).items():
                                        resp.headers[k] = v
                                    return resp
                            break
                        except RetryOnFresh:
                            # A pooled connection that died (server restart):
                            # the check once more on a new connection.
                            continue
                except (PoolTimeout, psycopg.Error) as e:
                    # Unreachable, or an error no check (nor route) should raise (e.g. a
                    # standby without the preload): fail closed.  The class
                    # of error only: no message (it could quote input).
                    log.warning("database error, answered 503: %s", type(e).__name__)
                    return problem(503, "try again later", {"Retry-After": "5"})
                if status in FORBIDDEN:
                    headers = {}
                    if status == "forbidden_scope":
                        headers["WWW-Authenticate"] = ('Bearer realm="api", error="insufficient_scope", '
                                                       'scope="%s"' % " ".join(scopes))
                    return problem(403, status, headers)
                if status == "rate_limited":
                    headers = rate_headers(row)
                    headers["Retry-After"] = retry_after(row)
                    return problem(429, status, headers)
                if status == "stale":
                    return problem(503, "try again later", {"Retry-After": "5"})
                # malformed, unknown, expired, revoked, disabled, and any
                # status this app does not know yet: fail closed.
                return problem(401, status if status in UNAUTHORIZED else "invalid_token",
                               {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'})
            run.__name__ = view.__name__
            return run
        return wrap

    @app.get("/health")
    def health():
        return jsonify(ok=True)

    @app.get("/flights")
    @guarded("flights:read")
    def flights():
        rows = g.conn.execute(
            "SELECT flight, origin, dest, departs_at FROM flights WHERE owner = %s ORDER BY departs_at",
            (g.owner,)).fetchall()
        for r in rows:
            r["departs_at"] = r["departs_at"].isoformat()
        return jsonify(owner=g.owner, flights=rows)

    @app.get("/flights/count")
    @guarded("flights:read")
    def flights_count():
        n = g.conn.execute("SELECT count(*) AS n FROM flights WHERE owner = %s", (g.owner,)).fetchone()["n"]
        return jsonify(owner=g.owner, count=n)

    @app.post("/pireps")
    @guarded("pireps:write")
    def pireps():
        return jsonify(owner=g.owner, accepted=True), 202


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--api-db", required=True, help="conninfo of the API role (api_server)")
    ap.add_argument("--settings-db", help="conninfo of the settings page's role (webapp)")
    ap.add_argument("--staff", help="JSON file of staff users for the settings page")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--port-file", help="write the port listened on to this file")
    ap.add_argument("--pool-size", type=int, default=4)
    args = ap.parse_args()

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    register_api(app, Pool(args.api_db, size=args.pool_size))

    if args.settings_db:
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path.insert(0, os.path.join(here, "..", "settings-page"))
        import settings  # examples/settings-page/settings.py
        settings.register(app, Pool(args.settings_db, size=args.pool_size), args.staff)

    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        # The request log: method, path without the query string (a client
        # could put a token there), status.  Never a header.
        def log_request(self, code="-", size="-"):
            path = self.path.split("?", 1)[0]
            self.log("info", "%s %r %s", self.command, path[:200], getattr(code, "value", code))

    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    port = server.socket.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("listening on http://%s:%d" % (args.host, port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
