from django.core.management.base import BaseCommand, CommandParser

from media import maintenance


class Command(BaseCommand):
    help = (
        "Delete stored objects no media row stands behind: those of accounts deleted before deleting a user "
        "removed their objects, and any other leftover older than an hour (permanent/ and quarantine/; stray "
        "temp/ objects are cleanup_media's). Changes nothing unless --for-real is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--for-real", action="store_true", help="Do it; without this, only say what would be done.")

    def handle(self, *args: object, for_real: bool, **options: object) -> None:
        report = maintenance.purge_orphans(dry_run=not for_real)
        for line in report.describe(dry_run=not for_real):
            self.stdout.write(line)
        if report.actions and not for_real:
            self.stdout.write(self.style.WARNING("dry run: nothing was changed; add --for-real to do it"))
