"""Offline analyses behind `POST /api/v1/ai/analyze`: each one a maintained library or a
textbook statistic, each answer naming its method and a confidence whose meaning is written
beside it. Nothing here calls a network service; a generative provider is optional and
separate (marketing/generative.py).

| analysis  | method                                                                   |
|-----------|--------------------------------------------------------------------------|
| sentiment | VADER (vaderSentiment): a lexicon and rules tuned for social media text  |
| keywords  | YAKE (yake): unsupervised keyword extraction from one text's statistics  |
| topics    | sentence embeddings (all-MiniLM-L6-v2, marketing/embeddings.py) and      |
|           | agglomerative clustering; TF-IDF + NMF when the model is not installed   |
| summary   | extractive: sentences ranked by TF-IDF similarity to the whole text      |
| trend     | least-squares line (scipy.stats.linregress); seasonal decomposition      |
|           | (statsmodels) when a period is given and two full periods exist          |
| anomaly   | robust (modified) z-scores over the median and MAD (Iglewicz & Hoaglin)  |
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from saas_server.core.errors import ValidationFailed

ANALYSIS_TYPES = ("sentiment", "keywords", "topics", "summary", "trend", "anomaly")
DATA_TYPES = ("text", "social_posts", "seo_audits", "timeseries")
TEXT_ANALYSES = ("sentiment", "keywords", "topics", "summary")
NUMERIC_ANALYSES = ("trend", "anomaly")

# VADER's own thresholds on the compound score (Hutto & Gilbert, 2014).
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05
# Iglewicz & Hoaglin's cut-off for a modified z-score.
ANOMALY_AT = 3.5
MAX_ITEMS = 5000
MAX_TEXT_CHARS = 200_000


@dataclass
class Analysis:
    method: str
    confidence: float
    confidence_means: str
    result: dict[str, Any]
    items: int
    notes: list[str] = field(default_factory=list)


def _invalid(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={field_name: [message]})


# -- reading the data -------------------------------------------------------------------------


def texts_of(data_type: str, data: Any) -> list[str]:
    """The texts an analysis reads, out of each data type's shape."""
    if data_type == "text":
        items = [data] if isinstance(data, str) else data
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            raise _invalid("data", "text data is a string or a list of strings")
        texts = items
    elif data_type == "social_posts":
        if not isinstance(data, list):
            raise _invalid("data", "social_posts data is a list of posts")
        texts = []
        for post in data:
            content = post if isinstance(post, str) else (post or {}).get("content")
            if not isinstance(content, str):
                raise _invalid("data", "each post is a string or an object with `content`")
            texts.append(content)
    elif data_type == "seo_audits":
        if not isinstance(data, list):
            raise _invalid("data", "seo_audits data is a list of audits")
        texts = [_audit_text(audit) for audit in data]
    else:
        raise _invalid("data_type", f"{data_type} data has no text to analyse")
    texts = [t.strip() for t in texts if t and t.strip()]
    if not texts:
        raise _invalid("data", "there is no text to analyse")
    if len(texts) > MAX_ITEMS or sum(len(t) for t in texts) > MAX_TEXT_CHARS:
        raise _invalid("data", f"at most {MAX_ITEMS} items and {MAX_TEXT_CHARS} characters")
    return texts


def _audit_text(audit: Any) -> str:
    if not isinstance(audit, dict):
        raise _invalid("data", "each audit is an object (as GET /analytics/seo/audit/{id} gives)")
    parts: list[str] = []
    for item in audit.get("findings") or []:
        if isinstance(item, dict):
            parts.append(str(item.get("message") or item.get("title") or ""))
    for item in audit.get("recommendations") or []:
        if isinstance(item, dict):
            parts.append(str(item.get("text") or item.get("title") or ""))
    return ". ".join(p for p in parts if p)


def series_of(data_type: str, data: Any) -> tuple[list[float], list[str | None]]:
    """Values (and their labels, when given) in order, out of each data type's shape."""
    if not isinstance(data, list):
        raise _invalid("data", f"{data_type} data is a list")
    values: list[float] = []
    labels: list[str | None] = []
    for point in data:
        value, label = _point(data_type, point)
        if value is None or not math.isfinite(value):
            raise _invalid("data", "every point needs a finite number")
        values.append(value)
        labels.append(label)
    if len(values) > MAX_ITEMS:
        raise _invalid("data", f"at most {MAX_ITEMS} points")
    if len(values) < 3:
        raise _invalid("data", "at least 3 points are needed")
    return values, labels


