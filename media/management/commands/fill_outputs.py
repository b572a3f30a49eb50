from django.core.management.base import BaseCommand, CommandParser

from media import jobs, selectors
from media.models import Kind


class Command(BaseCommand):
    help = (
        "Queue READY media that lack an output declared after they were made (media.outputs), so their "
        "pipeline makes just those. Changes nothing unless --for-real is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=Kind.values)
        parser.add_argument("--for-real", action="store_true", help="Do it; without this, only list them.")

    def handle(self, *args: object, kind: str | None, for_real: bool, **options: object) -> None:
        lacking = [media for k in ([kind] if kind else Kind.values) for media in selectors.lacking_outputs(k)]
        queued = 0
        for media in lacking:
            self.stdout.write(f"{media.id} {media.kind}: {media.filename}")
            queued += for_real and jobs.enqueue_now(media.id, media.kind, fill=True)
        if for_real:
            self.stdout.write(self.style.SUCCESS(f"queued {queued}"))
        else:
            self.stdout.write(self.style.WARNING(f"dry run: {len(lacking)} lack outputs; add --for-real to queue them"))
