"""The documented HTTP APIs of `platforms.PlatformWorld`: feeds, YouTube Data API v3, X API v2,
the TikTok Research API.

Shapes, status codes and error bodies follow each platform's reference: YouTube's
`{"error": {"code", "message", "errors": [{"reason", "domain"}]}}` (quotaExceeded,
playlistNotFound, playlistItemsNotAccessible, keyInvalid), X's `errors` array with problem
`type` URIs beside a 200 (resource-not-found, not-authorized-for-resource) and its 401/429
problem bodies, TikTok's `{"data", "error": {"code", "message", "log_id"}}` (ok,
invalid_params, access_token_invalid, rate_limit_exceeded), RSS 2.0 with ETag / If-None-Match.
"""

import asyncio
import base64
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from .platforms import Account, PlatformWorld, Post, Status

_PLATFORM_OF_PATH = re.compile(r"^/(youtube|2|v2|v\d+\.\d+|feeds)/")
_PLATFORMS = {"youtube": "youtube", "2": "x", "v2": "tiktok", "feeds": "web"}
X_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
X_NOT_AUTHORIZED = "https://api.twitter.com/2/problems/not-authorized-for-resource"


def routes(world: PlatformWorld) -> list[web.RouteDef]:
    return [
        web.get("/feeds/{name}.xml", _bind(world, _feed)),
        web.get("/youtube/v3/channels", _bind(world, _yt_channels)),
        web.get("/youtube/v3/playlistItems", _bind(world, _yt_playlist_items)),
        web.get("/youtube/v3/videos", _bind(world, _yt_videos)),
        web.get("/2/users/by/username/{username}", _bind(world, _x_user)),
        web.get("/2/users/{id}/tweets", _bind(world, _x_tweets)),
        web.post("/v2/oauth/token/", _bind(world, _tiktok_token)),
        web.post("/v2/research/video/query/", _bind(world, _tiktok_videos)),
        web.get(r"/{version:v\d+\.\d+}/{node}/posts", _bind(world, _graph_posts)),
        web.get(r"/{version:v\d+\.\d+}/{node}", _bind(world, _graph_node)),
    ]


def _bind(
    world: PlatformWorld, handler: Callable[[PlatformWorld, web.Request], Awaitable[web.Response]]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        if world.latency_s:
            await asyncio.sleep(world.latency_s)
        platform = _PLATFORM_OF_PATH.match(request.path)
        if platform is not None and world.down(_PLATFORMS.get(platform.group(1), "graph")):
            return web.Response(status=503, text="Service Unavailable", headers={"Retry-After": "120"})
        return await handler(world, request)

    return handle


# Feeds.


async def _feed(world: PlatformWorld, request: web.Request) -> web.Response:
    world.count("feed")
    account = world.by_id("web", request.match_info["name"])
    if account is None or account.status == Status.GONE:
        return web.Response(status=410 if account else 404, text="Gone")
    if account.status == Status.PRIVATE:
        return web.Response(status=403, text="Forbidden")
    items = "".join(
        f"<item><title>{escape(p.text.split(chr(10))[0][:80])}</title>"
        f"<link>https://{account.handle}.example/{p.post_id}</link>"
        f'<guid isPermaLink="false">{p.post_id}</guid>'
        f"<description>{escape(p.text)}</description>"
        f"<pubDate>{format_datetime(p.posted_at, usegmt=True)}</pubDate></item>"
        for p in account.newest_first()[:50]
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(account.handle)}</title><link>https://{account.handle}.example/</link>"
        f"<description>{escape(account.handle)}</description>{items}</channel></rss>"
    )
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    return web.Response(text=body, content_type="application/rss+xml", headers={"ETag": etag})


# YouTube Data API v3.


def _yt_error(status: int, reason: str, message: str, domain: str = "youtube.api") -> web.Response:
    return web.json_response(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        },
        status=status,
    )


