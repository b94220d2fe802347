#!/usr/bin/env python3
"""Generate Django session fixtures for signgate's Django-session verifier.

Everything here is produced by a real, pinned Django (see requirements.txt):
real migrations create the tables, real logins go through the test Client,
SessionMiddleware, django.contrib.auth.authenticate/login/logout and the real
SessionStore of the db and signed_cookies backends. Only two things are
patched, to make the output deterministic:

  * the clock (django.utils.timezone.now and the `time` module seen by
    django.core.signing), frozen at fixed instants chosen per case;
  * the random source of session keys
    (django.contrib.sessions.backends.base.get_random_string), replaced by a
    PRNG seeded with the case name (same alphabet and length as Django's).

Usage:
    python generate.py            # regenerate tests/fixtures/django/*, then verify
    python generate.py --check    # only verify the committed fixtures
    python generate.py --check --skip-postgres   # verify without Postgres

Postgres (for postgres.sql) is reached with the libpq conninfo in
$SIGNGATE_DJFX_PG (default: host=127.0.0.1 port=5432 user=postgres dbname=test).
The script creates a throwaway database there and drops it before exiting.

Outputs are written to a temporary directory, verified (with Django itself and
with an independent re-implementation of the format described in README.md),
and only then copied into tests/fixtures/django/.
"""

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import zlib
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUT_DIR = REPO / "tests" / "fixtures" / "django"
OUT_REL = "tests/fixtures/django"

# ---------------------------------------------------------------------------
# TEST-ONLY SECRETS. These keys are public (committed) and exist only to sign
# fixtures. Never use them, or anything derived from them, in a real deployment.
# ---------------------------------------------------------------------------
APP_SECRET_KEY = "django-insecure-signgate-TEST-ONLY-fixture-key-!@#$%^&*(-_=+)-0123456789"
OTHER_SECRET_KEY = "django-insecure-signgate-TEST-ONLY-OTHER-app-key-zyxwvutsrq-9876543210"
# Test-only passwords of the fixture users (hashed with a fixed salt below).
USER_PASSWORD = "signgate-test-only-password"

SESSION_COOKIE_NAME = "sessionid"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 7 * 2  # Django's default, 1209600 s
DB_ENGINE = "django.contrib.sessions.backends.db"
SC_ENGINE = "django.contrib.sessions.backends.signed_cookies"
AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"

UTC = dt.timezone.utc
# Fixed instants. Outcomes in the manifest hold when "now" == EVALUATE_AT.
# GENERATED_AT has microseconds, as real expire_date values do (signing
# timestamps are whole seconds: int(time.time())). EVALUATE_AT is a whole
# second so that the boundary cases are exact.
GENERATED_AT = dt.datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
EVALUATE_AT = dt.datetime(2025, 6, 1, 13, 0, 0, tzinfo=UTC)
LONG_AGO = GENERATED_AT - dt.timedelta(days=30)

USERS = [
    # id, username, first, last, groups
    (42, "alice", "Alice", "Example", []),
    (7, "zoe", "Zo\u00eb", "\u00c5ngstr\u00f6m", ["billing-admins", "editors"]),
]
GROUPS = [(1, "billing-admins"), (2, "editors")]

PG_DEFAULT_CONNINFO = "host=127.0.0.1 port=5432 user=postgres dbname=test"

# ---------------------------------------------------------------------------
# Independent reference implementation (no Django imports). This is the
# byte-level format that README.md describes and the Rust side must implement.
# Every fixture is classified by it and by Django, and both must agree with
# the expected outcome written to the manifest.
# ---------------------------------------------------------------------------
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def ref_b64_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def ref_b64_decode(text: str) -> bytes:
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def ref_b62_decode(text: str) -> int:
    sign = 1
    if text.startswith("-"):
        sign, text = -1, text[1:]
    if not text:
        raise ValueError("empty base62")
    n = 0
    for ch in text:
        n = n * 62 + B62.index(ch)  # ValueError on a foreign character
    return sign * n


def ref_signature(secret: str, salt: str, signed_part: str) -> str:
    key = hashlib.sha256(salt.encode("utf-8") + b"signer" + secret.encode("utf-8")).digest()
    mac = hmac.new(key, signed_part.encode("utf-8"), hashlib.sha256).digest()
    return ref_b64_encode(mac)


def ref_session_auth_hash(secret: str, password_field: str) -> str:
    """_auth_user_hash as django.contrib.auth.base_user.AbstractBaseUser.get_session_auth_hash computes it."""
    salt = b"django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
    key = hashlib.sha256(salt + secret.encode("utf-8")).digest()
    return hmac.new(key, password_field.encode("utf-8"), hashlib.sha256).hexdigest()


def ref_decode(value: str, *, secrets, salt: str, max_age=None, now=None):
    """Return (outcome, session_dict_or_None, signed_at_or_None)."""
    if value.count(":") < 2:
        return "malformed", None, None
    signed_part, sig = value.rsplit(":", 1)
    if not any(hmac.compare_digest(sig.encode(), ref_signature(s, salt, signed_part).encode()) for s in secrets):
        return "bad_signature", None, None
    payload, ts_text = signed_part.rsplit(":", 1)
    try:
        ts = ref_b62_decode(ts_text)
    except ValueError:
        return "malformed", None, None
    if max_age is not None and now - ts > max_age:
        return "expired", None, ts
    compressed = payload.startswith(".")
    try:
        raw = ref_b64_decode(payload[1:] if compressed else payload)
        if compressed:
            raw = zlib.decompress(raw)
        session = json.loads(raw.decode("latin-1"))
    except Exception:
        return "malformed", None, ts
    if not isinstance(session, dict):
        return "malformed", None, ts
    if "_auth_user_id" in session:
        return "valid", session, ts
    return "anonymous", session, ts


