"""What a topic gap by sentence embeddings costs, against the TF-IDF one it replaces, and what
limiting BLAS to one thread does on this machine.

A page and a competitor of `--sentences` sentences each; the three measurements run in this
process, in the same run (medians):
- the TF-IDF topic gap (the baseline: the method used when the model is not installed);
- the embedding topic gap (marketing/seo.py `embedding_topic_recommendations`: every
  sentence embedded, compared, the gaps clustered and named), the model already loaded;
- encoding the same sentences with OpenBLAS's default threads instead of one.

    .venv/bin/python bench/embeddings.py [--runs 5] [--sentences 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits

from saas_server.marketing import embeddings, seo

SUBJECTS = [
    "solar panels on the roof",
    "a home battery for the evening",
    "monthly financing plans",
    "a heat pump for the winter",
    "the roof survey before the quote",
    "the warranty on every panel",
    "certified installers who finish in two days",
    "the grid connection and the meter",
]


def page(url: str, sentences: int, offset: int) -> seo.PageFacts:
    facts = seo.PageFacts(url=url, status_code=200, response_seconds=0.1, bytes=0, truncated=False)
    facts.text = " ".join(
        f"Customers ask us about {SUBJECTS[(i + offset) % len(SUBJECTS)]}, case {i}."
        for i in range(sentences)
    )
    return facts


def median_ms(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sentences", type=int, default=40)
    args = parser.parse_args()
    mine = page("https://mine.test/", args.sentences, 0)
    theirs = page("https://theirs.test/", args.sentences, 3)
    started = time.perf_counter()
    assert embeddings.available()
    load = time.perf_counter() - started
    tfidf = median_ms(lambda: seo.topic_recommendations(mine, [theirs]), args.runs)
    embedded = median_ms(lambda: seo.embedding_topic_recommendations(mine, [theirs]), args.runs)
    texts = [mine.text, theirs.text]
    sentences = seo_sentences(texts)
    one = median_ms(lambda: embeddings.encode(sentences), args.runs)

    def default_threads() -> None:
        # encode() pins BLAS to one thread; the same forward pass with OpenBLAS's own count:
        with threadpool_limits(limits=None):
            model_encode_unpinned(embeddings._model(), sentences)

    many = median_ms(default_threads, args.runs)
    print(f"{args.sentences} sentences a page, {args.runs} runs (medians); model load {load:.2f} s")
    print(f"  TF-IDF topic gap (baseline):   {tfidf:9.1f} ms")
    print(f"  embedding topic gap:           {embedded:9.1f} ms  ratio {embedded / tfidf:.1f}")
    print(f"  encode {len(sentences)} sentences, 1 thread: {one:9.1f} ms")
    print(f"  the same, OpenBLAS threads:    {many:9.1f} ms  ratio {many / one:.2f}")


def seo_sentences(texts: list[str]) -> list[str]:
    from saas_server.marketing.analysis import sentences_of

    return sentences_of(texts)


def model_encode_unpinned(model: embeddings.MiniLM, sentences: list[str]) -> None:
    import numpy as np

    for start in range(0, len(sentences), embeddings.BATCH):
        encoded = model.tokenizer.encode_batch(sentences[start : start + embeddings.BATCH])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        types = np.array([e.type_ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        model._forward(ids, types, mask)


if __name__ == "__main__":
    main()
