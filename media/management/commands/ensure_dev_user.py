from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "In development (DEBUG) only: create the superuser demo/demo when the database has no users."

    def handle(self, *args: object, **options: object) -> None:
        User = get_user_model()
        if not settings.DEBUG or User.objects.exists():
            return
        User.objects.create_superuser("demo", "demo@example.com", "demo")
        self.stdout.write("created the development superuser demo (password: demo); log in at /admin/")
