# The one image for web, workers and scheduler; docker-compose.yml picks the command.
FROM node:20-bookworm-slim AS player
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libmagic1 poppler-utils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mediahub mediahub
COPY media media
COPY processing processing
COPY web web
COPY templates templates
COPY --from=player /build/node_modules/hls.js/dist/hls.light.min.js /build/node_modules/hls.js/LICENSE media/static/vendor/hls.js/
COPY manage.py ./
RUN pip install --no-cache-dir . \
 && MEDIAHUB_ENV=development python manage.py collectstatic --noinput
ENV MEDIAHUB_ENV=production PYTHONUNBUFFERED=1
RUN useradd --system --uid 1000 mediahub && mkdir -p /app/var && chown mediahub /app/var
USER mediahub
EXPOSE 8000
CMD ["uvicorn", "mediahub.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
