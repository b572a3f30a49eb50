"""Settings, all read from the environment here and nowhere else.

Every variable has a default that works on a developer machine with the local
stack (`make run`); production sets the ones marked "production" in README.md.
With MEDIAHUB_ENV=production, DEBUG defaults to off and a missing SECRET_KEY
fails at start with its name.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from processing import formats

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local files (SQLite, spooled downloads); never inside a package

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

PRODUCTION = env.str("MEDIAHUB_ENV", default="development") == "production"
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
SECRET_KEY = env.str("SECRET_KEY", default=environ.Env.NOTSET if PRODUCTION else "dev-only-insecure-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Behind a TLS-terminating proxy (production's default): trust its X-Forwarded-Proto, so absolute URLs
# (HLS) are https; redirect plain HTTP, send HSTS, and send cookies over HTTPS only.
HTTPS = env.bool("HTTPS", default=PRODUCTION)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # the container's own health check and Prometheus (on the private network, with its token) speak plain HTTP
    SECURE_REDIRECT_EXEMPT = [r"^api/health/$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("HSTS_PRELOAD", default=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, not a CDN
    "django_rq",
    "axes",
    "channels",
    "media",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # answers 429 for a locked-out login
    "web.middleware.OneThread",  # innermost: the chain above runs in one thread (see its docstring)
]

# --- Logins: django-axes counts failures per account and per client address (web/login_guard.py) ------------
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_COOLOFF_MINUTES = env.int("LOGIN_COOLOFF_MINUTES", default=15)
# Proxies in front of the app that append to X-Forwarded-For; 0: the socket's peer is the client.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
AXES_HANDLER = "web.login_guard.CacheHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = LOGIN_COOLOFF_MINUTES / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # each on its own
AXES_CLIENT_IP_CALLABLE = "web.login_guard.client_address"
AXES_LOCKOUT_CALLABLE = "web.login_guard.lockout"
AXES_VERBOSE = False

ROOT_URLCONF = "mediahub.urls"
ASGI_APPLICATION = "mediahub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite for development; PostgreSQL (or anything dj-database-url knows) when DATABASE_URL is set.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# Under ASGI every request runs in a thread of its own: a connection per thread piles up until PostgreSQL
# refuses ("too many clients", a 500). So connections are never kept per thread (CONN_MAX_AGE 0) but come
# from a bounded pool per process (psycopg's, built into Django): at most DB_POOL_MAX_SIZE each, waiting at
# most DB_POOL_TIMEOUT seconds for a free one. Size it for MAX_CONCURRENT_REQUESTS plus the WebSocket
# consumers' few threads; every process of every machine together must stay below PostgreSQL's
# max_connections (100 by default): web WEB_WORKERS x DB_POOL_MAX_SIZE + each RQ worker's one.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=16)
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", default=10.0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_MAX_SIZE > 0:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT,
        "max_idle": 300,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step in development
LOGIN_URL = "/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# --- Redis: the job queues and the WebSocket channel layer -------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

# Throttle counters and other cache entries are shared by every web process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # one pool per process, not one per request (media/redis_pool.py)
        "OPTIONS": {"pool_class": "media.redis_pool.SharedConnectionPool"},
    }
}

# Redis pub/sub: sending an event is one PUBLISH (media/events.py), where channels-redis' default layer
# ran a Lua script and several round trips per group_send. What it gives up, a queue per consumer, the
# events do not need: a client that was away reads the current state (the consumer's "sync").
# The layer's Redis timeouts are set here and nowhere else: a read must outlast the layer's longest blocking
# read (RedisChannelLayer's BZPOPMIN waits up to 5 s), or every idle WebSocket fails with redis'
# TimeoutError; keepalive and a health check notice a Redis that went away.
CHANNEL_REDIS_SOCKET_TIMEOUT = env.float("CHANNEL_REDIS_SOCKET_TIMEOUT", default=30.0)  # seconds
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": env.str("CHANNEL_LAYER_BACKEND", default="channels_redis.pubsub.RedisPubSubChannelLayer"),
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": CHANNEL_REDIS_SOCKET_TIMEOUT,
                    "socket_connect_timeout": 5,
                    "socket_keepalive": True,
                    "health_check_interval": 15,
                }
            ],
            "prefix": env.str("CHANNEL_PREFIX", default="mediahub"),
        },
    }
}

# An open WebSocket's credential is checked again this often (revocations also close it at once).
WS_AUTH_RECHECK_SECONDS = env.float("WS_AUTH_RECHECK_SECONDS", default=60.0)
# How often a WebSocket checks that the channel layer's Redis is the one it subscribed on (web/consumers.py).
WS_LAYER_CHECK_SECONDS = env.float("WS_LAYER_CHECK_SECONDS", default=5.0)

JOB_TIMEOUT_IMAGE = env.int("JOB_TIMEOUT_IMAGE", default=120)  # seconds
JOB_TIMEOUT_VIDEO = env.int("JOB_TIMEOUT_VIDEO", default=4 * 3600)  # room for the longest allowed clip
JOB_TIMEOUT_INLINE = env.int("JOB_TIMEOUT_INLINE", default=300)
# The confirm's time budget for audio, in seconds of audio: up to this long it is checked (decoded whole,
# waveform drawn) within the confirm request; longer audio answers 202 and goes to the `default` queue, with
# progress events (bench/README.md: the inline checks of 10 minutes take about a second here).
AUDIO_INLINE_MAX_DURATION = env.float("AUDIO_INLINE_MAX_DURATION", default=600.0)
JOB_MAX_RETRIES = env.int("JOB_MAX_RETRIES", default=3)
JOB_RETRY_INTERVALS = env.list("JOB_RETRY_INTERVALS", cast=int, default=[10, 60, 300])  # exponential backoff
JOB_RESULT_TTL = env.int("JOB_RESULT_TTL", default=7 * 24 * 3600)  # completed job records: 7 days
JOB_FAILURE_TTL = env.int("JOB_FAILURE_TTL", default=30 * 24 * 3600)  # failed job records: 30 days

# images before videos: a worker lists queues in priority order; `default` runs inline-path retries
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": timeout, "DEFAULT_RESULT_TTL": JOB_RESULT_TTL}
    for name, timeout in (
        ("images", JOB_TIMEOUT_IMAGE),
        ("videos", JOB_TIMEOUT_VIDEO),
        ("default", JOB_TIMEOUT_INLINE),
    )
}
# Jobs are enqueued once the row they read is committed: media.jobs.enqueue uses transaction.on_commit.
RQ = {
    # Jobs run in the worker process itself, not a fork per job: a fork costs ~19 ms CPU and re-imports
    # Pillow and rebuilds the S3 client in every child (bench/jobqueue.py: 624 -> 259 ms CPU per 1 MP
    # image). Timeouts still work (SIGALRM), ffmpeg runs in its own process, and image decoding is
    # bounded by the header checks.
    # media.worker.MediahubWorker is a SimpleWorker with a heartbeat, patience with Redis outages,
    # recycling (below) and paused queues skipped.
    "WORKER_CLASS": env.str("RQ_WORKER_CLASS", default="media.worker.MediahubWorker"),
}
# A worker is replaced after this many jobs, or once its peak memory passes this many MB (0: never): it
# finishes the job in hand and exits with 75 for its supervisor to start a fresh one.
WORKER_MAX_JOBS = env.int("WORKER_MAX_JOBS", default=1000)
WORKER_MAX_MEMORY_MB = env.int("WORKER_MAX_MEMORY_MB", default=1024)
# A PROCESSING media unchanged for this long is stuck: it counts in mediahub_media_stuck_processing (an
# alert), and its owner or an operator may retry it.
STUCK_PROCESSING_MINUTES = env.int("STUCK_PROCESSING_MINUTES", default=15)
# Deleting a user removes the stored objects of their media after the commit: inline up to this many
# media, in background jobs of this many media each above it.
USER_PURGE_BATCH = env.int("USER_PURGE_BATCH", default=50)
# Stalled jobs (media/worker.py, media/maintenance.py): a worker writes a heartbeat this often, and is dead
# once it is this many seconds old; the job it held is queued again by the next maintenance run.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=5.0)
WORKER_HEARTBEAT_TTL = env.int("WORKER_HEARTBEAT_TTL", default=20)
STALLED_CHECK_SECONDS = env.int("STALLED_CHECK_SECONDS", default=30)  # how often maintenance looks
# A media whose worker died in this many runs is FAILED: it may be what kills its worker (memory, say).
STALLED_MAX_ATTEMPTS = env.int("STALLED_MAX_ATTEMPTS", default=5)

# --- Object storage (any S3 API) -----------------------------------------------
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="mediahub-dev")
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="mediahub-dev-secret")
AWS_STORAGE_BUCKET_NAME = env.str("S3_BUCKET", default="mediahub")
AWS_S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="http://127.0.0.1:8333") or None
# Presigned URLs must name a host the client can reach, which may differ from the server's own.
S3_PUBLIC_ENDPOINT_URL = env.str("S3_PUBLIC_ENDPOINT_URL", default="") or AWS_S3_ENDPOINT_URL
AWS_S3_REGION_NAME = env.str("S3_REGION", default="us-east-1")
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_S3_ADDRESSING_STYLE = env.str("S3_ADDRESSING_STYLE", default="path")
# Reads from a CloudFront distribution when CDN_DOMAIN is set, as signed URLs that expire like presigned ones
# (django-storages signs them with botocore's CloudFrontSigner): the key pair's id and its private key (PEM,
# or a file holding it) are then required, since an unsigned CDN URL would never expire.
AWS_S3_CUSTOM_DOMAIN = env.str("CDN_DOMAIN", default="") or None
AWS_CLOUDFRONT_KEY_ID = env.str("CDN_KEY_ID", default="") or None
AWS_CLOUDFRONT_KEY = env.str("CDN_PRIVATE_KEY", default="").replace("\\n", "\n") or None
if env.str("CDN_PRIVATE_KEY_FILE", default=""):
    AWS_CLOUDFRONT_KEY = Path(env.str("CDN_PRIVATE_KEY_FILE")).read_text()
if AWS_S3_CUSTOM_DOMAIN and not (AWS_CLOUDFRONT_KEY_ID and AWS_CLOUDFRONT_KEY):
    raise ImproperlyConfigured(
        "CDN_DOMAIN is set but CDN_KEY_ID and CDN_PRIVATE_KEY (or CDN_PRIVATE_KEY_FILE) are not: "
        "CDN URLs must be signed, or they would never expire"
    )
AWS_QUERYSTRING_EXPIRE = env.int("DOWNLOAD_URL_EXPIRY", default=3600)
AWS_DEFAULT_ACL = None
UPLOAD_URL_EXPIRY = env.int("UPLOAD_URL_EXPIRY", default=900)  # seconds a presigned PUT stays valid
RENDITION_CACHE_CONTROL = env.str("RENDITION_CACHE_CONTROL", default="private, max-age=31536000, immutable")

# Media objects go through media/storage.py (its own S3Storage instances), never Django's default storage.
STORAGES = {
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# HEAD of the uploaded object after confirm, retried with backoff (eventual consistency).
CONFIRM_HEAD_ATTEMPTS = env.int("CONFIRM_HEAD_ATTEMPTS", default=5)
CONFIRM_HEAD_MAX_WAIT = env.float("CONFIRM_HEAD_MAX_WAIT", default=3.0)  # seconds, in total

# --- Virus scanning and media tools ------------------------------------------
CLAMD_HOST = env.str("CLAMD_HOST", default="127.0.0.1")
CLAMD_PORT = env.int("CLAMD_PORT", default=3310)
CLAMD_TIMEOUT = env.float("CLAMD_TIMEOUT", default=60.0)
# Kinds clamd scans; malware hides in pictures and films too, so all of them unless an operator decides otherwise.
SCAN_KINDS = env.list("SCAN_KINDS", default=["image", "video", "audio", "document"])
# Zip-based documents (OOXML, ODF) are unpacked here and every part is scanned on its own; past these
# limits the file cannot be checked, so it is refused (clamd's own limits, ops/clamav/clamd.conf, alert too).
ARCHIVE_MAX_DEPTH = env.int("ARCHIVE_MAX_DEPTH", default=5)  # zips inside zips
ARCHIVE_MAX_MEMBERS = env.int("ARCHIVE_MAX_MEMBERS", default=10_000)
ARCHIVE_MAX_UNPACKED = env.int("ARCHIVE_MAX_UNPACKED", default=400 * 1024 * 1024)  # bytes, all parts together
FFMPEG_BIN = env.str("FFMPEG_BIN", default="ffmpeg")
FFPROBE_BIN = env.str("FFPROBE_BIN", default="ffprobe")

# --- What may be uploaded --------------------------------------------------------
MB = 1024 * 1024
MEDIA_KINDS = {
    kind: {
        "max_size": env.int(f"MAX_{kind.upper()}_BYTES", default=default_size),
        # defaults from the formats table: a type it does not know would be rejected by every check after
        "types": env.list(f"{kind.upper()}_TYPES", default=formats.accepted_types(kind)),
    }
    for kind, default_size in [
        (formats.IMAGE, 50 * MB),
        (formats.VIDEO, 2048 * MB),
        (formats.AUDIO, 200 * MB),
        (formats.DOCUMENT, 100 * MB),
    ]
}
MAX_FILENAME_LENGTH = 255

# Multipart uploads (resumable, parts in parallel) for files of at least MULTIPART_THRESHOLD bytes.
# S3's rules: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000 of them.
S3_MIN_PART_SIZE, S3_MAX_PART_SIZE, S3_MAX_PARTS = 5 * MB, 5 * 1024 * MB, 10_000
MULTIPART_THRESHOLD = env.int("MULTIPART_THRESHOLD", default=64 * MB)
MULTIPART_PART_SIZE = env.int("MULTIPART_PART_SIZE", default=16 * MB)  # grows for files over 10,000 parts of it
if not S3_MIN_PART_SIZE <= MULTIPART_PART_SIZE <= S3_MAX_PART_SIZE:
    raise ImproperlyConfigured(f"MULTIPART_PART_SIZE must be between {S3_MIN_PART_SIZE} and {S3_MAX_PART_SIZE} bytes")
MULTIPART_SIGN_BATCH = env.int("MULTIPART_SIGN_BATCH", default=100)  # part URLs per request at most
MULTIPART_ABORT_GRACE_MINUTES = env.int("MULTIPART_ABORT_GRACE_MINUTES", default=60)  # for uploads with no media

# Downloads stay in memory up to this size, then spill to disk under SPOOL_DIR.
SPOOL_MAX_MEMORY = env.int("SPOOL_MAX_MEMORY", default=100 * MB)
SPOOL_DIR = env.path("SPOOL_DIR", default=VAR_DIR / "spool")

# Images
IMAGE_THUMB_SIZE = env.int("IMAGE_THUMB_SIZE", default=150)
IMAGE_OPTIMIZED_MAX = env.int("IMAGE_OPTIMIZED_MAX", default=2048)
IMAGE_QUALITY = env.int("IMAGE_QUALITY", default=80)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=50_000_000)
# Responsive widths (never upscaled), each written in every source type: the API's urls.sources, for srcset.
IMAGE_WIDTHS = env.list("IMAGE_WIDTHS", cast=int, default=[320, 640, 1280, 2048])
IMAGE_SOURCE_TYPES = env.list("IMAGE_SOURCE_TYPES", default=["image/avif", "image/webp"])
IMAGE_AVIF_QUALITY = env.int("IMAGE_AVIF_QUALITY", default=50)
IMAGE_AVIF_SPEED = env.int("IMAGE_AVIF_SPEED", default=8)  # 0 (smallest files) to 10 (fastest)
# The square thumbnail keeps the most salient part of the picture ("attention") or its middle ("centre").
IMAGE_THUMB_CROP = env.str("IMAGE_THUMB_CROP", default="attention")
# GPS position (EXIF GPS IFD, XMP exif:GPS*) blanked in the stored original, in place, pixels untouched.
IMAGE_STRIP_LOCATION = env.bool("IMAGE_STRIP_LOCATION", default=True)
# Images whose perceptual hashes differ in at most this many of 64 bits are listed as near_duplicates.
IMAGE_NEAR_DUPLICATE_DISTANCE = env.int("IMAGE_NEAR_DUPLICATE_DISTANCE", default=6)

# Videos
# The HLS ladder as data: rung heights (the short side; rungs above the source are skipped, never upscaled),
# and each rung's peak bitrates in kbit/s as `height=video/audio` (a start-up check wants one per rung).
VIDEO_LADDER = env.list("VIDEO_LADDER", cast=int, default=[480, 720, 1080])
VIDEO_BITRATES = env.dict(
    "VIDEO_BITRATES",
    default={"240": "500/64", "360": "900/96", "480": "1500/96", "720": "3000/128", "1080": "6000/160",
             "1440": "10000/192", "2160": "16000/192"},
)  # fmt: skip
VIDEO_MAX_DURATION = env.float("VIDEO_MAX_DURATION", default=3600.0)  # seconds
VIDEO_MAX_HEIGHT = env.int("VIDEO_MAX_HEIGHT", default=4320)
VIDEO_MAX_WIDTH = env.int("VIDEO_MAX_WIDTH", default=7680)
VIDEO_MAX_FPS = env.float("VIDEO_MAX_FPS", default=120.0)
# The HLS segments before the first 6 s boundary are this long (2, 2, 2, then 6, 6...): the first ones are out,
# and the video playable, sooner. It must divide 6; 0 or 6 makes every segment 6 s.
VIDEO_FIRST_SEGMENT_SECONDS = env.int("VIDEO_FIRST_SEGMENT_SECONDS", default=2)
# PDF previews: poppler's pdftoppm renders the first page within this time and address space.
PREVIEW_TIMEOUT = env.float("PREVIEW_TIMEOUT", default=30.0)  # seconds
PREVIEW_MAX_MEMORY = env.int("PREVIEW_MAX_MEMORY", default=512 * MB)
# Storyboards (scrubbing previews): a frame at least every STORYBOARD_INTERVAL seconds, at most
# STORYBOARD_MAX_TILES tiles (longer videos space them out), tiles STORYBOARD_TILE_WIDTH px on the long side.
STORYBOARD_INTERVAL = env.float("STORYBOARD_INTERVAL", default=5.0)
STORYBOARD_MAX_TILES = env.int("STORYBOARD_MAX_TILES", default=100)
STORYBOARD_TILE_WIDTH = env.int("STORYBOARD_TILE_WIDTH", default=160)
# A transcode whose output has not advanced for this long is hung (a stuck mount, a stopped process): killed, retried.
VIDEO_STALL_TIMEOUT = env.float("VIDEO_STALL_TIMEOUT", default=120.0)  # seconds

# Progress steps of a run are recorded (a write and an event) at most this often (media/pipeline.py): a small
# file goes from queued to its final state at once, a long run still shows its stages. 0 records every step.
PROGRESS_MIN_INTERVAL = env.float("PROGRESS_MIN_INTERVAL", default=0.5)  # seconds

# Unconfirmed uploads expire after this long; terminal media can be purged by retention.
PENDING_TTL_HOURS = env.int("PENDING_TTL_HOURS", default=24)
RETENTION_DAYS_REJECTED = env.int("RETENTION_DAYS_REJECTED", default=30)

# --- HTTP API ---------------------------------------------------------------------
# uvicorn processes of the web server (mediahub/devstack.py, docker-compose.yml); two use both cores here.
WEB_WORKERS = env.int("WEB_WORKERS", default=2 if PRODUCTION else 1)
# Admission (web/admission.py): at most MAX_CONCURRENT_REQUESTS HTTP requests of one web process run at
# once; a request waits at most ADMISSION_WAIT seconds for its turn, then is refused 503 with Retry-After:
# an overloaded server answers quickly that it is busy instead of queueing until everything times out.
MAX_CONCURRENT_REQUESTS = env.int("MAX_CONCURRENT_REQUESTS", default=12)
ADMISSION_WAIT = env.float("ADMISSION_WAIT", default=1.0)  # seconds
ADMISSION_RETRY_AFTER = env.int("ADMISSION_RETRY_AFTER", default=2)  # seconds, the refusal's Retry-After
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "web.api.exception_handler",
    # DRF's parsers, with JSON nested past Python's recursion limit refused as a parse error (400), not a 500
    "DEFAULT_PARSER_CLASSES": [
        "web.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "NUM_PROXIES": NUM_PROXIES,  # throttles take the client address from the proxy count, never a raw header
    "DEFAULT_THROTTLE_RATES": {
        "media_create": env.str("THROTTLE_MEDIA_CREATE", default="600/minute"),
        "auth_token": env.str("THROTTLE_AUTH_TOKEN", default="20/minute"),  # per client address
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mediahub API",
    "DESCRIPTION": "Direct uploads to S3, validation and renditions for images, videos, audio and documents.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # the enums under their own names (processing/codes.py), not drf-spectacular's guesses
    "ENUM_NAME_OVERRIDES": {"ErrorCode": "processing.codes.ErrorCode", "Stage": "processing.codes.Stage"},
}

# /metrics and the detailed /api/health/ need "Authorization: Bearer <token>" (or a staff session); without a
# token they are open in development and refused in production.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"redact_tokens": {"()": "mediahub.log_filters.RedactTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # uvicorn logs every request line and WebSocket handshake, query string (and token) included
    "loggers": {
        name: {"handlers": ["console"], "level": "INFO", "propagate": False}
        for name in ("uvicorn.access", "uvicorn.error")
    },
}