def _point(data_type: str, point: Any) -> tuple[float | None, str | None]:
    if isinstance(point, bool):
        return None, None
    if isinstance(point, int | float):
        return float(point), None
    if not isinstance(point, dict):
        return None, None
    label = point.get("timestamp") or point.get("date") or point.get("created_at")
    label = str(label) if label is not None else None
    if data_type == "timeseries":
        raw = point.get("value")
    elif data_type == "seo_audits":
        raw = point.get("score")
    else:  # social posts: the engagement a provider reported
        raw = point.get("engagement")
        if raw is None:
            parts = [point.get(k) for k in ("likes", "shares", "comments", "clicks")]
            numbers = [p for p in parts if isinstance(p, int | float) and not isinstance(p, bool)]
            raw = sum(numbers) if numbers else None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None, label
    return float(raw), label


# -- the analyses ------------------------------------------------------------------------------


def analyze(
    analysis_type: str, data_type: str, data: Any, options: dict[str, Any] | None = None
) -> Analysis:
    options = options or {}
    if analysis_type not in ANALYSIS_TYPES:
        raise _invalid("analysis_type", f"one of {', '.join(ANALYSIS_TYPES)}")
    if data_type not in DATA_TYPES:
        raise _invalid("data_type", f"one of {', '.join(DATA_TYPES)}")
    if analysis_type in TEXT_ANALYSES:
        texts = texts_of(data_type, data)
        if analysis_type == "sentiment":
            return sentiment(texts)
        if analysis_type == "keywords":
            return keywords(texts, top=int_option(options, "top", 10, 1, 50))
        if analysis_type == "topics":
            return topics(texts, count=int_option(options, "topics", 3, 1, 10))
        return summary(texts, sentences=int_option(options, "sentences", 3, 1, 20))
    values, labels = series_of(data_type, data)
    if analysis_type == "trend":
        period = options.get("period")
        if period is not None:
            period = int_option(options, "period", 0, 2, 366)
        return trend(values, labels, period=period)
    threshold = options.get("threshold", ANOMALY_AT)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
        raise _invalid("options.threshold", "a positive number")
    return anomalies(values, labels, threshold=float(threshold))


