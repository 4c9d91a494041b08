"""The web processes' entry point (gunicorn and runserver load it; workers never do)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medsync.settings")
application = get_wsgi_application()

from medsync.web_limits import install_web_limits  # noqa: E402 - needs the settings above

install_web_limits()
