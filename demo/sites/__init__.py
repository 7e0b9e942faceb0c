"""The eight demo sites. Each module has a site class built from a :class:`SiteContext`
(``.title``, ``.handle(request) -> Response | None``) and a ``truth(base)`` function listing
its ads and look-alikes for ``demo/content/truth.json``.
"""

from __future__ import annotations

from demo.routing import SiteContext
from demo.sites import app_api, classifieds, forum, hospital, jsapp, news, portal, yellowpages

__all__ = ["SITES", "TRAP_FUNCTIONS", "TRUTH_FUNCTIONS", "SiteContext"]

# (name, port offset, site class); offsets are fixed: sources/*.yaml depend on them.
SITES = [
    ("classifieds", 0, classifieds.ClassifiedsSite),
    ("forum", 1, forum.ForumSite),
    ("portal", 2, portal.PortalSite),
    ("app", 3, app_api.AppApiSite),
    ("yellowpages", 4, yellowpages.YellowPagesSite),
    ("jsapp", 5, jsapp.JsAppSite),
    ("news", 6, news.NewsSite),
    ("hospital", 7, hospital.HospitalSite),
]

TRUTH_FUNCTIONS = {
    "classifieds": classifieds.truth,
    "forum": forum.truth,
    "portal": portal.truth,
    "app": app_api.truth,
    "yellowpages": yellowpages.truth,
    "jsapp": jsapp.truth,
    "news": news.truth,
    "hospital": hospital.truth,
}

# Sites with traps beyond robots.txt/private (which every site has).
TRAP_FUNCTIONS = {
    "classifieds": classifieds.traps,
    "forum": forum.traps,
    "portal": portal.traps,
}
