from django.core.management.base import BaseCommand, CommandParser

from media import maintenance


class Command(BaseCommand):
    help = (
        "Expire unconfirmed uploads (aborting their multipart uploads, and any multipart upload no waiting media "
        "holds), requeue media whose job was lost or whose worker died, "
        "sweep dead workers' spool folders, and purge old rejected/expired media and stray temp/ objects. "
        "Changes nothing unless --for-real is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--for-real", action="store_true", help="Do it; without this, only say what would be done.")
        parser.add_argument("--only", choices=["expire", "resume", "spool", "purge"], help="Run one task only.")

    def handle(self, *args: object, for_real: bool, only: str | None, **options: object) -> None:
        dry_run = not for_real
        tasks = {
            "expire": maintenance.expire_pending,
            "resume": maintenance.resume_stalled,
            "spool": maintenance.sweep_spool,
            "purge": maintenance.purge_old,
        }
        report = maintenance.Report()
        for name, task in tasks.items():
            if only in (None, name):
                task(dry_run=dry_run, report=report)
        for line in report.describe(dry_run=dry_run):
            self.stdout.write(line)
        if dry_run and report.actions:
            self.stdout.write(self.style.WARNING("dry run: nothing was changed; add --for-real to do it"))
