"""all-MiniLM-L6-v2 run with numpy (marketing/embeddings.py) agrees with the reference model,
and the topic gaps and topics it finds are the ones a reader would name."""

from __future__ import annotations

import numpy as np
import pytest

from saas_server.marketing import analysis, embeddings, seo

pytestmark = pytest.mark.once


def test_the_numpy_model_reproduces_the_published_similarities() -> None:
    # sentence-transformers' README (quickstart, all-MiniLM-L6-v2): 0.6660, 0.1046, 0.1411;
    # the model card's widget example: 0.695 (dog), 0.943 (very happy), 0.257 (sunny day).
    weather = embeddings.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert weather.shape == (3, 384)
    assert np.allclose(np.linalg.norm(weather, axis=1), 1.0, atol=1e-5)
    sims = weather @ weather.T
    assert sims[0, 1] == pytest.approx(0.6660, abs=5e-4)
    assert sims[0, 2] == pytest.approx(0.1046, abs=5e-4)
    assert sims[1, 2] == pytest.approx(0.1411, abs=5e-4)
    happy = embeddings.similarity(
        ["That is a happy person"],
        ["That is a happy dog", "That is a very happy person", "Today is a sunny day"],
    )[0]
    assert happy == pytest.approx([0.695, 0.943, 0.257], abs=2e-3)


def test_padding_does_not_change_an_embedding() -> None:
    alone = embeddings.encode(["Solar panels on the roof"])[0]
    batched = embeddings.encode(
        ["Solar panels on the roof", "A much longer sentence that forces the batch to be padded"]
    )[0]
    assert float(alone @ batched) == pytest.approx(1.0, abs=1e-5)


def _page(url: str, text: str) -> seo.PageFacts:
    facts = seo.PageFacts(url=url, status_code=200, response_seconds=0.1, bytes=0, truncated=False)
    facts.text = text
    return facts


MINE = _page(
    "https://mine.test/",
    "We install solar panels on family homes. Pay monthly with our financing plans. "
    "Every installation comes with a 25-year warranty. Our certified installers finish in "
    "two days.",
)
# Says what the page says in other words (photovoltaic modules, monthly instalments), and
# covers one subject the page does not (heat pumps).
THEIRS = _page(
    "https://theirs.test/",
    "We fit photovoltaic modules on houses across the region. Spread the cost with affordable "
    "monthly instalments. We also install heat pumps that keep your house warm in winter. "
    "A heat pump cuts heating bills compared with a gas boiler.",
)


def test_the_embedding_topic_gap_names_only_the_subject_the_page_lacks() -> None:
    found = seo.embedding_topic_recommendations(MINE, [THEIRS])
    assert [r["method"] for r in found] == ["embedding-topic-gap"]
    gap = found[0]["evidence"]
    assert "heat pump" in gap["term"]
    assert gap["competitors"] == ["https://theirs.test/"]
    assert all("heat pump" in s for s in gap["sentences"])
    assert gap["similarity"] < seo.COVERED
    # Word counts cannot see a paraphrase: TF-IDF reports the financing the page does cover.
    words = [r["evidence"]["term"] for r in seo.topic_recommendations(MINE, [THEIRS])]
    assert any("spread" in term or "instalments" in term for term in words)


def test_topic_gaps_fall_back_to_tfidf_without_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {r["method"] for r in seo.topic_gaps(MINE, [THEIRS])} == {"embedding-topic-gap"}
    # As on an install without the model package: nothing to load.
    monkeypatch.setattr(embeddings, "model_dir", lambda: None)
    embeddings._model.cache_clear()
    try:
        assert not embeddings.available()
        assert {r["method"] for r in seo.topic_gaps(MINE, [THEIRS])} == {"tfidf-topic-gap"}
        topics = analysis.topics(SUBJECTS, count=2)
        assert topics.method.startswith("TF-IDF")
    finally:
        monkeypatch.undo()
        embeddings._model.cache_clear()
    assert embeddings.available()


# No word links the texts of each subject: only their meaning does.
SUBJECTS = [
    "The espresso was bitter but the latte was smooth.",
    "Freshly roasted arabica beans make a better cup.",
    "Our baristas pour cappuccinos all morning.",
    "The striker scored twice before half time.",
    "The goalkeeper saved a penalty in the final minute.",
    "Fans cheered as the referee blew the whistle.",
]


def test_embedding_topics_group_by_meaning_not_shared_words() -> None:
    result = analysis.topics(SUBJECTS, count=2)
    assert result.method.startswith("sentence embeddings")
    assert sorted(sorted(t["documents"]) for t in result.result["topics"]) == [
        [0, 1, 2],
        [3, 4, 5],
    ]
    assert 0 < result.confidence <= 1
