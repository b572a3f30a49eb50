import django.db.models.deletion
from django.db import migrations, models

# The columns that held the output keys before outputs became rows, by output name.
COLUMNS = {"thumbnail": "thumbnail_key", "optimized": "optimized_key", "hls": "hls_key"}


def columns_to_rows(apps, schema_editor):
    Media = apps.get_model("media", "Media")
    MediaOutput = apps.get_model("media", "MediaOutput")
    for name, column in COLUMNS.items():
        rows = [
            MediaOutput(media_id=media_id, name=name, key=key)
            for media_id, key in Media.objects.exclude(**{column: ""}).values_list("id", column).iterator()
        ]
        MediaOutput.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


def rows_to_columns(apps, schema_editor):
    Media = apps.get_model("media", "Media")
    MediaOutput = apps.get_model("media", "MediaOutput")
    for output in MediaOutput.objects.filter(name__in=COLUMNS).iterator():
        Media.objects.filter(pk=output.media_id).update(**{COLUMNS[output.name]: output.key})


class Migration(migrations.Migration):

    dependencies = [
        ("media", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="MediaOutput",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=32)),
                ("key", models.CharField(max_length=255)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "media",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="outputs", to="media.media"
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("media", "name"), name="media_output_unique_name")],
            },
        ),
        migrations.RunPython(columns_to_rows, rows_to_columns),
        migrations.RemoveField(model_name="media", name="hls_key"),
        migrations.RemoveField(model_name="media", name="optimized_key"),
        migrations.RemoveField(model_name="media", name="thumbnail_key"),
    ]
