"""The documents the browser SDKs fetch before they send anything, as leadcrm serves them.

Pure: no ORM, no request. Each is the smallest document the library accepts, read in its own
source (the versions pinned in tests/js/package.json), and each points the library at nothing
but leadcrm: no device-mode destinations, no remote plugins, no metrics sent elsewhere.
"""

from urllib.parse import urlsplit


def segment_api_host(site_url: str) -> tuple[str, str]:
    """(apiHost, protocol) for analytics-next from leadcrm's public URL: it posts each call to
    `<protocol>://<apiHost>/<t|i|p|s|g|a>` and batches to `.../b`, so apiHost ends in /v1."""
    parts = urlsplit(site_url)
    return f"{parts.netloc}{parts.path.rstrip('/')}/v1", parts.scheme


def segment_settings(*, write_key: str, site_url: str) -> dict:
    """Segment's CDN settings (`<cdnURL>/v1/projects/<writeKey>/settings`) for analytics-next.

    Only the "Segment.io" integration (the library's own delivery plugin, pointed at leadcrm):
    one integration means no device-mode destination bundle is loaded. Remote metrics are off
    (`sampleRate: 0`); they would otherwise go to `<apiHost>/m` every 30 s.
    """
    api_host, protocol = segment_api_host(site_url)
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": api_host,
                "protocol": protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": True,
                "maybeBundledConfigIds": {},
            }
        },
        "plan": {},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0, "host": api_host},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


def rudderstack_source_config(*, source_id: int, name: str, write_key: str) -> dict:
    """RudderStack's source configuration (`<configUrl>/sourceConfig/`) for analytics-js v3.

    The library checks `source.id`, `source.config` (an object) and `source.destinations` (a
    list: empty, so no device-mode destination is loaded from anywhere); `enabled: false` would
    make it refuse to send. Its error and metrics reporting (to `<dataPlaneUrl>/rsaMetrics`)
    stay off. The data plane URL is not in here: the page passes it to `load()`.
    """
    return {
        "isHosted": True,
        "source": {
            "id": str(source_id),
            "name": name,
            "writeKey": write_key,
            "workspaceId": "leadcrm",
            "enabled": True,
            "config": {
                "statsCollection": {
                    "errors": {"enabled": False},
                    "metrics": {"enabled": False},
                }
            },
            "destinations": [],
        },
    }