def _yt_gate(world: PlatformWorld, request: web.Request, endpoint: str) -> web.Response | None:
    world.count(f"youtube.{endpoint}")
    key = request.query.get("key", "")
    if key not in world.youtube_keys:
        return _yt_error(400, "keyInvalid", "API key not valid. Please pass a valid API key.", "global")
    allowed, _, _ = world.youtube_quota.take(key, 1, world.clock())
    if not allowed or world.forced_limit("youtube"):
        return _yt_error(
            403,
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your quota.",
            "youtube.quota",
        )
    return None


def _channel(account: Account) -> dict[str, Any]:
    return {
        "kind": "youtube#channel",
        "id": account.account_id,
        "snippet": {"title": account.handle, "customUrl": "@" + account.handle},
        "contentDetails": {"relatedPlaylists": {"uploads": "UU" + account.account_id[2:]}},
        "statistics": {"subscriberCount": str(account.followers), "videoCount": str(len(account.posts))},
    }


async def _yt_channels(world: PlatformWorld, request: web.Request) -> web.Response:
    if (refused := _yt_gate(world, request, "channels")) is not None:
        return refused
    if "forHandle" in request.query:
        account = world.by_handle("youtube", request.query["forHandle"])
    else:
        account = world.by_id("youtube", request.query.get("id", ""))
    found = [_channel(account)] if account is not None and account.status != Status.GONE else []
    body: dict[str, Any] = {
        "kind": "youtube#channelListResponse",
        "pageInfo": {"totalResults": len(found), "resultsPerPage": 5},
    }
    if found:
        body["items"] = found
    return web.json_response(body)


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")[1])
    except (ValueError, IndexError):
        return -1


async def _yt_playlist_items(world: PlatformWorld, request: web.Request) -> web.Response:
    if (refused := _yt_gate(world, request, "playlistItems")) is not None:
        return refused
    playlist = request.query.get("playlistId", "")
    account = world.by_id("youtube", "UC" + playlist[2:]) if playlist.startswith("UU") else None
    if account is None or account.status == Status.GONE:
        return _yt_error(
            404,
            "playlistNotFound",
            "The playlist identified with the request's playlistId parameter cannot be found.",
        )
    if account.status == Status.PRIVATE:
        return _yt_error(
            403,
            "playlistItemsNotAccessible",
            "The request is not properly authorized to retrieve the specified playlist.",
        )
    size = min(50, max(0, int(request.query.get("maxResults", "5"))))
    start = _offset(request.query["pageToken"]) if "pageToken" in request.query else 0
    if start < 0:
        return _yt_error(400, "invalidPageToken", "The request specifies an invalid page token.")
    posts = account.newest_first()
    page = posts[start : start + size]
    body: dict[str, Any] = {
        "kind": "youtube#playlistItemListResponse",
        "pageInfo": {"totalResults": len(posts), "resultsPerPage": size},
        "items": [_playlist_item(account, playlist, p, start + i) for i, p in enumerate(page)],
    }
    if start + size < len(posts):
        body["nextPageToken"] = _page_token(start + size)
    if start > 0:
        body["prevPageToken"] = _page_token(max(0, start - size))
    return web.json_response(body)


def _playlist_item(account: Account, playlist: str, post: Post, position: int) -> dict[str, Any]:
    title, _, description = post.text.partition("\n")
    published = _zulu(post.posted_at)
    return {
        "kind": "youtube#playlistItem",
        "id": base64.urlsafe_b64encode(f"{playlist}.{post.post_id}".encode()).decode(),
        "snippet": {
            "publishedAt": published,
            "channelId": account.account_id,
            "title": title,
            "description": description,
            "playlistId": playlist,
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": post.post_id},
        },
        "contentDetails": {"videoId": post.post_id, "videoPublishedAt": published},
    }


