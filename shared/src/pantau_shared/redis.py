"""One Redis client factory for every process, named after it in `CLIENT LIST`."""

from redis.asyncio import Redis


def create_redis(url: str, *, service: str) -> Redis:
    return Redis.from_url(url, client_name=f"pantau-{service}", decode_responses=False)