def ref_classify_db(row, *, secrets, salt, now_dt):
    """row: None or (session_data, expire_date aware datetime)."""
    if row is None:
        return "anonymous", None, None  # no such session
    session_data, expire_date = row
    if not expire_date > now_dt:  # Django: expire_date__gt=timezone.now()
        return "expired", None, None
    return ref_decode(session_data, secrets=secrets, salt=salt)


def payload_info(value: str):
    """Inspect a well-formed signed value without verifying it (for the manifest)."""
    parts = value.split(":")
    if len(parts) != 3:
        return {}
    payload, ts_text, _ = parts
    info = {"compressed": payload.startswith("."), "timestamp_base62": ts_text}
    try:
        ts = ref_b62_decode(ts_text)
        info["timestamp"] = ts
        info["timestamp_iso"] = dt.datetime.fromtimestamp(ts, UTC).isoformat()
    except ValueError:
        pass
    try:
        raw = ref_b64_decode(payload[1:] if info["compressed"] else payload)
        if info["compressed"]:
            raw = zlib.decompress(raw)
        info["payload_json"] = raw.decode("latin-1")
    except Exception:
        pass
    return info


# ---------------------------------------------------------------------------
# Determinism: frozen clock and seeded session keys.
# ---------------------------------------------------------------------------
class Clock:
    now = GENERATED_AT

    @classmethod
    @contextlib.contextmanager
    def at(cls, when):
        old, cls.now = cls.now, when
        try:
            yield
        finally:
            cls.now = old


class _FrozenTimeModule:
    """Stands in for the `time` module inside django.core.signing."""

    @staticmethod
    def time():
        return Clock.now.timestamp()


class KeyGen:
    rng = random.Random("signgate-django-fixtures:unset")

    @classmethod
    @contextlib.contextmanager
    def case(cls, name):
        old, cls.rng = cls.rng, random.Random("signgate-django-fixtures:" + name)
        try:
            yield
        finally:
            cls.rng = old

    @classmethod
    def get_random_string(cls, length, allowed_chars="abcdefghijklmnopqrstuvwxyz0123456789"):
        return "".join(cls.rng.choice(allowed_chars) for _ in range(length))


class Router:
    """Sends every ORM query to Router.target (switched between databases)."""

    target = "default"

    def db_for_read(self, model, **hints):
        return Router.target

    def db_for_write(self, model, **hints):
        return Router.target

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return True


@contextlib.contextmanager
def using_db(alias):
    old, Router.target = Router.target, alias
    try:
        yield
    finally:
        Router.target = old


# ---------------------------------------------------------------------------
# Views (this module is ROOT_URLCONF).
# ---------------------------------------------------------------------------
def login_view(request):
    from django.contrib.auth import authenticate, login
    from django.http import HttpResponse

    user = authenticate(request, username=request.POST["username"], password=request.POST["password"])
    if user is None:
        return HttpResponse("bad credentials", status=403)
    login(request, user)
    extra = request.POST.get("extra", "")
    if extra == "roles":
        request.session["roles"] = [g.name for g in user.groups.order_by("name")]
        request.session["display_name"] = user.get_full_name()
        request.session["tenant"] = {"id": 3, "slug": "acme"}
    elif extra == "big":
        request.session["recently_viewed"] = ["SKU-%05d" % i for i in range(150)]
    return HttpResponse("ok")


def logout_view(request):
    from django.contrib.auth import logout
    from django.http import HttpResponse

    logout(request)
    # Data kept by an anonymous visitor after logging out, so that Django saves
    # a (new) non-empty session for them.
    request.session["theme"] = "dark"
    return HttpResponse("ok")


def whoami_view(request):
    from django.http import JsonResponse

    user = request.user
    return JsonResponse(
        {
            "user_id": str(user.pk) if user.is_authenticated else None,
            "session": dict(request.session.items()),
        }
    )


def _urlpatterns():
    from django.urls import path

    return [
        path("login/", login_view),
        path("logout/", logout_view),
        path("whoami/", whoami_view),
    ]


urlpatterns = []  # filled in after settings are configured


# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------
def pg_connect(conninfo, **kw):
    import psycopg

    return psycopg.connect(conninfo, autocommit=True, **kw)


