"""The site's one page: a members' link for everyone, and each signed-in user's own files.

The links are plain links to /files/...: nginx sends them to signgate, which checks the Django
session and answers with a signed CDN URL. No view here reads or streams a file.
"""
from django.conf import settings
from django.shortcuts import render


def user_files(user):
    """The names of the files in the user's folder, users/<user id>/ (signgate's subject for a
    Django session is the user id, `_auth_user_id`)."""
    folder = settings.MEDIA_ROOT / "users" / str(user.pk)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def home(request):
    context = {}
    if request.user.is_authenticated:
        context["folder"] = f"users/{request.user.pk}"
        context["files"] = user_files(request.user)
        video = settings.MEDIA_ROOT / "hls" / str(request.user.pk) / "master.m3u8"
        context["video"] = f"hls/{request.user.pk}" if video.is_file() else None
    return render(request, "shop/home.html", context)