async def _yt_videos(world: PlatformWorld, request: web.Request) -> web.Response:
    if (refused := _yt_gate(world, request, "videos")) is not None:
        return refused
    found = (world.posts.get(video) for video in request.query.get("id", "").split(","))
    items = [
        {"kind": "youtube#video", "id": post.post_id, "statistics": {"viewCount": str(post.views)}}
        for account, post in (f for f in found if f is not None)
        if account.platform == "youtube" and account.status == Status.ACTIVE
    ]
    return web.json_response({"kind": "youtube#videoListResponse", "items": items})


# X API v2.


def _x_problem(status: int, title: str, headers: dict[str, str]) -> web.Response:
    return web.json_response(
        {"title": title, "detail": title, "type": "about:blank", "status": status},
        status=status,
        headers=headers,
    )


def _x_gate(
    world: PlatformWorld, request: web.Request, endpoint: str
) -> tuple[web.Response | None, dict[str, str]]:
    world.count(f"x.{endpoint}")
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token not in world.x_tokens:
        return _x_problem(401, "Unauthorized", {}), {}
    allowed, remaining, reset = world.x_quota.take(token + endpoint, 1, world.clock())
    headers = {
        "x-rate-limit-limit": str(world.x_quota.limit),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(int(reset)),
    }
    if not allowed or world.forced_limit("x"):
        return _x_problem(429, "Too Many Requests", headers), headers
    return None, headers


def _x_errors(kind: str, detail: str, value: str, headers: dict[str, str]) -> web.Response:
    title = "Not Found Error" if kind == X_NOT_FOUND else "Authorization Error"
    error = {"value": value, "detail": detail, "title": title, "resource_type": "user", "type": kind}
    return web.json_response({"errors": [error]}, headers=headers)


async def _x_user(world: PlatformWorld, request: web.Request) -> web.Response:
    refused, headers = _x_gate(world, request, "users.by.username")
    if refused is not None:
        return refused
    username = request.match_info["username"]
    account = world.by_handle("x", username)
    if account is None:
        detail = f"Could not find user with username: [{username}]."
        return _x_errors(X_NOT_FOUND, detail, username, headers)
    data = {
        "id": account.account_id,
        "name": account.handle,
        "username": account.handle,
        "protected": account.status == Status.PRIVATE,
        "public_metrics": {"followers_count": account.followers, "tweet_count": len(account.posts)},
    }
    return web.json_response({"data": data}, headers=headers)


async def _x_tweets(world: PlatformWorld, request: web.Request) -> web.Response:
    refused, headers = _x_gate(world, request, "users.tweets")
    if refused is not None:
        return refused
    user_id, query = request.match_info["id"], request.query
    account = world.by_id("x", user_id)
    if account is None or account.status == Status.GONE:
        return _x_errors(X_NOT_FOUND, f"Could not find user with id: [{user_id}].", user_id, headers)
    if account.status == Status.PRIVATE:
        detail = f"Sorry, you are not authorized to see the user with id: [{user_id}]."
        return _x_errors(X_NOT_AUTHORIZED, detail, user_id, headers)
    size = min(100, max(5, int(query.get("max_results", "10"))))
    posts = account.newest_first()
    if "since_id" in query:
        posts = [p for p in posts if int(p.post_id) > int(query["since_id"])]
    if "until_id" in query:
        posts = [p for p in posts if int(p.post_id) < int(query["until_id"])]
    if "start_time" in query:
        start = datetime.fromisoformat(query["start_time"].replace("Z", "+00:00"))
        posts = [p for p in posts if p.posted_at >= start]
    if "pagination_token" in query:
        below = int(query["pagination_token"], 16)
        posts = [p for p in posts if int(p.post_id) < below]
    page = posts[:size]
    if not page:
        return web.json_response({"meta": {"result_count": 0}}, headers=headers)
    meta: dict[str, Any] = {
        "result_count": len(page),
        "newest_id": page[0].post_id,
        "oldest_id": page[-1].post_id,
    }
    if len(posts) > size:
        meta["next_token"] = format(int(page[-1].post_id), "x")
    data = [
        {
            "id": p.post_id,
            "text": p.text,
            "created_at": _zulu(p.posted_at, millis=True),
            "author_id": account.account_id,
            "edit_history_tweet_ids": [p.post_id],
            "public_metrics": {
                "impression_count": p.views,
                "like_count": 0,
                "retweet_count": 0,
                "reply_count": 0,
            },
        }
        for p in page
    ]
    users = [{"id": account.account_id, "name": account.handle, "username": account.handle}]
    return web.json_response({"data": data, "includes": {"users": users}, "meta": meta}, headers=headers)