def setup_django(sqlite_path, sqlite_check_path, pg_conninfo, pg_scratch_db):
    import django
    from django.conf import settings

    databases = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(sqlite_path)},
        "sqlite_check": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(sqlite_check_path)},
    }
    if pg_scratch_db:
        from psycopg.conninfo import conninfo_to_dict

        ci = conninfo_to_dict(pg_conninfo)
        base = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": pg_scratch_db,
            "USER": ci.get("user", "postgres"),
            "PASSWORD": ci.get("password", ""),
            "HOST": ci.get("host", "127.0.0.1"),
            "PORT": str(ci.get("port", "5432")),
        }
        databases["pg"] = dict(base)
        # A connection that sees the table loaded from postgres.sql first.
        databases["pgfile"] = dict(base, OPTIONS={"options": "-c search_path=file_check,public"})

    settings.configure(
        DEBUG=False,
        SECRET_KEY=APP_SECRET_KEY,
        SECRET_KEY_FALLBACKS=[],
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        ROOT_URLCONF=__name__,
        DATABASES=databases,
        DATABASE_ROUTERS=[__name__ + ".Router"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
        TIME_ZONE="UTC",
        SESSION_ENGINE=DB_ENGINE,
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_AGE=SESSION_COOKIE_AGE,
        SESSION_SERIALIZER="django.contrib.sessions.serializers.JSONSerializer",
        AUTHENTICATION_BACKENDS=[AUTH_BACKEND],
        LOGGING_CONFIG=None,
    )
    django.setup()
    import logging

    # Django logs "Session data corrupted" for every bad-signature case we verify.
    logging.getLogger("django.security.SuspiciousSession").addHandler(logging.NullHandler())
    logging.getLogger("django.security.SuspiciousSession").propagate = False
    sys.modules[__name__].urlpatterns = _urlpatterns()

    import django.core.signing
    import django.contrib.sessions.backends.base
    import django.utils.timezone

    mock.patch.object(django.core.signing, "time", _FrozenTimeModule).start()
    mock.patch.object(django.utils.timezone, "now", lambda: Clock.now).start()
    mock.patch.object(django.contrib.sessions.backends.base, "get_random_string", KeyGen.get_random_string).start()


def migrate(alias):
    from django.core.management import call_command

    call_command("migrate", database=alias, verbosity=0, interactive=False)


def create_users(alias, password_hashes=None):
    """Create the fixture users. password_hashes (id -> stored hash) reuses the
    committed hashes, so that --check also works under another Django whose
    default PBKDF2 iteration count differs."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User

    with using_db(alias), Clock.at(GENERATED_AT):
        groups = {name: Group.objects.create(id=gid, name=name) for gid, name in GROUPS}
        for uid, username, first, last, group_names in USERS:
            u = User.objects.create(
                id=uid,
                username=username,
                first_name=first,
                last_name=last,
                email="%s@example.test" % username,
                # Fixed salt (>= 22 chars, so Django does not re-hash it on login)
                # so the hash, and thus _auth_user_hash, is deterministic.
                password=(password_hashes or {}).get(uid)
                or make_password(USER_PASSWORD, salt="signgateTestOnlyFixtureSalt%d" % uid, hasher="pbkdf2_sha256"),
                date_joined=GENERATED_AT - dt.timedelta(days=365),
            )
            for g in group_names:
                u.groups.add(groups[g])


def users_manifest(alias):
    from django.contrib.auth.models import User

    out = []
    with using_db(alias):
        for uid, *_ in USERS:
            u = User.objects.get(pk=uid)
            out.append(
                {
                    "id": u.pk,
                    "username": u.username,
                    "password_hash": u.password,
                    "session_auth_hash": u.get_session_auth_hash(),
                    "groups": [g.name for g in u.groups.order_by("name")],
                }
            )
    return out


# ---------------------------------------------------------------------------
# Producing sessions through Django
# ---------------------------------------------------------------------------
def run_client(case, steps, *, engine, at=GENERATED_AT, secret=APP_SECRET_KEY):
    """Run HTTP steps through the full middleware stack; return the final sessionid cookie."""
    from django.test import Client, override_settings

    with KeyGen.case(case), Clock.at(at), override_settings(SESSION_ENGINE=engine, SECRET_KEY=secret):
        client = Client()
        for path, data in steps:
            resp = client.post(path, data)
            assert resp.status_code == 200, (case, path, resp.status_code, resp.content)
        morsel = client.cookies[SESSION_COOKIE_NAME]
        assert morsel.value and morsel.coded_value == morsel.value, (case, morsel)
        return morsel.value


def login_steps(username, extra=""):
    return [("/login/", {"username": username, "password": USER_PASSWORD, "extra": extra})]


def b64_reencode_with(value, mutate):
    """Re-encode a signed value's payload after mutate(dict), keeping timestamp and signature."""
    payload, ts, sig = value.split(":")
    compressed = payload.startswith(".")
    raw = ref_b64_decode(payload[1:] if compressed else payload)
    if compressed:
        raw = zlib.decompress(raw)
    obj = json.loads(raw)
    mutate(obj)
    raw = json.dumps(obj, separators=(",", ":")).encode("latin-1")
    if compressed:
        raw = zlib.compress(raw)
    return "%s%s:%s:%s" % ("." if compressed else "", ref_b64_encode(raw), ts, sig)


def tamper_one_char(value):
    i = value.index(":") // 2
    c = value[i]
    assert c not in ".:"
    return value[:i] + ("A" if c != "A" else "B") + value[i + 1 :]


def set_user_43(obj):
    obj["_auth_user_id"] = "43"


def truncate_payload(value):
    return value[: value.index(":") // 2]


def truncate_signature(value):
    return value[:-10]


def case_entry(name, backend, expected, description, *, subject=None, acceptable=None, secret=APP_SECRET_KEY, salt):
    e = {
        "name": name,
        "backend": backend,
        "description": description,
        "secret_key": APP_SECRET_KEY,
        "signed_with_secret_key": secret,
        "uses_other_secret_key": secret != APP_SECRET_KEY,
        "salt": salt,
        "session_cookie_age": SESSION_COOKIE_AGE,
        "expected": {"outcome": expected},
        "acceptable_outcomes": acceptable or [expected],
    }
    if subject is not None:
        e["expected"]["subject"] = subject
    return e


def generate_db_cases(db_salt, sc_salt):
    """Create the django_session rows in the default (sqlite) database. Returns manifest stubs."""
    from django.contrib.sessions.models import Session

    cases = []

    def add(name, expected, description, **kw):
        e = case_entry(name, "db", expected, description, salt=db_salt, **kw)
        cases.append(e)
        return e

    with using_db("default"):
        k = run_client("db_valid_user42", login_steps("alice"), engine=DB_ENGINE)
        add("db_valid_user42", "valid", "User 42 logged in through django.contrib.auth.login.", subject="42")["session_key"] = k

        k = run_client("db_valid_user7_roles", login_steps("zoe", "roles"), engine=DB_ENGINE)
        add(
            "db_valid_user7_roles",
            "valid",
            "User 7 logged in; the view also stored roles (from the user's groups), a non-ASCII display_name and a nested object.",
            subject="7",
        )["session_key"] = k

        k = run_client("db_compressed_user42", login_steps("alice", "big"), engine=DB_ENGINE)
        add(
            "db_compressed_user42",
            "valid",
            "User 42 with a large 'recently_viewed' list: Django zlib-compressed the payload ('.' prefix).",
            subject="42",
        )["session_key"] = k

        k = run_client("db_expired_user42", login_steps("alice"), engine=DB_ENGINE, at=LONG_AGO)
        add("db_expired_user42", "expired", "User 42 logged in 30 days before generated_at; expire_date is in the past.")[
            "session_key"
        ] = k

        at = EVALUATE_AT - dt.timedelta(seconds=SESSION_COOKIE_AGE)
        k = run_client("db_expire_date_equals_now", login_steps("alice"), engine=DB_ENGINE, at=at)
        add(
            "db_expire_date_equals_now",
            "expired",
            "Boundary: expire_date == evaluate_at exactly. Django only loads rows with expire_date > now, so this is expired.",
        )["session_key"] = k

        k = run_client("db_logged_out", login_steps("alice") + [("/logout/", {})], engine=DB_ENGINE)
        add(
            "db_logged_out",
            "anonymous",
            "User 42 logged in, then logged out (session flushed; the old row was deleted) and the anonymous visitor stored 'theme'. No _auth_user_id.",
        )["session_key"] = k

        k = run_client("db_tampered_one_char", login_steps("alice"), engine=DB_ENGINE)
        row = Session.objects.get(pk=k)
        Session.objects.filter(pk=k).update(session_data=tamper_one_char(row.session_data))
        add("db_tampered_one_char", "bad_signature", "Valid user-42 row, then one character of the base64 payload was changed in the table.")[
            "session_key"
        ] = k

        k = run_client("db_tampered_user_id", login_steps("alice"), engine=DB_ENGINE)
        row = Session.objects.get(pk=k)
        Session.objects.filter(pk=k).update(session_data=b64_reencode_with(row.session_data, set_user_43))
        add(
            "db_tampered_user_id",
            "bad_signature",
            "Valid user-42 row whose payload was re-encoded with _auth_user_id '43' (well-formed JSON) keeping the old timestamp and signature.",
        )["session_key"] = k

        k = run_client("db_other_secret_key", login_steps("alice"), engine=DB_ENGINE, secret=OTHER_SECRET_KEY)
        add(
            "db_other_secret_key",
            "bad_signature",
            "User 42 logged in by a Django configured with ANOTHER SECRET_KEY, stored in the same table.",
            secret=OTHER_SECRET_KEY,
        )["session_key"] = k

        k = run_client("db_truncated_payload", login_steps("alice"), engine=DB_ENGINE)
        row = Session.objects.get(pk=k)
        Session.objects.filter(pk=k).update(session_data=truncate_payload(row.session_data))
        add("db_truncated_payload", "malformed", "Valid user-42 row with session_data cut in the middle of the payload (no ':' left).")[
            "session_key"
        ] = k

        k = run_client("db_truncated_signature", login_steps("alice"), engine=DB_ENGINE)
        row = Session.objects.get(pk=k)
        Session.objects.filter(pk=k).update(session_data=truncate_signature(row.session_data))
        add(
            "db_truncated_signature",
            "bad_signature",
            "Valid user-42 row with the last 10 characters of the signature cut off (Django: signature mismatch; a length check may call it malformed).",
            acceptable=["bad_signature", "malformed"],
        )["session_key"] = k

        # session_data signed with the signed_cookies salt instead of the db salt.
        cookie = run_client("db_wrong_salt:cookie", login_steps("alice"), engine=SC_ENGINE)
        from django.contrib.sessions.backends.db import SessionStore as DbStore

        with KeyGen.case("db_wrong_salt"), Clock.at(GENERATED_AT):
            k = DbStore()._get_new_session_key()
            Session.objects.create(
                session_key=k,
                session_data=cookie,
                expire_date=GENERATED_AT + dt.timedelta(seconds=SESSION_COOKIE_AGE),
            )
        add(
            "db_wrong_salt",
            "bad_signature",
            "session_data is a user-42 value signed with the right SECRET_KEY but the signed_cookies salt %r, not the db salt." % sc_salt,
        )["session_key"] = k

    return cases


def generate_sc_cases(db_salt, sc_salt, db_valid_session_data):
    cases = []

    def add(name, expected, description, value, **kw):
        e = case_entry(name, "signed_cookies", expected, description, salt=sc_salt, **kw)
        e["cookie_name"] = SESSION_COOKIE_NAME
        e["cookie_value"] = value
        cases.append(e)
        return e

    with using_db("default"):
        v = run_client("sc_valid_user42", login_steps("alice"), engine=SC_ENGINE)
        add("sc_valid_user42", "valid", "User 42 logged in with the signed_cookies session engine.", v, subject="42")

        v = run_client("sc_valid_user7_roles", login_steps("zoe", "roles"), engine=SC_ENGINE)
        add("sc_valid_user7_roles", "valid", "User 7 with roles, non-ASCII display_name and a nested object.", v, subject="7")

        v = run_client("sc_compressed_user42", login_steps("alice", "big"), engine=SC_ENGINE)
        add("sc_compressed_user42", "valid", "User 42 with a large payload: zlib-compressed ('.' prefix).", v, subject="42")

        v = run_client("sc_expired_user42", login_steps("alice"), engine=SC_ENGINE, at=LONG_AGO)
        add("sc_expired_user42", "expired", "User 42 signed 30 days before generated_at: age > SESSION_COOKIE_AGE.", v)

        v = run_client(
            "sc_age_equals_max_age", login_steps("alice"), engine=SC_ENGINE, at=EVALUATE_AT - dt.timedelta(seconds=SESSION_COOKIE_AGE)
        )
        add(
            "sc_age_equals_max_age",
            "valid",
            "Boundary: signed exactly SESSION_COOKIE_AGE seconds before evaluate_at. Django expires only when age > max_age, so still valid.",
            v,
            subject="42",
        )

        v = run_client(
            "sc_age_max_age_plus_1",
            login_steps("alice"),
            engine=SC_ENGINE,
            at=EVALUATE_AT - dt.timedelta(seconds=SESSION_COOKIE_AGE + 1),
        )
        add("sc_age_max_age_plus_1", "expired", "Boundary: signed SESSION_COOKIE_AGE + 1 seconds before evaluate_at.", v)

        v = run_client("sc_logged_out", login_steps("alice") + [("/logout/", {})], engine=SC_ENGINE)
        add("sc_logged_out", "anonymous", "User 42 logged in then out; the anonymous visitor stored 'theme'. No _auth_user_id.", v)

        v = run_client("sc_tampered_one_char", login_steps("alice"), engine=SC_ENGINE)
        add("sc_tampered_one_char", "bad_signature", "Valid user-42 cookie with one character of the base64 payload changed.", tamper_one_char(v))

        v = run_client("sc_tampered_user_id", login_steps("alice"), engine=SC_ENGINE)
        add(
            "sc_tampered_user_id",
            "bad_signature",
            "Valid user-42 cookie re-encoded with _auth_user_id '43', old timestamp and signature kept.",
            b64_reencode_with(v, set_user_43),
        )

        v = run_client("sc_other_secret_key", login_steps("alice"), engine=SC_ENGINE, secret=OTHER_SECRET_KEY)
        add("sc_other_secret_key", "bad_signature", "User 42 cookie made by a Django with ANOTHER SECRET_KEY.", v, secret=OTHER_SECRET_KEY)

        v = run_client("sc_truncated_payload", login_steps("alice"), engine=SC_ENGINE)
        add("sc_truncated_payload", "malformed", "Valid cookie cut in the middle of the payload (no ':' left).", truncate_payload(v))

        v = run_client("sc_truncated_signature", login_steps("alice"), engine=SC_ENGINE)
        add(
            "sc_truncated_signature",
            "bad_signature",
            "Valid cookie with the last 10 characters of the signature cut off.",
            truncate_signature(v),
            acceptable=["bad_signature", "malformed"],
        )

        add(
            "sc_wrong_salt",
            "bad_signature",
            "The session_data of db_valid_user42 (right SECRET_KEY, db salt %r) presented as a signed_cookies cookie." % db_salt,
            db_valid_session_data,
        )
    return cases


# ---------------------------------------------------------------------------
# Postgres
# ---------------------------------------------------------------------------
PG_DESCRIBE_SQL = {
    "columns": """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = %(rel)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum""",
    "constraints": """
        SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = %(rel)s::regclass ORDER BY conname""",
    "indexes": """
        SELECT indexname, replace(indexdef, %(schema)s || '.', '') FROM pg_indexes
        WHERE schemaname = %(schema)s AND tablename = 'django_session' ORDER BY indexname""",
}


def pg_describe(conn, schema):
    rel = "%s.django_session" % schema
    return {k: conn.execute(q, {"rel": rel, "schema": schema}).fetchall() for k, q in PG_DESCRIBE_SQL.items()}


def pg_session_ddl():
    """The exact DDL Django's sessions migration runs on PostgreSQL (sqlmigrate)."""
    from django.core.management import call_command

    buf = io.StringIO()
    call_command("sqlmigrate", "sessions", "0001", database="pg", stdout=buf)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip() not in ("BEGIN;", "COMMIT;")]
    return "\n".join(lines).strip() + "\n"


def sql_str(s):
    assert "\\" not in s and "\x00" not in s
    return "'" + s.replace("'", "''") + "'"


def pg_timestamptz(d):
    return d.astimezone(UTC).isoformat(sep=" ")


def build_postgres_sql(ddl, rows, django_version):
    out = [
        "-- Django session fixtures for signgate (PostgreSQL).",
        "-- Generated by scripts/django-fixtures/generate.py with Django %s. Do not edit by hand." % django_version,
        "-- CREATE TABLE/INDEX are Django's own migration SQL (sessions 0001_initial via sqlmigrate), checked",
        "-- against the table Django's migrate created. No schema name: load it into whichever schema you like.",
        "-- Cases and expected outcomes: manifest.json (backend \"db/postgres\"). TEST-ONLY SECRET_KEYs.",
        "",
        ddl.rstrip("\n"),
        "",
    ]
    for key, data, expire in rows:
        out.append(
            "INSERT INTO \"django_session\" (\"session_key\", \"session_data\", \"expire_date\") VALUES (%s, %s, %s);"
            % (sql_str(key), sql_str(data), sql_str(pg_timestamptz(expire)))
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------
class Failures(list):
    def check(self, cond, msg):
        if not cond:
            self.append(msg)


def django_whoami(cookie_value, engine, alias):
    from django.test import Client, override_settings

    with using_db(alias), Clock.at(EVALUATE_AT), override_settings(SESSION_ENGINE=engine):
        client = Client()
        client.cookies[SESSION_COOKIE_NAME] = cookie_value
        resp = client.get("/whoami/")
        assert resp.status_code == 200
        return resp.json()


def verify_db_case(case, alias, fails, label):
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.core import signing

    name, key = case["name"], case["session_key"]
    expected = case["expected"]["outcome"]
    with using_db(alias), Clock.at(EVALUATE_AT):
        row = Session.objects.filter(pk=key).values_list("session_data", "expire_date").first()
        fails.check(row is not None, "%s %s: row missing" % (label, name))
        if row is None:
            return
        fails.check(row[0] == case["session_data"], "%s %s: session_data differs from manifest" % (label, name))
        fails.check(row[1] == dt.datetime.fromisoformat(case["expire_date"]), "%s %s: expire_date differs" % (label, name))
        store = SessionStore(key)
        loaded = store.load()
        # Independent re-implementation must agree with the expected outcome.
        outcome, session, _ = ref_classify_db(row, secrets=[APP_SECRET_KEY], salt=case["salt"], now_dt=EVALUATE_AT)
        fails.check(outcome == expected, "%s %s: reference implementation says %s, expected %s" % (label, name, outcome, expected))
        try:
            signing.loads(row[0], salt=store.key_salt, serializer=store.serializer)
            direct_err = None
        except Exception as e:  # noqa: BLE001
            direct_err = e
    who = django_whoami(key, DB_ENGINE, alias)
    if expected == "valid":
        fails.check(
            case["expected"].get("subject") is not None and case["decoded"].get("_auth_user_id") == case["expected"]["subject"],
            "%s %s: valid case without matching subject" % (label, name),
        )
    if expected in ("valid", "anonymous"):
        fails.check(loaded == case["decoded"], "%s %s: Django SessionStore.load() %r != manifest" % (label, name, loaded))
        fails.check(session == case["decoded"], "%s %s: reference decode differs" % (label, name))
        fails.check(who["session"] == case["decoded"], "%s %s: whoami session differs" % (label, name))
        want_user = case["expected"].get("subject")
        fails.check(who["user_id"] == want_user, "%s %s: Django request.user %r, want %r" % (label, name, who["user_id"], want_user))
    else:
        fails.check(loaded == {}, "%s %s: Django loaded a non-empty session for a failing case" % (label, name))
        fails.check(who["user_id"] is None, "%s %s: Django authenticated a failing case" % (label, name))
        if expected == "expired":
            fails.check(direct_err is None, "%s %s: expired row should still carry a good signature (%r)" % (label, name, direct_err))
        elif expected == "bad_signature":
            fails.check(
                type(direct_err) is signing.BadSignature, "%s %s: Django raised %r, want BadSignature" % (label, name, direct_err)
            )
        elif expected == "malformed":
            fails.check(direct_err is not None, "%s %s: Django decoded a malformed value" % (label, name))


def verify_sc_case(case, alias, fails):
    from django.contrib.sessions.backends.signed_cookies import SessionStore
    from django.core import signing

    name, value = case["name"], case["cookie_value"]
    expected = case["expected"]["outcome"]
    with using_db(alias), Clock.at(EVALUATE_AT):
        loaded = SessionStore(value).load()
        try:
            signing.loads(value, salt=case["salt"], max_age=SESSION_COOKIE_AGE)
            err = None
        except Exception as e:  # noqa: BLE001
            err = e
    outcome, session, _ = ref_decode(
        value, secrets=[APP_SECRET_KEY], salt=case["salt"], max_age=SESSION_COOKIE_AGE, now=EVALUATE_AT.timestamp()
    )
    fails.check(outcome == expected, "sc %s: reference implementation says %s, expected %s" % (name, outcome, expected))
    who = django_whoami(value, SC_ENGINE, alias)
    if expected == "valid":
        fails.check(
            case["expected"].get("subject") is not None and case["decoded"].get("_auth_user_id") == case["expected"]["subject"],
            "sc %s: valid case without matching subject" % name,
        )
    if expected in ("valid", "anonymous"):
        fails.check(loaded == case["decoded"], "sc %s: Django load() %r != manifest" % (name, loaded))
        fails.check(session == case["decoded"], "sc %s: reference decode differs" % name)
        want_user = case["expected"].get("subject")
        fails.check(who["user_id"] == want_user, "sc %s: Django request.user %r, want %r" % (name, who["user_id"], want_user))
    else:
        fails.check(loaded == {}, "sc %s: Django loaded a non-empty session" % name)
        fails.check(who["user_id"] is None, "sc %s: Django authenticated a failing case" % name)
        if expected == "expired":
            fails.check(type(err) is signing.SignatureExpired, "sc %s: Django raised %r, want SignatureExpired" % (name, err))
        elif expected == "bad_signature":
            fails.check(type(err) is signing.BadSignature, "sc %s: Django raised %r, want BadSignature" % (name, err))
        elif expected == "malformed":
            fails.check(err is not None, "sc %s: Django decoded a malformed value" % name)


def verify_all(out_dir, pg_conn, fails, skip_postgres):
    """Verify the files in out_dir with Django (and the reference implementation)."""
    from django.db import connections

    manifest = json.loads((out_dir / "manifest.json").read_text())
    cookies = json.loads((out_dir / "signed_cookies.json").read_text())
    fails.check(manifest["evaluate_at"]["unix"] == int(EVALUATE_AT.timestamp()), "manifest evaluate_at differs from script")

    # _auth_user_hash, recomputed without Django (see README).
    for u in manifest["users"]:
        want = ref_session_auth_hash(APP_SECRET_KEY, u["password_hash"])
        fails.check(u["session_auth_hash"] == want, "user %s: session_auth_hash differs from reference" % u["id"])
        for c in manifest["cases"]:
            d = c.get("decoded") or {}
            if d.get("_auth_user_id") == str(u["id"]):
                fails.check(d.get("_auth_user_hash") == want, "%s: _auth_user_hash differs from reference" % c["name"])

    # SQLite: check a copy so that nothing can touch the fixture file.
    check_path = Path(connections["sqlite_check"].settings_dict["NAME"])
    connections["sqlite_check"].close()
    shutil.copyfile(out_dir / "sessions.sqlite3", check_path)
    raw = sqlite3.connect(check_path)
    n_rows = raw.execute("SELECT count(*) FROM django_session").fetchone()[0]
    raw_expire = dict(raw.execute("SELECT session_key, expire_date FROM django_session").fetchall())
    raw.close()
    sqlite_cases = [c for c in manifest["cases"] if c["backend"] == "db/sqlite"]
    fails.check(n_rows == len(sqlite_cases), "sqlite has %d rows, manifest %d cases" % (n_rows, len(sqlite_cases)))
    for c in sqlite_cases:
        fails.check(raw_expire.get(c["session_key"]) == c["expire_date_sqlite_text"], "sqlite %s: raw expire_date text" % c["name"])
        verify_db_case(c, "sqlite_check", fails, "sqlite")

    sc_cases = [c for c in manifest["cases"] if c["backend"] == "signed_cookies"]
    fails.check(
        [(c["name"], c["value"]) for c in cookies["cookies"]] == [(c["name"], c["cookie_value"]) for c in sc_cases],
        "signed_cookies.json and manifest disagree",
    )
    for c in sc_cases:
        verify_sc_case(c, "sqlite_check", fails)

    if skip_postgres:
        return
    # Postgres: load postgres.sql the way tests will (own schema, no schema name in the file).
    sql_text = (out_dir / "postgres.sql").read_text()
    fails.check("public." not in sql_text and "search_path" not in sql_text, "postgres.sql names a schema")
    pg_conn.execute("DROP SCHEMA IF EXISTS file_check CASCADE")
    pg_conn.execute("CREATE SCHEMA file_check")
    with pg_conn.transaction():
        pg_conn.execute("SET LOCAL search_path TO file_check")
        pg_conn.execute(sql_text)
    fails.check(pg_describe(pg_conn, "file_check") == pg_describe(pg_conn, "public"), "postgres.sql table != Django-migrated table")
    pg_cases = [c for c in manifest["cases"] if c["backend"] == "db/postgres"]
    n = pg_conn.execute("SELECT count(*) FROM file_check.django_session").fetchone()[0]
    fails.check(n == len(pg_cases), "postgres.sql has %d rows, manifest %d cases" % (n, len(pg_cases)))
    connections["pgfile"].close()
    for c in pg_cases:
        verify_db_case(c, "pgfile", fails, "postgres")
    connections["pgfile"].close()
    pg_conn.execute("DROP SCHEMA file_check CASCADE")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def generate(tmp, pg_conn):
    import django
    from django.contrib.sessions.backends.db import SessionStore as DbStore
    from django.contrib.sessions.backends.signed_cookies import SessionStore as ScStore
    from django.contrib.sessions.models import Session
    from django.db import connections

    db_salt = DbStore().key_salt
    sc_salt = SIGNED_COOKIES_SALT
    # Sanity: the salts we document are the ones the installed Django uses.
    assert db_salt == "django.contrib.sessions.SessionStore", db_salt
    import inspect

    sc_src = inspect.getsource(ScStore)
    assert sc_src.count('salt="%s"' % sc_salt) == 2, "signed_cookies salt changed in this Django"

    migrate("default")
    create_users("default")
    db_cases = generate_db_cases(db_salt, sc_salt)
    rows = {s.session_key: s for s in Session.objects.using("default").all()}
    assert len(rows) == len(db_cases), (len(rows), len(db_cases))

    sqlite_cases, pg_cases = [], []
    sqlite_path = Path(connections["default"].settings_dict["NAME"])
    connections["default"].close()
    raw = sqlite3.connect(sqlite_path)
    raw_expire = dict(raw.execute("SELECT session_key, expire_date FROM django_session").fetchall())
    raw.close()
    for c in db_cases:
        s = rows[c["session_key"]]
        c["session_data"] = s.session_data
        c["expire_date"] = s.expire_date.astimezone(UTC).isoformat()
        c["expire_date_unix"] = int(s.expire_date.timestamp())
        info = payload_info(s.session_data)
        if c["expected"]["outcome"] in ("valid", "anonymous"):
            c["decoded"] = json.loads(info["payload_json"])
            c["payload_json"] = info["payload_json"]
        for k in ("compressed", "timestamp", "timestamp_base62", "timestamp_iso"):
            if k in info:
                c["signed_at" if k == "timestamp" else k] = info[k]
        sq = dict(c, name=c["name"].replace("db_", "sqlite_", 1), backend="db/sqlite")
        sq["expire_date_sqlite_text"] = raw_expire[c["session_key"]]
        sqlite_cases.append(sq)
        pg_cases.append(dict(c, name=c["name"].replace("db_", "pg_", 1), backend="db/postgres"))

    db_valid = next(c for c in db_cases if c["name"] == "db_valid_user42")["session_data"]
    sc_cases = generate_sc_cases(db_salt, sc_salt, db_valid)
    for c in sc_cases:
        info = payload_info(c["cookie_value"])
        if c["expected"]["outcome"] in ("valid", "anonymous"):
            c["decoded"] = json.loads(info["payload_json"])
            c["payload_json"] = info["payload_json"]
        for k in ("compressed", "timestamp", "timestamp_base62", "timestamp_iso"):
            if k in info:
                c["signed_at" if k == "timestamp" else k] = info[k]
        if "timestamp" in info:
            c["valid_until_unix"] = info["timestamp"] + SESSION_COOKIE_AGE

    # Keep the sqlite file compact and deterministic.
    raw = sqlite3.connect(sqlite_path)
    raw.execute("VACUUM")
    raw.close()

    files = {
        "sqlite": OUT_REL + "/sessions.sqlite3",
        "postgres": OUT_REL + "/postgres.sql",
        "signed_cookies": OUT_REL + "/signed_cookies.json",
    }
    # Same Django objects, saved into the table Django's migrate created on Postgres.
    migrate("pg")
    create_users("pg")
    Session.objects.using("pg").bulk_create([rows[c["session_key"]] for c in db_cases])
    pg_rows = {
        s.session_key: (s.session_key, s.session_data, s.expire_date) for s in Session.objects.using("pg").all()
    }
    ddl = pg_session_ddl()
    # The DDL must reproduce exactly the table Django created.
    pg_conn.execute("DROP SCHEMA IF EXISTS ddl_check CASCADE")
    pg_conn.execute("CREATE SCHEMA ddl_check")
    with pg_conn.transaction():
        pg_conn.execute("SET LOCAL search_path TO ddl_check")
        pg_conn.execute(ddl)
    assert pg_describe(pg_conn, "ddl_check") == pg_describe(pg_conn, "public"), "sqlmigrate DDL != migrated table"
    pg_conn.execute("DROP SCHEMA ddl_check CASCADE")
    sql = build_postgres_sql(ddl, [pg_rows[c["session_key"]] for c in db_cases], django.get_version())
    (tmp / "postgres.sql").write_text(sql)

    all_cases = sqlite_cases + pg_cases + sc_cases
    manifest = {
        "about": "Django session fixtures for signgate. Produced by real Django through "
        "scripts/django-fixtures/generate.py; see scripts/django-fixtures/README.md for the byte format. "
        "All SECRET_KEYs here are TEST-ONLY.",
        "django_version": django.get_version(),
        "files": files,
        "secret_key": APP_SECRET_KEY,
        "other_secret_key": OTHER_SECRET_KEY,
        "secret_key_fallbacks": [],
        "salts": {"db": db_salt, "signed_cookies": sc_salt},
        "signer": {
            "class": "django.core.signing.TimestampSigner",
            "algorithm": "sha256",
            "separator": ":",
            "hmac_key_salt": "<salt> + \"signer\"",
            "hmac_key": "SHA256(utf8(salt) || b\"signer\" || utf8(SECRET_KEY))",
        },
        "session_serializer": "django.contrib.sessions.serializers.JSONSerializer",
        "session_cookie_name": SESSION_COOKIE_NAME,
        "session_cookie_age": SESSION_COOKIE_AGE,
        "auth_session_keys": {"user_id": "_auth_user_id", "backend": "_auth_user_backend", "hash": "_auth_user_hash"},
        "auth_backend": AUTH_BACKEND,
        "generated_at": {"unix": GENERATED_AT.timestamp(), "iso": GENERATED_AT.isoformat()},
        "evaluate_at": {
            "unix": int(EVALUATE_AT.timestamp()),
            "iso": EVALUATE_AT.isoformat(),
            "note": "Expected outcomes hold when the verifier's clock reads this instant. "
            "Inject it as 'now': by the wall clock of any later date the 'valid' cases are expired too.",
        },
        "outcomes": {
            "valid": "signature OK, not expired, payload decodes, _auth_user_id present; subject = _auth_user_id",
            "anonymous": "signature OK, not expired, payload decodes, no _auth_user_id",
            "expired": "db: expire_date <= now (row would not be loaded); signed_cookies: now - timestamp > SESSION_COOKIE_AGE",
            "bad_signature": "HMAC does not match with the app's SECRET_KEY and salt",
            "malformed": "not of the form payload:timestamp:signature, or undecodable",
        },
        "users": users_manifest("default"),
        "cases": all_cases,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    (tmp / "signed_cookies.json").write_text(
        json.dumps(
            {
                "about": "Cookie values from django.contrib.sessions.backends.signed_cookies (Django %s). "
                "Expected outcomes and decoded payloads: manifest.json. TEST-ONLY SECRET_KEYs." % django.get_version(),
                "cookie_name": SESSION_COOKIE_NAME,
                "secret_key": APP_SECRET_KEY,
                "salt": sc_salt,
                "session_cookie_age": SESSION_COOKIE_AGE,
                "evaluate_at": int(EVALUATE_AT.timestamp()),
                "cookies": [
                    {
                        "name": c["name"],
                        "value": c["cookie_value"],
                        "expected": c["expected"],
                        "signed_with_secret_key": c["signed_with_secret_key"],
                    }
                    for c in sc_cases
                ],
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


SIGNED_COOKIES_SALT = "django.contrib.sessions.backends.signed_cookies"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="verify the committed fixtures only")
    ap.add_argument("--skip-postgres", action="store_true", help="do not use Postgres")
    args = ap.parse_args()
    if args.skip_postgres and not args.check:
        ap.error("--skip-postgres is only for --check: generating needs Postgres for postgres.sql")

    tmp = Path(tempfile.mkdtemp(prefix="signgate-djfx-"))
    conninfo = os.environ.get("SIGNGATE_DJFX_PG", PG_DEFAULT_CONNINFO)
    admin = pg_conn = None
    scratch = None
    try:
        if not args.skip_postgres:
            admin = pg_connect(conninfo)
            scratch = "signgate_djfx_%d_%s" % (os.getpid(), os.urandom(3).hex())
            admin.execute('CREATE DATABASE "%s"' % scratch)
        work = tmp / "out"
        work.mkdir()
        setup_django(work / "sessions.sqlite3", tmp / "check.sqlite3", conninfo, scratch)
        if scratch:
            from psycopg.conninfo import conninfo_to_dict, make_conninfo

            pg_conn = pg_connect(make_conninfo(**dict(conninfo_to_dict(conninfo), dbname=scratch)))
        if args.check:
            for f in ("manifest.json", "signed_cookies.json", "sessions.sqlite3") + (() if args.skip_postgres else ("postgres.sql",)):
                shutil.copyfile(OUT_DIR / f, work / f)
            if not args.skip_postgres:
                # Users and auth tables for request.user checks; django_session
                # itself comes from postgres.sql into its own schema.
                manifest = json.loads((work / "manifest.json").read_text())
                migrate("pg")
                create_users("pg", {u["id"]: u["password_hash"] for u in manifest["users"]})
        else:
            generate(work, pg_conn)
        fails = Failures()
        verify_all(work, pg_conn, fails, args.skip_postgres)
        if fails:
            print("VERIFICATION FAILED:", file=sys.stderr)
            for f in fails:
                print("  - " + f, file=sys.stderr)
            return 1
        manifest = json.loads((work / "manifest.json").read_text())
        if not args.check:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            for f in ("manifest.json", "signed_cookies.json", "sessions.sqlite3", "postgres.sql"):
                if (work / f).exists():
                    shutil.copyfile(work / f, OUT_DIR / f)
        import django

        print(
            "%s %d cases made with Django %s, verified with Django %s (SessionStore, request.user) and the reference decoder%s"
            % (
                "checked" if args.check else "wrote " + OUT_REL + ",",
                len(manifest["cases"]),
                manifest["django_version"],
                django.get_version(),
                " (Postgres skipped)" if args.skip_postgres else "",
            )
        )
        return 0
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001
            pass
        if pg_conn is not None:
            pg_conn.close()
        if admin is not None:
            if scratch:
                admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % scratch)
            admin.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
