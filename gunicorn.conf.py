"""gunicorn settings for the MedSync web process (the Dockerfile and docker-compose use it).

Every value comes from the environment, like the app's settings. Behind a proxy, the proxy
must set X-Forwarded-For and X-Forwarded-Proto and strip any a client sent; the app derives
the client address from X-Forwarded-For with TRUSTED_PROXY_COUNT (SECURITY.md "Deployment").
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
# A request slower than this is killed (the database cancels statements at 15 s first).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
# Recycle workers now and then so a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200

# Only these peers may tell gunicorn the request came over HTTPS (X-Forwarded-Proto): the
# proxy's address, never "*" while the port is reachable from anywhere else.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# Bounded request lines and headers (gunicorn's defaults, stated).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

accesslog = "-"
# The access log names the proxy's view of the client too (X-Forwarded-For), never a body.
access_log_format = (
    '%(h)s "%({x-forwarded-for}i)s" %(t)s "%(r)s" %(s)s %(b)s %(L)ss "%({x-request-id}i)s"'
)
errorlog = "-"
