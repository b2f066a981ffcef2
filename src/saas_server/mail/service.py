"""Outgoing mail. Requests queue mails; a job sends them, so slow SMTP never slows a request.

The message travels to the job encrypted: mails carry single-use tokens, and job arguments
are stored in the database in clear.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from saas_server.core.crypto import SecretBox
from saas_server.core.jobs import defer, defer_many

SEND_MAIL_TASK = "mail.send"


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


async def queue_mail(session: AsyncSession, secrets: SecretBox, mail: Mail) -> int:
    sealed = secrets.encrypt(json.dumps(asdict(mail)), associated_data=b"mail")
    return await defer(session, SEND_MAIL_TASK, queue="mail", message=sealed)


async def queue_mails(session: AsyncSession, secrets: SecretBox, mails: list[Mail]) -> None:
    """:func:`queue_mail` for many, in one statement."""
    await defer_many(
        session,
        SEND_MAIL_TASK,
        [
            {"message": secrets.encrypt(json.dumps(asdict(mail)), associated_data=b"mail")}
            for mail in mails
        ],
        queue="mail",
    )


def open_mail(secrets: SecretBox, sealed: str) -> Mail:
    return Mail(**json.loads(secrets.decrypt(sealed, associated_data=b"mail")))
