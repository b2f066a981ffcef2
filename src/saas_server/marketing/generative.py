"""Generative text from an OpenAI-compatible endpoint, optional (decision 0032).

Everything in marketing/ works offline without it; when an operator configures one
(`SAAS_AI_OPENAI_BASE_URL`, `SAAS_AI_OPENAI_MODEL`, `SAAS_AI_OPENAI_API_KEY`), `POST
/api/v1/ai/analyze` can write an abstractive summary with it (`options.provider: "openai"`),
and the answer says which endpoint and model wrote it. The wire format is the Chat Completions
one that OpenAI, llama.cpp's server, vLLM, Ollama and LM Studio all speak: `POST
{base}/chat/completions` with a bearer key. The client's texts go to that endpoint and nowhere
else; the key is a secret setting, never logged or echoed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from saas_server.core.errors import AppError, ValidationFailed
from saas_server.core.settings import Settings

PROVIDER_NAMES = ("openai",)


class GenerationFailed(AppError):
    status_code = 502
    code = "AI_PROVIDER_FAILED"
    message = "The generative provider could not answer"


@dataclass(frozen=True)
class Generated:
    text: str
    model: str
    provider: str
    endpoint: str
    usage: dict[str, Any]
    finish_reason: str | None


class TextGenerator(Protocol):
    """What a generative provider does: text for a prompt. Providers for other APIs plug in
    behind the same interface."""

    name: str

    async def generate(self, prompt: str, *, system: str | None = None) -> Generated: ...


class OpenAICompatible:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | None,
        *,
        timeout_seconds: float = 60.0,
        max_tokens: int = 512,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.max_tokens = max_tokens
        self._http = http

    @property
    def endpoint(self) -> str:
        """Where the requests go, without any credential a URL might carry."""
        url = httpx.URL(self.base_url)
        return str(url.copy_with(username=None, password=None, query=None))

    async def generate(self, prompt: str, *, system: str | None = None) -> Generated:
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": 0.2,
            "stream": False,
        }
        headers = {"accept": "application/json"}
        if self._api_key is not None:
            headers["authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        url = f"{self.base_url}/chat/completions"
        try:
            if self._http is not None:
                response = await self._http.post(
                    url, json=body, headers=headers, timeout=self.timeout_seconds
                )
            else:
                async with httpx.AsyncClient(timeout=self.timeout_seconds) as http:
                    response = await http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise GenerationFailed(
                f"The endpoint {self.endpoint} could not be reached ({type(exc).__name__})"
            ) from exc
        return self._read(response)

    def _read(self, response: httpx.Response) -> Generated:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400:
            reason = None
            if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
                reason = payload["error"].get("message")
            raise GenerationFailed(
                f"The endpoint {self.endpoint} answered {response.status_code}"
                + (f": {str(reason)[:300]}" if reason else ""),
                details={"status": [str(response.status_code)]},
            )
        try:
            choice = payload["choices"][0]
            text = choice["message"]["content"]
        except (TypeError, KeyError, IndexError) as exc:
            raise GenerationFailed(
                f"The endpoint {self.endpoint} answered something that is not a chat completion"
            ) from exc
        if not isinstance(text, str):
            raise GenerationFailed(f"The endpoint {self.endpoint} answered no text")
        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
        return Generated(
            text=text.strip(),
            model=str(payload.get("model") or self.model),
            provider=self.name,
            endpoint=self.endpoint,
            usage={k: v for k, v in usage.items() if isinstance(v, int)},
            finish_reason=choice.get("finish_reason"),
        )


def configured(settings: Settings, http: httpx.AsyncClient | None = None) -> OpenAICompatible:
    """The operator's endpoint; a clear 422 when there is none."""
    if not settings.ai_openai_base_url or not settings.ai_openai_model:
        raise ValidationFailed(
            "No generative provider is configured: set SAAS_AI_OPENAI_BASE_URL and "
            "SAAS_AI_OPENAI_MODEL (the offline methods need none)",
            details={"options.provider": ["not configured"]},
        )
    return OpenAICompatible(
        settings.ai_openai_base_url,
        settings.ai_openai_model,
        settings.ai_openai_api_key,
        timeout_seconds=settings.ai_openai_timeout_seconds,
        max_tokens=settings.ai_openai_max_tokens,
        http=http,
    )


SUMMARY_SYSTEM = (
    "You summarise marketing texts for an agency's client report. Answer with the summary "
    "only, in the language of the texts, in at most {sentences} sentences. Do not invent facts."
)


# How much text one request sends (characters): a small model's context is a few thousand
# tokens; what is beyond is left out and the answer says so.
MAX_PROMPT_CHARS = 24_000


async def summary(generator: TextGenerator, texts: list[str], *, sentences: int) -> Generated:
    joined = "\n\n".join(f"Text {i + 1}:\n{t}" for i, t in enumerate(texts))[:MAX_PROMPT_CHARS]
    return await generator.generate(
        f"Summarise these texts:\n\n{joined}", system=SUMMARY_SYSTEM.format(sentences=sentences)
    )
