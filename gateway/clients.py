"""Who the client is, for rate limits and lock-outs: the browser's address, not a proxy's."""

import hmac

from services.chassis import config


def client_address(request) -> str:
    """The portal speaks for browsers and proves it with its key (``config.PORTAL_KEY_HEADER``):
    then the client is the last address of X-Forwarded-For, which the portal wrote. Behind N
    trusted proxies (OPENCOO_TRUSTED_PROXIES=N) it is the Nth address from the right. Otherwise
    the socket's peer: a forged header must not choose its own limit."""
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    sent_key = request.headers.get(config.PORTAL_KEY_HEADER)
    if sent_key and forwarded and hmac.compare_digest(sent_key.encode(), config.portal_key().encode()):
        return forwarded[-1]
    hops = int(config.env("OPENCOO_TRUSTED_PROXIES", "0"))
    if hops > 0 and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.remote_addr or "unknown"
