FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/app/var
WORKDIR /app

COPY pyproject.toml ./
COPY config ./config
COPY mail ./mail
COPY newsletter ./newsletter
COPY subscribers ./subscribers
COPY templates ./templates
COPY manage.py ./
RUN pip install --no-cache-dir . \
    && useradd --create-home letterpress \
    && mkdir -p /app/var && chown letterpress /app/var

USER letterpress
# collectstatic needs settings but no secrets of production.
RUN DEBUG=1 python manage.py collectstatic --noinput

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
