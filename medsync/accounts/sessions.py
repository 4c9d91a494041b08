"""A database session store that keeps only the SHA-256 of each session key.

Chosen over a side table of login records: the one row Django already reads and writes on
every request carries the user (indexed), when it started, when it was last seen, the client
address and browser, so listing a person's sessions costs one query and ending one is a
DELETE that takes effect on that session's next request, with no extra query per request.
A copy of the table (a backup, a read replica) holds no key that could be replayed.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils import timezone

from medsync import request_context

USER_AGENT_LENGTH = 300


def hash_session_key(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


class SessionStore(DatabaseSessionStore):
    """`SESSION_ENGINE = "medsync.accounts.sessions"`. `user_agent` is set per request by
    `medsync.accounts.middleware.SessionDetailsMiddleware`."""

    user_agent = ""

    @classmethod
    def get_model_class(cls):
        from medsync.models import UserSession

        return UserSession

    def _get_session_from_db(self):
        if not self.session_key:
            return None
        found = self.model.objects.filter(
            session_key=hash_session_key(self.session_key), expire_date__gt=timezone.now()
        ).first()
        if found is None:
            self._session_key = None
        return found

    async def _aget_session_from_db(self):  # pragma: no cover - the app runs under WSGI
        raise NotImplementedError("MedSync sessions are read synchronously.")

    def exists(self, session_key):
        return self.model.objects.filter(session_key=hash_session_key(session_key)).exists()

    def create_model_instance(self, data):
        now = timezone.now()
        return self.model(
            session_key=hash_session_key(self._get_or_create_session_key()),
            session_data=self.encode(data),
            expire_date=self.get_expiry_date(),
            user_id=data.get(SESSION_KEY) or None,
            created_at=now,
            last_seen_at=now,
            ip_address=request_context.current_client_ip() or None,
            user_agent=(self.user_agent or "")[:USER_AGENT_LENGTH],
        )

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        try:
            with transaction.atomic(using=using):
                if must_create:
                    obj.save(force_insert=True, using=using)
                else:  # keep created_at: when the session started
                    obj.save(
                        force_update=True,
                        using=using,
                        update_fields=[
                            "session_data",
                            "expire_date",
                            "user",
                            "last_seen_at",
                            "ip_address",
                            "user_agent",
                        ],
                    )
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise

    def delete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self.model.objects.filter(session_key=hash_session_key(session_key)).delete()
