# One image for every Baoxiao process: gunicorn (the default command), celery worker and celery beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONPATH=/app

RUN groupadd --system --gid 1000 baoxiao \
    && useradd --system --uid 1000 --gid baoxiao --home-dir /app --no-create-home baoxiao

WORKDIR /app

# Dependencies first, in a layer that changes only with pyproject.toml. `pip install .` on the bare
# pyproject installs every dependency and no code: the app runs from /app (PYTHONPATH), because settings
# find templates/, static/ and locale/ next to config/, and a wheel carries only the Python packages.
COPY pyproject.toml /tmp/baoxiao-deps/
RUN cd /tmp/baoxiao-deps && touch README.md && pip install . && rm -rf /tmp/baoxiao-deps

# The source stays owned by root (read-only to the app); only var/ (media, beat schedule, static) is writable.
COPY . .
RUN mkdir -p var && chown baoxiao:baoxiao var
USER baoxiao

# Static files are collected at build time with a throwaway production environment: nothing here ends up
# in the image but the files. docker-compose.yml collects again on start because var/ is a volume there.
RUN BAOXIAO_ENV=production \
    BAOXIAO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    BAOXIAO_ALLOWED_HOSTS=build.invalid \
    python manage.py collectstatic --no-input --verbosity 0

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--timeout", "60"]
