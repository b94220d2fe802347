"""The Django peer of bench/peers/run: what a site would write instead of signgate.

GET /files/<key> with `Authorization: Bearer <HS256 JWT>` -> PyJWT checks the token (issuer,
audience, expiry, HS256 only) -> the key must lie under users/<sub>/ -> botocore's
CloudFrontSigner signs a canned-policy URL (RSA-SHA1 through `cryptography`) valid 300 s -> 302.
401 without a valid token, 403 for someone else's key. Served by gunicorn, one sync worker.

Django's lightest configuration (no middleware, no database, DEBUG off), so the row is Django's
floor rather than a typical project's. The key is loaded once at import (botocore's documented
example opens and parses the PEM inside the signer callback on every call, which costs more).
"""
import datetime
import os
import time

import jwt
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    SECRET_KEY="bench-peer-not-a-secret",
    USE_TZ=True,
)

SECRET = os.environ["PEER_JWT_SECRET"]
ISSUER = os.environ["PEER_JWT_ISSUER"]
AUDIENCE = os.environ["PEER_JWT_AUDIENCE"]
DISTRIBUTION = os.environ["PEER_DISTRIBUTION_URL"]
LIFETIME = 300

with open(os.environ["PEER_KEY_FILE"], "rb") as f:
    pem = f.read()
# The demo key file starts with a warning line; the PEM block is what a real key file holds.
PRIVATE_KEY = serialization.load_pem_private_key(pem[pem.index(b"-----BEGIN"):], password=None)
SIGNER = CloudFrontSigner(
    os.environ["PEER_KEY_PAIR_ID"],
    lambda message: PRIVATE_KEY.sign(message, padding.PKCS1v15(), hashes.SHA1()),
)


def no_store(response):
    response["Cache-Control"] = "private, no-store"
    return response


def files(request, key):
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return no_store(HttpResponse(status=401))
    try:
        claims = jwt.decode(header[7:], SECRET, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE,
                            options={"require": ["exp", "sub"]})
    except jwt.InvalidTokenError:
        return no_store(HttpResponse(status=401))
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub or "/" in sub or ".." in key.split("/") or not key.startswith(f"users/{sub}/"):
        return no_store(HttpResponse(status=403))
    expires = datetime.datetime.fromtimestamp(int(time.time()) + LIFETIME, datetime.timezone.utc)
    url = SIGNER.generate_presigned_url(f"{DISTRIBUTION}/{key}", date_less_than=expires)
    return no_store(HttpResponseRedirect(url))


urlpatterns = [path("files/<path:key>", files)]
application = get_wsgi_application()
