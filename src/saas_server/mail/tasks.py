from __future__ import annotations

import procrastinate

from saas_server.core.jobs import jobs_app, runtime_of
from saas_server.mail.backends import mail_backend
from saas_server.mail.service import SEND_MAIL_TASK, open_mail


@jobs_app.task(
    name=SEND_MAIL_TASK,
    queue="mail",
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=8, exponential_wait=5),
)
async def send_mail(context: procrastinate.JobContext, *, message: str) -> None:
    runtime = runtime_of(context)
    await mail_backend(runtime.settings).send(open_mail(runtime.secrets, message))
