# One image for every Carebot process; the command picks which (deploy/compose.yaml, deploy/kubernetes/).
# Built from the same lock as `make run`: requirements/lock.txt, resolved for Python 3.10 (requirements/lock.sh).
#   docker build -t carebot:latest .
FROM python:3.10.14-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=3 \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    PYTHONWARNINGS=ignore
WORKDIR /app
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --no-deps --ignore-requires-python -r requirements/lock.txt \
    && python -m rasa telemetry disable
COPY . .

# The model is trained in the image, from the same files `make train` reads, so every replica serves the same one.
FROM base AS model
RUN ACTION_SERVER_TOKEN=only-for-training python -m rasa train \
        --data data/nlu data/rules data/stories data/responses --fixed-model-name carebot --out models

FROM base
COPY --from=model /app/models /app/models
# Never root; local state (tokens, SQLite files) only where the operator mounts it. Production settings come from
# the environment: Secrets for tokens and passwords, never baked into the image.
RUN useradd --system --uid 10001 --home-dir /app carebot \
    && mkdir -p /var/lib/carebot && chown carebot /var/lib/carebot
USER 10001
# The root filesystem is read-only in deploy/: home, caches and Rasa's model unpacking go to the writable mounts.
ENV CAREBOT_VAR_DIR=/var/lib/carebot \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp \
    RASA_TELEMETRY_ENABLED=false \
    CAREBOT_MODE=production \
    CAREBOT_TLS_TERMINATED=1 \
    RASA_MODEL=models/carebot.tar.gz \
    RASA_ENDPOINTS=endpoints.production.yml
EXPOSE 5005 5055 8080
CMD ["python", "-m", "carebot.rasa_server", "run", "--enable-api", "--interface", "0.0.0.0", "--port", "5005", \
     "--model", "models/carebot.tar.gz", "--endpoints", "endpoints.production.yml", "--credentials", "credentials.yml"]
