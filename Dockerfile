# MedSync image: web (gunicorn), worker and beat all run from it.
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=medsync.settings
WORKDIR /app
RUN useradd --create-home --uid 10001 medsync
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY --from=assets /app/node_modules ./node_modules
COPY . .
# collectstatic needs settings to import; these values exist only for this build step.
RUN SECRET_KEY=build-only DEBUG=false ALLOWED_HOSTS=build python manage.py collectstatic --noinput
USER medsync
EXPOSE 8000
# gunicorn.conf.py: workers, timeouts, which proxy may set X-Forwarded-Proto (FORWARDED_ALLOW_IPS).
CMD ["gunicorn", "--config", "gunicorn.conf.py", "medsync.wsgi:application"]
