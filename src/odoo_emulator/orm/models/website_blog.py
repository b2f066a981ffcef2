"""website_blog: blogs, their posts and tags (what a public blog page reads)."""

from __future__ import annotations

from typing import Any, ClassVar

from odoo_emulator.orm import fields as F
from odoo_emulator.orm.access import EVERYONE, INTERNAL, SYSTEM
from odoo_emulator.orm.model import BaseModel

# Blog content is readable by everyone (public pages); the website designer writes it.
_ACCESS: dict[str, tuple[str, ...]] = {
    "read": (*EVERYONE, SYSTEM),
    "write": (INTERNAL, SYSTEM),
    "create": (INTERNAL, SYSTEM),
    "unlink": (INTERNAL, SYSTEM),
}


class Blog(BaseModel):
    _name = "blog.blog"
    _description = "Blog"
    _table = "blog_blog"
    _order = "name"
    _module = "website_blog"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _defaults: ClassVar[dict[str, Any]] = {"active": True}
    _field_list = [
        F.char("name", "Blog Name", required=True, translate=True),
        F.char("subtitle", "Blog Subtitle", translate=True),
        F.boolean("active", "Active"),
        F.one2many("blog_post_ids", "Blog Posts", "blog.post", "blog_id"),
    ]


class BlogTag(BaseModel):
    _name = "blog.tag"
    _description = "Blog Tag"
    _table = "blog_tag"
    _order = "name"
    _module = "website_blog"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _field_list = [F.char("name", "Name", required=True, translate=True)]


class BlogPost(BaseModel):
    _name = "blog.post"
    _description = "Blog Post"
    _table = "blog_post"
    _order = "id DESC"
    _module = "website_blog"
    _access: ClassVar[dict[str, tuple[str, ...]]] = _ACCESS
    _defaults: ClassVar[dict[str, Any]] = {"active": True, "is_published": False, "visits": 0}
    _field_list = [
        F.char("name", "Title", required=True, translate=True),
        F.char("subtitle", "Sub Title", translate=True),
        F.html("content", "Content", translate=True),
        F.text("teaser_manual", "Teaser Content", translate=True),
        F.text("teaser", "Teaser", store=False, readonly=True),
        F.many2one("blog_id", "Blog", "blog.blog", required=True),
        F.many2one("author_id", "Author", "res.partner"),
        F.many2many(
            "tag_ids", "Tags", "blog.tag", "blog_post_blog_tag_rel", "blog_post_id", "blog_tag_id"
        ),
        F.boolean("active", "Active"),
        F.boolean("is_published", "Is Published"),
        F.boolean("website_published", "Visible on current website", store=False),
        F.datetime("published_date", "Published Date"),
        F.datetime("post_date", "Publishing date", readonly=True),
        F.integer("visits", "No of Views", readonly=True),
    ]

    async def prepare_create(self, vals: dict[str, Any]) -> dict[str, Any]:
        vals["post_date"] = vals.get("published_date") or F.now_utc()
        return vals

    async def before_write(self, vals: dict[str, Any]) -> None:
        if vals.get("published_date"):
            vals["post_date"] = vals["published_date"]

    async def compute_website_published(self, ids: list[int]) -> dict[int, Any]:
        cur = await self.conn.execute(
            "SELECT id, coalesce(is_published, false) FROM blog_post WHERE id = ANY(%s)", (ids,)
        )
        return dict(await cur.fetchall())

    async def compute_teaser(self, ids: list[int]) -> dict[int, Any]:
        """The manual teaser, else the content's first 200 characters of text."""
        import re

        cur = await self.conn.execute(
            "SELECT id, teaser_manual ->> 'en_US', content ->> 'en_US' FROM blog_post"
            " WHERE id = ANY(%s)",
            (ids,),
        )
        result: dict[int, Any] = {}
        for record_id, manual, content in await cur.fetchall():
            text = manual or re.sub(r"<[^>]+>", " ", content or "")
            result[record_id] = " ".join(text.split())[:200] + ("..." if not manual else "")
        return result
