from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("media", "0005_multipart_upload")]

    operations = [
        migrations.AddField(model_name="media", name="playable_at", field=models.DateTimeField(blank=True, null=True)),
    ]