# TikTok Research API.


def _tiktok_error(status: int, code: str, message: str) -> web.Response:
    body = {"data": {}, "error": {"code": code, "message": message, "log_id": "202402110300000000"}}
    return web.json_response(body, status=status)


async def _tiktok_token(world: PlatformWorld, request: web.Request) -> web.Response:
    world.count("tiktok.token")
    form = await request.post()
    key, secret = str(form.get("client_key", "")), str(form.get("client_secret", ""))
    if form.get("grant_type") != "client_credentials" or world.tiktok_clients.get(key) != secret:
        body = {
            "error": "invalid_client",
            "error_description": "Client key or secret is invalid.",
            "log_id": "1",
        }
        return web.json_response(body, status=401)
    token = "clt." + hashlib.sha256(f"{key}:{world.clock().timestamp()}".encode()).hexdigest()[:32]
    world.tiktok_tokens.add(token)
    return web.json_response({"access_token": token, "expires_in": 7200, "token_type": "Bearer"})


async def _tiktok_videos(world: PlatformWorld, request: web.Request) -> web.Response:
    world.count("tiktok.video.query")
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token not in world.tiktok_tokens:
        return _tiktok_error(
            401, "access_token_invalid", "The access token is invalid or not found in the request."
        )
    allowed, _, _ = world.tiktok_quota.take(token[:8], 1, world.clock())
    if not allowed or world.forced_limit("tiktok"):
        return _tiktok_error(429, "rate_limit_exceeded", "API rate limit exceeded: daily quota reached.")
    try:
        body = await request.json()
        clause = body["query"]["and"][0]
        start = datetime.strptime(body["start_date"], "%Y%m%d").replace(tzinfo=world.clock().tzinfo)
        end = datetime.strptime(body["end_date"], "%Y%m%d").replace(tzinfo=world.clock().tzinfo)
    except (ValueError, KeyError, IndexError, TypeError):
        return _tiktok_error(
            400, "invalid_params", "Invalid parameters: query, start_date and end_date are required."
        )
    if end < start or (end - start).days > 29:
        return _tiktok_error(
            400, "invalid_params", "The end_date must be no more than 30 days after the start_date."
        )
    wanted = {str(v).lower() for v in clause.get("field_values", [])}
    videos = [
        (account, post)
        for account in world.accounts.values()
        if account.platform == "tiktok" and account.handle in wanted and account.status == Status.ACTIVE
        for post in account.newest_first()
        if start.date() <= post.posted_at.date() <= end.date()
    ]
    offset, size = int(body.get("cursor", 0)), min(100, int(body.get("max_count", 20)))
    page = videos[offset : offset + size]
    data = {
        "videos": [
            {
                "id": int(post.post_id),
                "username": account.handle,
                "create_time": int(post.posted_at.timestamp()),
                "video_description": post.text,
                "view_count": post.views,
                "share_count": 0,
            }
            for account, post in page
        ],
        "cursor": offset + len(page),
        "has_more": offset + size < len(videos),
        "search_id": body.get("search_id") or "7201388525814961198",
    }
    return web.json_response({"data": data, "error": {"code": "ok", "message": "", "log_id": "1"}})


# Graph API (Facebook Pages, Instagram business discovery).


def _graph_error(status: int, code: int, message: str, subcode: int | None = None) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Ab1"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return web.json_response({"error": error}, status=status)


