from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from media import jobs, outputs
from media.models import Kind, Media, Status


class Command(BaseCommand):
    help = (
        "Queue READY media whose renditions are stale (made under settings that have changed since: sizes, "
        "quality, crop, widths) or missing, so their pipeline rebuilds just those. Changes nothing unless "
        "--for-real is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=Kind.values, default=Kind.IMAGE)
        parser.add_argument("--for-real", action="store_true", help="Do it; without this, only list them.")

    def handle(self, *args: object, kind: str, for_real: bool, **options: object) -> None:
        media = Media.objects.filter(kind=kind, status=Status.READY).order_by("created_at")
        stale = queued = 0
        for item in tqdm(media.iterator(), total=media.count(), desc="checking", unit="media", file=self.stderr):
            names = [output.name for output in outputs.missing(item)]
            if not names:
                continue
            stale += 1
            self.stdout.write(f"{item.id} {item.kind}: {item.filename}: {', '.join(names)}")
            queued += for_real and jobs.enqueue_now(item.id, item.kind, fill=True)
        if for_real:
            self.stdout.write(self.style.SUCCESS(f"queued {queued} of {stale} with stale renditions"))
        else:
            self.stdout.write(self.style.WARNING(f"dry run: {stale} have stale renditions; add --for-real to rebuild"))
