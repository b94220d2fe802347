"""Settings of the example site: a plain Django project with SQLite and database sessions.

Everything signgate needs from Django is here already: the SECRET_KEY (signgate verifies
session_data with it), the database file (signgate reads django_session from it) and the
session cookie's name (`sessionid`, Django's default). `run` sets the environment variables.
"""
import os
from pathlib import Path

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "shop",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "shop.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]
WSGI_APPLICATION = "shop.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DJANGO_DB"],
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The default: sessions in the django_session table, which signgate reads.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
USE_TZ = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# The files themselves: the CDN's origin. The site only lists them; it never sends their bytes.
MEDIA_ROOT = Path(os.environ["EXAMPLE_MEDIA"])

LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