def int_option(options: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(f"options.{name}", f"an integer from {low} to {high}")
    return value


def sentiment_label(compound: float) -> str:
    if compound >= POSITIVE_AT:
        return "positive"
    if compound <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def sentiment(texts: Sequence[str]) -> Analysis:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    scored = []
    for text in texts:
        polarity = analyzer.polarity_scores(text)
        scored.append(
            {
                "text": text[:200],
                "compound": round(polarity["compound"], 4),
                "label": sentiment_label(polarity["compound"]),
                "positive": round(polarity["pos"], 4),
                "neutral": round(polarity["neu"], 4),
                "negative": round(polarity["neg"], 4),
            }
        )
    compounds = [s["compound"] for s in scored]
    overall = float(np.mean(compounds))
    counts = {label: sum(1 for s in scored if s["label"] == label) for label in _LABELS}
    return Analysis(
        method="VADER sentiment (vaderSentiment): lexicon and rules, compound score in [-1, 1]",
        confidence=round(float(np.mean([abs(c) for c in compounds])), 4),
        confidence_means="mean absolute compound score: near 0 the texts are mixed or neutral",
        result={
            "overall": {"compound": round(overall, 4), "label": sentiment_label(overall)},
            "counts": counts,
            "items": scored,
        },
        items=len(texts),
    )


_LABELS = ("positive", "neutral", "negative")


def keywords(texts: Sequence[str], *, top: int) -> Analysis:
    import yake

    text = "\n".join(texts)
    # Phrases of one or two words: the length of most search keywords.
    extractor = yake.KeywordExtractor(lan="en", n=2, dedupLim=0.7, top=top)
    found = extractor.extract_keywords(text)
    # YAKE's score: lower is more relevant. Relevance is 1 / (1 + score), for reading.
    results = [
        {"keyword": phrase, "yake_score": round(score, 6), "relevance": round(1 / (1 + score), 4)}
        for phrase, score in found
    ]
    confidence = min(1.0, len(text.split()) / 200)
    return Analysis(
        method="YAKE keyword extraction (yake): statistics of the text itself, no training data",
        confidence=round(confidence, 4),
        confidence_means="how much text there was to learn from (1 at 200 words and more)",
        result={"keywords": results},
        items=len(texts),
    )


def sentences_of(texts: Sequence[str]) -> list[str]:
    from segtok.segmenter import split_multi

    found: list[str] = []
    for text in texts:
        for sentence in split_multi(text):
            sentence = sentence.strip()
            if len(sentence.split()) >= 3:
                found.append(sentence)
    return found


def topics(texts: Sequence[str], *, count: int) -> Analysis:
    """By meaning when the bundled sentence model loads (embeddings + clustering), by word
    counts otherwise (TF-IDF + NMF); the answer names which."""
    from saas_server.marketing import embeddings

    documents = list(texts) if len(texts) > 1 else sentences_of(texts) or list(texts)
    if len(documents) >= 2 and embeddings.available():
        return embedding_topics(documents, count=count, items=len(texts))
    return nmf_topics(texts, count=count)


def embedding_topics(documents: Sequence[str], *, count: int, items: int) -> Analysis:
    """Documents embedded with all-MiniLM-L6-v2 and grouped by agglomerative clustering
    (cosine, average linkage) into `count` topics; each topic is named by the words that
    weigh most in its documents against the others (TF-IDF over one text per topic)."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    from saas_server.marketing import embeddings

    vectors = embeddings.encode(documents)
    count = max(1, min(count, len(documents)))
    if count == 1:
        labels = np.zeros(len(documents), dtype=int)
    else:
        labels = AgglomerativeClustering(
            n_clusters=count, metric="cosine", linkage="average"
        ).fit_predict(vectors)
    order = sorted(set(int(x) for x in labels), key=lambda lab: -int((labels == lab).sum()))
    members = {lab: [int(i) for i in np.flatnonzero(labels == lab)] for lab in order}
    joined = [" ".join(documents[i] for i in members[lab]) for lab in order]
    try:
        vectorizer = TfidfVectorizer(stop_words="english")
        matrix = vectorizer.fit_transform(joined).toarray()
        terms = vectorizer.get_feature_names_out()
    except ValueError:  # nothing but stop words
        matrix, terms = np.zeros((len(order), 0)), np.array([])
    found = []
    cohesion = []
    for index, lab in enumerate(order):
        row = matrix[index] if matrix.shape[1] else np.zeros(0)
        top_terms = [str(terms[i]) for i in row.argsort()[::-1][:6] if row[i] > 0]
        centroid = vectors[members[lab]].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
        cohesion += [float(x) for x in vectors[members[lab]] @ centroid]
        found.append({"topic": index + 1, "terms": top_terms, "documents": members[lab]})
    return Analysis(
        method=f"sentence embeddings ({embeddings.MODEL_NAME}, run offline with numpy) and "
        "agglomerative clustering (scikit-learn)",
        confidence=round(max(0.0, float(np.mean(cohesion))), 4),
        confidence_means="mean cosine similarity of each document to its topic's centre",
        result={"topics": found, "documents": len(documents), "method_key": embeddings.METHOD},
        items=items,
    )


def nmf_topics(texts: Sequence[str], *, count: int) -> Analysis:
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    documents = list(texts) if len(texts) > 1 else sentences_of(texts) or list(texts)
    vectorizer = TfidfVectorizer(stop_words="english", max_df=0.95, min_df=1)
    try:
        matrix = vectorizer.fit_transform(documents)
    except ValueError as exc:  # nothing but stop words
        raise _invalid("data", "the text has no words to find topics in") from exc
    count = max(1, min(count, matrix.shape[0], matrix.shape[1]))
    model = NMF(n_components=count, init="nndsvda", random_state=0, max_iter=400)
    weights = model.fit_transform(matrix)
    terms = vectorizer.get_feature_names_out()
    found = []
    for index, component in enumerate(model.components_):
        top_terms = [str(terms[i]) for i in component.argsort()[::-1][:6] if component[i] > 0]
        members = [int(i) for i in np.flatnonzero(weights.argmax(axis=1) == index)]
        found.append({"topic": index + 1, "terms": top_terms, "documents": members})
    reconstruction = model.reconstruction_err_ / max(float(np.linalg.norm(matrix.toarray())), 1e-9)
    return Analysis(
        method="TF-IDF and non-negative matrix factorisation (scikit-learn NMF)",
        confidence=round(max(0.0, 1 - float(reconstruction)), 4),
        confidence_means="share of the TF-IDF matrix the topics explain (1 - relative error)",
        result={"topics": found, "documents": len(documents)},
        items=len(texts),
    )


def summary(texts: Sequence[str], *, sentences: int) -> Analysis:
    from sklearn.feature_extraction.text import TfidfVectorizer

    candidates = sentences_of(texts)
    if not candidates:
        raise _invalid("data", "the text has no sentence to summarise")
    if len(candidates) <= sentences:
        chosen = list(range(len(candidates)))
        scores = [1.0] * len(candidates)
    else:
        matrix = TfidfVectorizer(stop_words="english").fit_transform(candidates)
        centroid = np.asarray(matrix.mean(axis=0)).ravel()
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()) + 1e-9
        similarity = (matrix @ centroid) / (norms * (np.linalg.norm(centroid) + 1e-9))
        scores = [float(s) for s in similarity]
        chosen = sorted(np.argsort(similarity)[::-1][:sentences].tolist())
    picked = [candidates[i] for i in chosen]
    return Analysis(
        method="extractive summary: sentences most similar (TF-IDF cosine) to the whole text",
        confidence=round(float(np.mean([scores[i] for i in chosen])), 4),
        confidence_means="mean similarity of the chosen sentences to the whole text",
        result={"summary": " ".join(picked), "sentences": picked, "of_sentences": len(candidates)},
        items=len(texts),
    )


def trend(values: Sequence[float], labels: Sequence[str | None], *, period: int | None) -> Analysis:
    from scipy import stats

    x = _positions(labels, len(values))
    fit = stats.linregress(x, values)
    r_squared = float(fit.rvalue) ** 2 if math.isfinite(fit.rvalue) else 0.0
    p_value = float(fit.pvalue) if math.isfinite(fit.pvalue) else 1.0
    if p_value < 0.05 and fit.slope > 0:
        direction = "rising"
    elif p_value < 0.05 and fit.slope < 0:
        direction = "falling"
    else:
        direction = "flat"
    result: dict[str, Any] = {
        "direction": direction,
        "slope_per_step": round(float(fit.slope), 6),
        "intercept": round(float(fit.intercept), 6),
        "r_squared": round(r_squared, 4),
        "p_value": round(p_value, 6),
        "step": "day" if x is not None and labels and labels[0] else "point",
    }
    notes: list[str] = []
    method = "least-squares linear regression (scipy.stats.linregress)"
    if period:
        if len(values) >= 2 * period:
            from statsmodels.tsa.seasonal import seasonal_decompose

            decomposed = seasonal_decompose(np.asarray(values), period=period, model="additive")
            seasonal = decomposed.seasonal[:period]
            result["seasonal"] = {
                "period": period,
                "pattern": [round(float(v), 6) for v in seasonal],
                "amplitude": round(float(np.max(seasonal) - np.min(seasonal)), 6),
            }
            method += "; classical additive seasonal decomposition (statsmodels)"
        else:
            notes.append(f"a seasonal decomposition needs two full periods ({2 * period} points)")
    return Analysis(
        method=method,
        confidence=round(1 - p_value, 4),
        confidence_means="1 - the regression's p-value (the chance the slope is not zero)",
        result=result,
        items=len(values),
        notes=notes,
    )


def _positions(labels: Sequence[str | None], count: int) -> list[float]:
    """Days since the first point when every point has a date, else 0..n-1."""
    if labels and all(labels):
        try:
            moments = [_parse_moment(str(label)) for label in labels]
        except ValueError:
            return [float(i) for i in range(count)]
        start = moments[0]
        return [(m - start).total_seconds() / 86400 for m in moments]
    return [float(i) for i in range(count)]


def _parse_moment(text: str) -> datetime:
    return datetime.fromisoformat(re.sub(r"Z$", "+00:00", text))


def anomalies(
    values: Sequence[float], labels: Sequence[str | None], *, threshold: float
) -> Analysis:
    array = np.asarray(values, dtype=float)
    median = float(np.median(array))
    mad = float(np.median(np.abs(array - median)))
    notes: list[str] = []
    if mad == 0:
        # Half the points or more are equal: fall back on the mean absolute deviation
        # (scaled as Iglewicz & Hoaglin suggest), or nothing stands out at all.
        mean_ad = float(np.mean(np.abs(array - median)))
        if mean_ad == 0:
            scores = np.zeros_like(array)
        else:
            scores = (array - median) / (1.253314 * mean_ad)
        notes.append("the median absolute deviation is 0: the mean absolute deviation was used")
    else:
        scores = 0.6745 * (array - median) / mad
    flagged = [
        {
            "index": int(i),
            "label": labels[int(i)],
            "value": float(array[i]),
            "score": round(float(scores[i]), 4),
            "direction": "high" if scores[i] > 0 else "low",
        }
        for i in np.flatnonzero(np.abs(scores) > threshold)
    ]
    largest = float(np.max(np.abs(scores))) if len(scores) else 0.0
    confidence = (
        min(1.0, largest / (2 * threshold)) if flagged else max(0.0, 1 - largest / threshold)
    )
    return Analysis(
        method="robust z-scores: 0.6745 (x - median) / MAD, flagged beyond the threshold",
        confidence=round(confidence, 4),
        confidence_means=(
            "with anomalies: how far the largest lies beyond the threshold (1 at twice it); "
            "without: how far the largest score stays below it"
        ),
        result={
            "anomalies": flagged,
            "median": median,
            "mad": mad,
            "threshold": threshold,
        },
        items=len(values),
        notes=notes,
    )
