from django.core.management.base import BaseCommand, CommandParser

from media.models import Kind, Media, Status
from media.uploads import media_retry


class Command(BaseCommand):
    help = "Queue FAILED media for processing again. Changes nothing unless --for-real is given."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=Kind.values)
        parser.add_argument("--for-real", action="store_true", help="Do it; without this, only list them.")

    def handle(self, *args: object, kind: str | None, for_real: bool, **options: object) -> None:
        failed = Media.objects.filter(status=Status.FAILED)
        if kind:
            failed = failed.filter(kind=kind)
        count = 0
        for media in failed.iterator():
            self.stdout.write(f"{media.id} {media.kind} {media.error_code}: {media.filename}")
            if for_real and media_retry(media=media) is not None:
                count += 1
        if for_real:
            self.stdout.write(self.style.SUCCESS(f"queued {count}"))
        else:
            self.stdout.write(self.style.WARNING(f"dry run: {failed.count()} FAILED; add --for-real to queue them"))
