"""Settings -> API: the page where staff manage their airline's API tokens.

Registered on the API server's Flask app (examples/api-server/app.py).

Staff sign in with a name and password from a JSON file (a stand-in for the
real application's own login):

    {"alice": {"password": "...", "owner": "airline-42", "role": "staff_alice"}}

`owner` is the tenant whose tokens the user manages, `role` the PostgreSQL
role that stands for the user.  The permission *Can Manage API Settings* is
the PostgreSQL role api_settings_manager (examples/api-server/setup.sql).
The app connects as `webapp`, a NOINHERIT member of every staff role: it has
no privilege of its own, and every request runs in a transaction that starts
with SET LOCAL ROLE <the user's role> (and vatoken.actor = the user's name,
for the audit trail).  So PostgreSQL itself refuses a user without the
permission (42501), whatever the page shows or a forged form asks; the app
only turns that refusal into a clear page.

CSRF: every form carries a random per-session token that must match the one
in the signed session cookie (SameSite=Strict, HttpOnly).  A new token is shown
once, in the answer to the POST that created it, with Cache-Control:
no-store; it is never put in the session or a redirect.
"""
import hmac
import json
import os
import secrets

import psycopg
from flask import (Blueprint, abort, redirect, render_template, request, session,
                   url_for)

bp = Blueprint("settings", __name__, url_prefix="/settings",
               template_folder="templates", static_folder="static")


class Refused(Exception):
    pass


def register(app, pool, staff_file):
    with open(staff_file) as f:
        staff = json.load(f)
    app.secret_key = os.environ.get("SETTINGS_SECRET_KEY") or secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_NAME="settings_session")
    app.extensions["settings"] = {"pool": pool, "staff": staff}
    app.register_blueprint(bp)


def _cfg():
    from flask import current_app
    return current_app.extensions["settings"]


def csrf_token():
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.before_request
def check_csrf():
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not hmac.compare_digest(sent.encode(), session.get("csrf", "").encode()) or not sent:
            abort(400, "The form expired; reload the page and try again.")


@bp.app_context_processor
def inject():
    return {"csrf_token": csrf_token}


def current_user():
    name = session.get("user")
    user = _cfg()["staff"].get(name) if name else None
    return (name, user) if user else (None, None)


def as_user(user_name, user, fn):
    """Run fn(conn) in one transaction as the user's PostgreSQL role.

    If the pooled connection turns out dead at BEGIN (the server restarted),
    once more on a new one.  Any error past BEGIN leaves the connection to
    the pool, which closes it (and so ends the transaction)."""
    for attempt in (1, 2):
        with _cfg()["pool"].connection(fresh=attempt == 2) as conn:
            try:
                conn.execute("BEGIN")
            except psycopg.OperationalError:
                if attempt == 1:
                    continue
                raise
            try:
                conn.execute("SELECT set_config('role', %s, true), set_config('vatoken.actor', %s, true),"
                             "       set_config('TimeZone', 'UTC', true)",
                             (user["role"], user_name))
                result = fn(conn)
                conn.execute("COMMIT")
                return result
            except psycopg.errors.InsufficientPrivilege:
                conn.execute("ROLLBACK")
                raise Refused()


def no_store(html, status=200):
    return html, status, {"Cache-Control": "no-store"}


@bp.errorhandler(psycopg.OperationalError)
def unavailable(_e):
    return no_store("<p>The database cannot be reached. Try again in a moment.</p>", 503)


@bp.errorhandler(Refused)
def refused(_e):
    name, user = current_user()
    return no_store(render_template("refused.html", user=name, owner=user and user["owner"]), 403)


@bp.get("/login")
def login_form():
    return no_store(render_template("login.html", error=None))


@bp.post("/login")
def login():
    name = request.form.get("user", "")
    user = _cfg()["staff"].get(name)
    given = request.form.get("password", "").encode()
    if user is None or not hmac.compare_digest(given, user["password"].encode()):
        return no_store(render_template("login.html", error="Wrong name or password."), 401)
    session.clear()
    session["user"] = name
    session["csrf"] = secrets.token_urlsafe(32)
    return redirect(url_for("settings.api_page"), 303)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("settings.login_form"), 303)


def _list(conn, owner):
    """Every token with its usage, and its last 30 days (oldest first) for
    the chart: vatoken_usage_daily's calls and refused calls per day."""
    return conn.execute(
        "SELECT l.token_id, l.name, l.created_at, l.last_used_at, l.last_used_client,"
        "       l.calls_today, l.calls_this_week, l.calls_this_month, l.calls_last_month,"
        "       l.expires_at, l.status, l.hint,"
        "       (SELECT array_agg(d.calls ORDER BY d.day) FROM vatoken_usage_daily(%s, l.token_id) d)"
        "         AS daily_calls,"
        "       (SELECT sum(d.rejected) FROM vatoken_usage_daily(%s, l.token_id) d) AS refused_30d"
        "  FROM vatoken_list(%s) l", (owner, owner, owner)).fetchall()


def _page(name, user, created=None, message=None, status=200):
    tokens = as_user(name, user, lambda conn: _list(conn, user["owner"]))
    return no_store(render_template("api.html", user=name, owner=user["owner"], tokens=tokens,
                                    created=created, message=message), status)


@bp.get("/api")
def api_page():
    name, user = current_user()
    if user is None:
        return redirect(url_for("settings.login_form"), 303)
    return _page(name, user)


@bp.post("/api/tokens")
def create_token():
    name, user = current_user()
    if user is None:
        return redirect(url_for("settings.login_form"), 303)
    token_name = request.form.get("name", "").strip()
    if not token_name or len(token_name) > 100 or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in token_name):
        return _page(name, user, message="Give the token a name of 1 to 100 characters, without control characters.", status=400)
    try:
        created = as_user(name, user, lambda conn: conn.execute(
            "SELECT token_id, token, name FROM vatoken_create(%s, %s)",
            (user["owner"], token_name)).fetchone())
    except psycopg.errors.InvalidParameterValue:
        return _page(name, user, message="That name cannot be used (no control characters).", status=400)
    return _page(name, user, created=created, status=201)


@bp.post("/api/tokens/<int:token_id>/delete")
def delete_token(token_id):
    name, user = current_user()
    if user is None:
        return redirect(url_for("settings.login_form"), 303)
    if token_id > 2**63 - 1:        # not a bigint: no such token
        return redirect(url_for("settings.api_page"), 303)
    as_user(name, user, lambda conn: conn.execute(
        "SELECT vatoken_delete(%s, %s)", (user["owner"], token_id)).fetchone())
    return redirect(url_for("settings.api_page"), 303)


@bp.after_request
def security_headers(resp):
    resp.headers["Content-Security-Policy"] = ("default-src 'self'; frame-ancestors 'none'; "
                                               "form-action 'self'; base-uri 'none'")
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
