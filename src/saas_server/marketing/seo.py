"""An SEO audit of one page and its competitors: what Lighthouse's SEO category and Screaming
Frog's page checks report, with the evidence for each finding, a score and ranked
recommendations.

The audit fetches through the SSRF guard (core/outbound.py), honours the site's robots.txt
for its user agent, and bounds everything: the page's size and time, the number of links it
checks for breakage, the competitors. Parsing is selectolax's (Lexbor) HTML parser.

The score (0..100) is ``round(100 * passed / applicable)`` over the weights of ``CHECKS``:
a check that does not apply to the page (no images, no keywords asked) counts neither way.
The weights follow what each defect costs a page in search: being indexable at all first
(status, robots), then what the result shows (title, description), then structure.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.robotparser
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import numpy as np
from selectolax.lexbor import LexborHTMLParser

from saas_server.core.outbound import FetchedPage, UnsafeURL, get_checked

USER_AGENT = "SaaSPlatformSEOAudit/1.0"
SCORE_FORMULA = "round(100 * sum(weights of passed checks) / sum(weights of applicable checks))"
MAX_PAGE_BYTES = 5 * 1024 * 1024
PAGE_TIMEOUT_SECONDS = 15.0
LINK_TIMEOUT_SECONDS = 5.0
MAX_LINKS_CHECKED = 50
# A link check reads at most this much of the answer (enough for most pages to end, so their
# connection is reused for the next check).
LINK_MAX_BYTES = 64 * 1024
LINK_CONCURRENCY = 10
MAX_COMPETITORS = 5
MAX_KEYWORDS = 20

TITLE_LENGTH = (30, 60)
DESCRIPTION_LENGTH = (70, 160)
HEAVY_PAGE_BYTES = 500 * 1024
SLOW_RESPONSE_SECONDS = 1.5

# check -> (weight, severity when it fails, recommendation)
CHECKS: dict[str, tuple[int, str, str]] = {
    "status": (12, "error", "Serve the page with a 200 status: search engines drop error pages"),
    "robots_meta": (
        12,
        "error",
        "Remove `noindex` from the robots meta tag so the page is indexed",
    ),
    "title": (10, "error", "Give the page a <title>: it is the headline of the search result"),
    "title_length": (4, "warning", "Keep the title between 30 and 60 characters"),
    "meta_description": (8, "error", "Add a meta description: it is the text under the result"),
    "meta_description_length": (3, "warning", "Keep the meta description within 70-160 characters"),
    "h1": (8, "error", "Use exactly one <h1> naming the page's subject"),
    "heading_order": (3, "warning", "Do not skip heading levels (an <h3> under an <h1>)"),
    "image_alt": (6, "warning", "Describe every image in an `alt` attribute"),
    "broken_links": (8, "error", "Fix or remove the links that answer with an error"),
    "canonical": (4, "warning", "Declare the canonical URL with <link rel=canonical>"),
    "viewport": (6, "error", "Add <meta name=viewport> so the page works on phones"),
    "lang": (4, "warning", "Declare the page's language with <html lang>"),
    "structured_data": (4, "info", "Describe the page with JSON-LD structured data"),
    "open_graph": (4, "info", "Add Open Graph tags (og:title, og:description) for sharing"),
    "sitemap": (4, "warning", "Publish a sitemap.xml (and name it in robots.txt)"),
    "page_weight": (3, "warning", "Make the HTML lighter (under 500 KB)"),
    "response_time": (3, "warning", "Make the server answer within 1.5 s"),
    "keywords": (12, "warning", "Use each target keyword in the title, the <h1> and the text"),
}


@dataclass
class PageFacts:
    url: str
    status_code: int
    response_seconds: float
    bytes: int
    truncated: bool
    title: str | None = None
    meta_description: str | None = None
    robots_meta: str | None = None
    canonical: str | None = None
    lang: str | None = None
    viewport: bool = False
    headings: list[tuple[int, str]] = field(default_factory=list)
    images: int = 0
    images_without_alt: list[str] = field(default_factory=list)
    internal_links: list[str] = field(default_factory=list)
    external_links: list[str] = field(default_factory=list)
    json_ld: list[Any] = field(default_factory=list)
    json_ld_errors: list[str] = field(default_factory=list)
    open_graph: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status_code": self.status_code,
            "response_ms": round(self.response_seconds * 1000),
            "bytes": self.bytes,
            "title": self.title,
            "meta_description": self.meta_description,
            "robots_meta": self.robots_meta,
            "canonical": self.canonical,
            "lang": self.lang,
            "viewport": self.viewport,
            "headings": [{"level": level, "text": text} for level, text in self.headings],
            "images": self.images,
            "images_without_alt": self.images_without_alt,
            "internal_links": len(self.internal_links),
            "external_links": len(self.external_links),
            "structured_data_types": [_ld_type(item) for item in self.json_ld],
            "open_graph": self.open_graph,
            "words": len(self.text.split()),
        }


def _ld_type(item: Any) -> str | None:
    if isinstance(item, dict):
        kind = item.get("@type")
        return kind if isinstance(kind, str) else None
    return None


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    return re.sub(r"\s+", " ", text).strip()


def parse_page(page: FetchedPage) -> PageFacts:
    facts = PageFacts(
        url=page.url,
        status_code=page.status_code,
        response_seconds=page.elapsed_seconds,
        bytes=len(page.body),
        truncated=page.truncated,
    )
    content_type = page.headers.get("content-type", "")
    if "html" not in content_type and not page.body.lstrip()[:15].lower().startswith(b"<!doctype"):
        if b"<html" not in page.body[:2048].lower():
            return facts
    tree = LexborHTMLParser(page.body.decode(_charset(content_type), errors="replace"))
    title = tree.css_first("title")
    facts.title = _clean(title.text()) if title is not None else None
    for meta in tree.css("meta"):
        name = (meta.attributes.get("name") or "").lower()
        prop = (meta.attributes.get("property") or "").lower()
        content = meta.attributes.get("content")
        if name == "description":
            facts.meta_description = _clean(content)
        elif name == "robots":
            facts.robots_meta = (content or "").lower()
        elif name == "viewport" and content:
            facts.viewport = True
        if prop.startswith("og:") and content:
            facts.open_graph[prop] = content
    for link in tree.css("link"):
        rel = (link.attributes.get("rel") or "").lower().split()
        if "canonical" in rel and link.attributes.get("href"):
            facts.canonical = urljoin(page.url, link.attributes.get("href") or "")
    html = tree.css_first("html")
    facts.lang = (html.attributes.get("lang") or None) if html is not None else None
    for node in tree.css("h1, h2, h3, h4, h5, h6"):
        facts.headings.append((int(str(node.tag)[1]), _clean(node.text()) or ""))
    for image in tree.css("img"):
        facts.images += 1
        alt = image.attributes.get("alt")
        if alt is None or not alt.strip():
            facts.images_without_alt.append(urljoin(page.url, image.attributes.get("src") or ""))
    own_host = urlsplit(page.url).netloc.lower()
    seen: set[str] = set()
    for anchor in tree.css("a[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:")):
            continue
        absolute = urljoin(page.url, href).split("#", 1)[0]
        if absolute in seen or urlsplit(absolute).scheme not in ("http", "https"):
            continue
        seen.add(absolute)
        if urlsplit(absolute).netloc.lower() == own_host:
            facts.internal_links.append(absolute)
        else:
            facts.external_links.append(absolute)
    for script in tree.css('script[type="application/ld+json"]'):
        raw = script.text()
        try:
            facts.json_ld.append(json.loads(raw))
        except ValueError as exc:
            facts.json_ld_errors.append(f"invalid JSON-LD: {exc}")
    for node in tree.css("script, style, noscript, template"):
        node.decompose()
    body = tree.body
    facts.text = _clean(body.text(separator=" ")) or "" if body is not None else ""
    return facts


def _charset(content_type: str) -> str:
    match = re.search(r"charset=([\w-]+)", content_type, re.I)
    return match.group(1) if match else "utf-8"


# -- the checks ---------------------------------------------------------------------------------


@dataclass
class CheckResult:
    check: str
    passed: bool
    evidence: Any
    message: str

    @property
    def weight(self) -> int:
        return CHECKS[self.check][0]

    def public(self) -> dict[str, Any]:
        weight, severity, _ = CHECKS[self.check]
        return {
            "check": self.check,
            "passed": self.passed,
            "severity": "pass" if self.passed else severity,
            "weight": weight,
            "message": self.message,
            "evidence": self.evidence,
        }


@dataclass
class SiteFacts:
    """What the audit learnt beyond the page: robots.txt, the sitemap, the links checked."""

    sitemap_url: str | None
    sitemap_found: bool
    broken_links: list[dict[str, Any]]
    links_checked: int


def keyword_coverage(facts: PageFacts, keywords: Sequence[str]) -> list[dict[str, Any]]:
    title = (facts.title or "").lower()
    h1 = " ".join(text for level, text in facts.headings if level == 1).lower()
    body = facts.text.lower()
    url = facts.url.lower()
    coverage = []
    for keyword in keywords:
        needle = keyword.lower().strip()
        slug = re.sub(r"\s+", "-", needle)
        coverage.append(
            {
                "keyword": keyword,
                "in_title": needle in title,
                "in_h1": needle in h1,
                "in_body": body.count(needle),
                "in_url": slug in url or needle.replace(" ", "") in url,
            }
        )
    return coverage


def run_checks(facts: PageFacts, site: SiteFacts, keywords: Sequence[str]) -> list[CheckResult]:
    results: list[CheckResult] = []

    def add(check: str, passed: bool, evidence: Any, message: str) -> None:
        results.append(CheckResult(check, passed, evidence, message))

    add(
        "status",
        200 <= facts.status_code < 300,
        {"status_code": facts.status_code},
        f"The page answered {facts.status_code}",
    )
    noindex = bool(facts.robots_meta and "noindex" in facts.robots_meta)
    add(
        "robots_meta",
        not noindex,
        {"robots": facts.robots_meta},
        "The robots meta tag says noindex" if noindex else "The page may be indexed",
    )
    add(
        "title",
        bool(facts.title),
        {"title": facts.title},
        "The page has a title" if facts.title else "The page has no <title>",
    )
    if facts.title:
        low, high = TITLE_LENGTH
        length = len(facts.title)
        add(
            "title_length",
            low <= length <= high,
            {"length": length},
            f"The title is {length} characters (aim: {low}-{high})",
        )
    add(
        "meta_description",
        bool(facts.meta_description),
        {"meta_description": facts.meta_description},
        "The page has a meta description"
        if facts.meta_description
        else "The page has no meta description",
    )
    if facts.meta_description:
        low, high = DESCRIPTION_LENGTH
        length = len(facts.meta_description)
        add(
            "meta_description_length",
            low <= length <= high,
            {"length": length},
            f"The meta description is {length} characters (aim: {low}-{high})",
        )
    h1s = [text for level, text in facts.headings if level == 1]
    add("h1", len(h1s) == 1, {"h1": h1s}, f"The page has {len(h1s)} <h1>")
    skips = [
        f"h{before} -> h{after}"
        for (before, _), (after, _) in zip(facts.headings, facts.headings[1:], strict=False)
        if after > before + 1
    ]
    if facts.headings:
        add(
            "heading_order",
            not skips,
            {"skips": skips},
            "Heading levels are skipped: " + ", ".join(skips)
            if skips
            else "Heading levels follow each other",
        )
    if facts.images:
        missing = facts.images_without_alt
        add(
            "image_alt",
            not missing,
            {"images": facts.images, "without_alt": missing},
            f"{len(missing)} of {facts.images} images have no alt text",
        )
    if site.links_checked:
        add(
            "broken_links",
            not site.broken_links,
            {"checked": site.links_checked, "broken": site.broken_links},
            f"{len(site.broken_links)} of {site.links_checked} links checked are broken",
        )
    add(
        "canonical",
        facts.canonical is not None,
        {"canonical": facts.canonical},
        "A canonical URL is declared" if facts.canonical else "No canonical URL is declared",
    )
    add(
        "viewport",
        facts.viewport,
        {"viewport": facts.viewport},
        "A viewport is declared" if facts.viewport else "No viewport meta tag",
    )
    add(
        "lang",
        bool(facts.lang),
        {"lang": facts.lang},
        f"The page's language is {facts.lang}" if facts.lang else "No lang on <html>",
    )
    structured = bool(facts.json_ld) and not facts.json_ld_errors
    add(
        "structured_data",
        structured,
        {"types": [_ld_type(i) for i in facts.json_ld], "errors": facts.json_ld_errors},
        "; ".join(facts.json_ld_errors)
        if facts.json_ld_errors
        else ("JSON-LD structured data found" if facts.json_ld else "No JSON-LD structured data"),
    )
    og_ok = "og:title" in facts.open_graph and "og:description" in facts.open_graph
    add(
        "open_graph",
        og_ok,
        {"open_graph": facts.open_graph},
        "Open Graph title and description found"
        if og_ok
        else "Open Graph og:title or og:description is missing",
    )
    add(
        "sitemap",
        site.sitemap_found,
        {"sitemap": site.sitemap_url},
        f"Sitemap found at {site.sitemap_url}" if site.sitemap_found else "No sitemap found",
    )
    add(
        "page_weight",
        facts.bytes <= HEAVY_PAGE_BYTES and not facts.truncated,
        {"bytes": facts.bytes},
        f"The HTML weighs {facts.bytes} bytes",
    )
    add(
        "response_time",
        facts.response_seconds <= SLOW_RESPONSE_SECONDS,
        {"ms": round(facts.response_seconds * 1000)},
        f"The page answered in {round(facts.response_seconds * 1000)} ms",
    )
    if keywords:
        coverage = keyword_coverage(facts, keywords)
        missing = [
            c["keyword"] for c in coverage if not (c["in_title"] and c["in_h1"] and c["in_body"])
        ]
        add(
            "keywords",
            not missing,
            {"coverage": coverage, "not_fully_covered": missing},
            "Every keyword is in the title, the <h1> and the text"
            if not missing
            else "Not fully used: " + ", ".join(missing),
        )
    return results


def score(results: Sequence[CheckResult]) -> int:
    applicable = sum(r.weight for r in results)
    passed = sum(r.weight for r in results if r.passed)
    return round(100 * passed / applicable) if applicable else 0


# -- recommendations ------------------------------------------------------------------------------


def rule_recommendations(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    return [
        {
            "title": CHECKS[r.check][2],
            "impact": r.weight,
            "method": "rules",
            "check": r.check,
            "evidence": r.message,
        }
        for r in results
        if not r.passed
    ]


def competitor_recommendations(
    facts: PageFacts, competitors: Sequence[PageFacts], keywords: Sequence[str]
) -> list[dict[str, Any]]:
    """Keywords a competitor uses where the page does not (title, h1, text)."""
    found = []
    own = {c["keyword"]: c for c in keyword_coverage(facts, keywords)}
    for competitor in competitors:
        for theirs in keyword_coverage(competitor, keywords):
            mine = own[theirs["keyword"]]
            places = [place for place in ("in_title", "in_h1") if theirs[place] and not mine[place]]
            if theirs["in_body"] and not mine["in_body"]:
                places.append("in_body")
            if places:
                where = ", ".join(p.removeprefix("in_") for p in places)
                found.append(
                    {
                        "title": f"Use “{theirs['keyword']}” in the {where}, as "
                        f"{urlsplit(competitor.url).netloc} does",
                        "impact": 6,
                        "method": "competitor-comparison",
                        "check": "keywords",
                        "evidence": {"competitor": competitor.url, "places": places},
                    }
                )
    return found


def topic_recommendations(
    facts: PageFacts, competitors: Sequence[PageFacts], *, limit: int = 5
) -> list[dict[str, Any]]:
    """Subjects the competitors write about and the page does not: the phrases that weigh most
    in the competitors' text (TF-IDF over the page and the competitors) and are absent from the
    page."""
    texts = [c.text for c in competitors if c.text.strip()]
    if not texts or not facts.text.strip():
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([facts.text, *texts])
    except ValueError:
        return []
    terms = vectorizer.get_feature_names_out()
    own_text = facts.text.lower()
    weights = matrix[1:].max(axis=0).toarray().ravel()
    ranked = weights.argsort()[::-1]
    weight_of = {str(terms[i]): float(weights[i]) for i in ranked if weights[i] > 0}
    picked: list[str] = []
    for term, weight in weight_of.items():
        if len(picked) >= limit:
            break
        if " " not in term:
            # A word is better named by the phrase it mostly appears in ("battery storage"
            # rather than "battery"), when that phrase weighs nearly as much.
            phrases = [(w, p) for p, w in weight_of.items() if " " in p and term in p.split()]
            if phrases and max(phrases)[0] >= 0.6 * weight:
                term = max(phrases)[1]
        if term in own_text or any(term in other or other in term for other in picked):
            continue
        picked.append(term)
    return [
        {
            "title": f"Cover “{term}”: the competitors write about it, the page does not",
            "impact": 4,
            "method": "tfidf-topic-gap",
            "check": "topics",
            "evidence": {
                "term": term,
                "competitors": [c.url for c in competitors if term in c.text.lower()],
            },
        }
        for term in picked
    ]


# A competitor's sentence is "covered" when some sentence of the page means nearly the same: a
# cosine similarity of the two MiniLM embeddings of at least this much. Paraphrases of one
# another score 0.6-0.9 with this model, sentences on one broad subject but different points
# about 0.5, unrelated ones under 0.3.
COVERED = 0.55
# Uncovered sentences closer than this (cosine distance, average linkage) form one topic.
TOPIC_DISTANCE = 0.6
MAX_SENTENCES = 200


def embedding_topic_recommendations(
    facts: PageFacts, competitors: Sequence[PageFacts], *, limit: int = 5
) -> list[dict[str, Any]]:
    """Subjects the competitors write about and the page does not, by meaning rather than by
    words: every competitor sentence is embedded (all-MiniLM-L6-v2, marketing/embeddings.py)
    and compared with every sentence of the page; those no page sentence comes close to
    (cosine < COVERED) are grouped by agglomerative clustering of their embeddings, and each
    group is named by the phrase of its sentences closest to the group's mean embedding."""
    from saas_server.marketing import embeddings
    from saas_server.marketing.analysis import sentences_of

    own = sentences_of([facts.text])[:MAX_SENTENCES]
    theirs: list[tuple[str, str]] = []
    for competitor in competitors:
        theirs += [(s, competitor.url) for s in sentences_of([competitor.text])]
    theirs = theirs[:MAX_SENTENCES]
    if not own or not theirs:
        return []
    own_vectors = embeddings.encode(own)
    their_vectors = embeddings.encode([s for s, _ in theirs])
    closeness = their_vectors @ own_vectors.T
    coverage = closeness.max(axis=1)
    uncovered = [int(i) for i in np.flatnonzero(coverage < COVERED)]
    if not uncovered:
        return []
    groups = _clusters(their_vectors[uncovered])
    own_text = facts.text.lower()
    found: list[tuple[float, dict[str, Any]]] = []
    for members in groups:
        indexes = [uncovered[m] for m in members]
        centroid = their_vectors[indexes].mean(axis=0)
        name = _topic_name([theirs[i][0] for i in indexes], centroid, own_text)
        if name is None:
            continue
        gap = float(1 - coverage[indexes].mean())
        found.append(
            (
                len(indexes) * gap,
                {
                    "title": f"Cover “{name}”: the competitors write about it, the page does not",
                    "impact": 4,
                    "method": "embedding-topic-gap",
                    "check": "topics",
                    "evidence": {
                        "term": name,
                        "model": embeddings.MODEL_NAME,
                        "sentences": [theirs[i][0] for i in indexes[:3]],
                        "competitors": sorted({theirs[i][1] for i in indexes}),
                        "closest_on_page": own[int(closeness[indexes[0]].argmax())],
                        "similarity": round(float(coverage[indexes].max()), 3),
                        "gap": round(gap, 3),
                    },
                },
            )
        )
    # The most sentences furthest from the page first.
    found.sort(key=lambda pair: -pair[0])
    return [item for _, item in found[:limit]]


