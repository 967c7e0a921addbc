# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LEADCRM_VAR_DIR=/app/var

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Static files are collected at build time and served by WhiteNoise. collectstatic never
# connects to the database, but settings need a DATABASE_URL (compose gives the real one).
# A throwaway key (settings refuse a weak one): nothing signed at build time outlives it.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    DATABASE_URL=postgres://build-only@localhost/unused \
    python manage.py collectstatic --noinput \
    && useradd --system --home /app leadcrm && mkdir -p /app/var && chown -R leadcrm /app/var
USER leadcrm

EXPOSE 8000
CMD ["gunicorn", "leadcrm.wsgi:application", "--bind", "0.0.0.0:8000"]
