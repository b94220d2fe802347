"""`manage.py seed`: the example's two users, alice (user id 1) and bob (user id 2), whose
folders in the media are users/1/ and users/2/. Running it again changes nothing."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERS = [(1, "alice", "alice-password"), (2, "bob", "bob-password")]


class Command(BaseCommand):
    help = "Create the example users alice and bob."

    def handle(self, *args, **options):
        User = get_user_model()
        for pk, name, password in USERS:
            if not User.objects.filter(pk=pk).exists():
                user = User(pk=pk, username=name)
                user.set_password(password)
                user.save()