def _graph_gate(world: PlatformWorld, request: web.Request, endpoint: str) -> web.Response | None:
    world.count(f"graph.{endpoint}")
    if request.query.get("access_token") not in world.graph_tokens:
        return _graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
    if world.forced_limit("graph"):
        usage = {"1": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 5}]}
        response = _graph_error(400, 32, "Page request limit reached")
        response.headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
        return response
    return None


def _graph_missing(node: str) -> web.Response:
    message = (
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation."
    )
    return _graph_error(400, 100, message, subcode=33)


def _graph_page(request: web.Request, items: list[Post], size: int, offset: int) -> dict[str, Any]:
    page = items[offset : offset + size]
    paging: dict[str, Any] = {
        "cursors": {"before": _page_token(offset), "after": _page_token(offset + len(page))}
    }
    if offset + size < len(items):
        paging["next"] = str(request.url.update_query({"after": _page_token(offset + size)}))
    return {"page": page, "paging": paging}


async def _graph_posts(world: PlatformWorld, request: web.Request) -> web.Response:
    if (refused := _graph_gate(world, request, "posts")) is not None:
        return refused
    node = request.match_info["node"]
    account = world.by_handle("facebook", node) or world.by_id("facebook", node)
    if account is None or account.status == Status.GONE:
        return _graph_missing(node)
    if account.status == Status.PRIVATE:
        return _graph_error(403, 10, "(#10) This endpoint requires the 'pages_read_engagement' permission")
    posts = account.newest_first()
    if "since" in request.query:
        posts = [p for p in posts if p.posted_at.timestamp() >= int(request.query["since"])]
    offset = _offset(request.query["after"]) if "after" in request.query else 0
    paged = _graph_page(request, posts, min(100, int(request.query.get("limit", "25"))), offset)
    data = [
        {
            "id": f"{account.account_id}_{p.post_id}",
            "message": p.text,
            "created_time": p.posted_at.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink_url": f"https://www.facebook.com/{account.handle}/posts/{p.post_id}",
            "shares": {"count": p.views},
        }
        for p in paged["page"]
    ]
    return web.json_response({"data": data, "paging": paged["paging"]})


_DISCOVERY = re.compile(
    r"business_discovery\.username\(([^)]+)\)\{followers_count,media\.limit\((\d+)\)(?:\.after\(([^)]+)\))?"
)


async def _graph_node(world: PlatformWorld, request: web.Request) -> web.Response:
    if (refused := _graph_gate(world, request, "business_discovery")) is not None:
        return refused
    if request.match_info["node"] != world.instagram_user_id:
        return _graph_missing(request.match_info["node"])
    found = _DISCOVERY.match(request.query.get("fields", ""))
    if found is None:
        return _graph_error(400, 100, "(#100) Tried accessing nonexisting field")
    username, size, after = found.group(1), int(found.group(2)), found.group(3)
    account = world.by_handle("instagram", username)
    if account is None:
        return _graph_error(400, 110, f"Invalid user id: no business account named {username}")
    if account.status == Status.PRIVATE:
        return _graph_error(400, 10, "(#10) Business discovery is only available for professional accounts")
    offset = _offset(after) if after else 0
    posts = account.newest_first()
    page = posts[offset : offset + size]
    paging: dict[str, Any] = {"cursors": {"after": _page_token(offset + len(page))}}
    if offset + size < len(posts):
        paging["next"] = "https://graph.facebook.com/next"
    media = [
        {
            "id": p.post_id,
            "caption": p.text,
            "timestamp": p.posted_at.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink": f"https://www.instagram.com/p/{p.post_id}/",
            "like_count": p.views,
            "comments_count": 0,
        }
        for p in page
    ]
    discovery = {
        "followers_count": account.followers,
        "media": {"data": media, "paging": paging},
        "id": account.account_id,
    }
    return web.json_response({"business_discovery": discovery, "id": world.instagram_user_id})


def _zulu(moment: datetime, *, millis: bool = False) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{moment.microsecond // 1000:03d}Z" if millis else "Z")