def _clusters(vectors: Any) -> list[list[int]]:
    if len(vectors) == 1:
        return [[0]]
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=TOPIC_DISTANCE
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    return sorted(groups.values(), key=len, reverse=True)


def _topic_name(sentences: Sequence[str], centroid: Any, own_text: str) -> str | None:
    """The one- or two-word phrase of the sentences that the page never uses and whose
    embedding is closest to what the sentences mean together."""
    from sklearn.feature_extraction.text import CountVectorizer

    from saas_server.marketing import embeddings

    try:
        counts = CountVectorizer(stop_words="english", ngram_range=(1, 2)).fit(sentences)
    except ValueError:
        return None
    phrases = [str(p) for p in counts.get_feature_names_out() if str(p) not in own_text]
    if not phrases:
        return None
    scores = embeddings.encode(phrases) @ centroid
    return phrases[int(scores.argmax())]


def ranked(recommendations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ordered = sorted(recommendations, key=lambda r: -int(r["impact"]))
    for rank, item in enumerate(ordered, start=1):
        item["rank"] = rank
    return ordered


# -- fetching -------------------------------------------------------------------------------------


class AuditRefused(Exception):
    """The page may not or cannot be audited (robots.txt, the SSRF guard, no answer)."""


@dataclass
class Fetcher:
    http: httpx.AsyncClient
    allow_private: bool

    async def get(self, url: str, *, seconds: float, max_body: int) -> FetchedPage:
        return await get_checked(
            self.http,
            url,
            allow_private=self.allow_private,
            timeout_seconds=seconds,
            max_body=max_body,
            headers={"user-agent": USER_AGENT, "accept": "text/html,*/*;q=0.5"},
        )

    async def robots(self, url: str) -> tuple[urllib.robotparser.RobotFileParser | None, list[str]]:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        try:
            page = await self.get(robots_url, seconds=LINK_TIMEOUT_SECONDS, max_body=512 * 1024)
        except (UnsafeURL, httpx.HTTPError, TimeoutError):
            return None, []
        if page.status_code != 200:
            return None, []
        lines = page.body.decode("utf-8", errors="replace").splitlines()
        parser = urllib.robotparser.RobotFileParser(robots_url)
        parser.parse(lines)
        return parser, parser.site_maps() or []

    async def page(self, url: str) -> PageFacts:
        try:
            fetched = await self.get(url, seconds=PAGE_TIMEOUT_SECONDS, max_body=MAX_PAGE_BYTES)
        except UnsafeURL as exc:
            raise AuditRefused(exc.reason) from exc
        except (httpx.HTTPError, TimeoutError) as exc:
            raise AuditRefused(f"The page could not be fetched: {type(exc).__name__}") from exc
        return parse_page(fetched)

    async def link_status(self, url: str) -> int | str:
        # The body is read to its end when it is small, so the connection goes back to the
        # client's pool and the next link of the same site reuses it (keep-alive); a bigger
        # one is cut, and its connection closed.
        try:
            page = await self.get(url, seconds=LINK_TIMEOUT_SECONDS, max_body=LINK_MAX_BYTES)
        except UnsafeURL as exc:
            return f"refused: {exc.reason}"
        except (httpx.HTTPError, TimeoutError) as exc:
            return type(exc).__name__
        return page.status_code

    async def site(self, facts: PageFacts, sitemaps: list[str]) -> SiteFacts:
        parts = urlsplit(facts.url)
        sitemap_url = sitemaps[0] if sitemaps else f"{parts.scheme}://{parts.netloc}/sitemap.xml"
        status = await self.link_status(sitemap_url)
        links = (facts.internal_links + facts.external_links)[:MAX_LINKS_CHECKED]
        gate = asyncio.Semaphore(LINK_CONCURRENCY)

        async def check(link: str) -> tuple[str, int | str]:
            async with gate:
                return link, await self.link_status(link)

        statuses = await asyncio.gather(*(check(link) for link in links))
        broken = [
            {"url": link, "status": status}
            for link, status in statuses
            if not (isinstance(status, int) and status < 400)
        ]
        return SiteFacts(
            sitemap_url=sitemap_url,
            sitemap_found=status == 200,
            broken_links=broken,
            links_checked=len(links),
        )


def topic_gaps(facts: PageFacts, competitors: Sequence[PageFacts]) -> list[dict[str, Any]]:
    """By embeddings when the bundled model loads, by TF-IDF otherwise; each recommendation
    names its method."""
    from saas_server.marketing import embeddings

    if competitors and embeddings.available():
        return embedding_topic_recommendations(facts, competitors)
    return topic_recommendations(facts, competitors)


async def audit_page(
    fetcher: Fetcher, url: str, keywords: Sequence[str], competitors: Sequence[str]
) -> dict[str, Any]:
    """The whole audit: the report stored on the audit row."""
    robots, sitemaps = await fetcher.robots(url)
    if robots is not None and not robots.can_fetch(USER_AGENT, url):
        raise AuditRefused("robots.txt disallows this page for the audit's user agent")
    facts = await fetcher.page(url)
    site = await fetcher.site(facts, sitemaps)
    results = run_checks(facts, site, keywords)
    competitor_facts: list[PageFacts] = []
    competitor_reports: list[dict[str, Any]] = []
    for competitor in competitors:
        try:
            theirs = await fetcher.page(competitor)
        except AuditRefused as exc:
            competitor_reports.append({"url": competitor, "error": str(exc)})
            continue
        competitor_facts.append(theirs)
        their_results = run_checks(theirs, SiteFacts(None, False, [], 0), keywords)
        competitor_reports.append(
            {
                "url": theirs.url,
                "score": score([r for r in their_results if r.check != "sitemap"]),
                "keyword_coverage": keyword_coverage(theirs, keywords),
                "page": theirs.public(),
            }
        )
    # The model's arithmetic is CPU work: off the event loop.
    gaps = await asyncio.to_thread(topic_gaps, facts, competitor_facts)
    recommendations = ranked(
        rule_recommendations(results)
        + competitor_recommendations(facts, competitor_facts, keywords)
        + gaps
    )
    return {
        "score": score(results),
        "page": facts.public(),
        "checks": [r.public() for r in results],
        "findings": [r.public() for r in results if not r.passed],
        "keyword_coverage": keyword_coverage(facts, keywords),
        "competitors": competitor_reports,
        "recommendations": recommendations,
        "score_formula": SCORE_FORMULA,
    }
