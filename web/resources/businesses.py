"""Operators' business endpoints: list, rotate a key, disable (admin token only)."""
from __future__ import annotations

import falcon

from prosaas.businesses import businesses, disable, rotate_key
from web.spec import api


def _no_business(business_id: int):
    return falcon.HTTPNotFound(title="Not found", description=f"No business {business_id}.")


class Businesses:
    auth = "admin"

    def __init__(self, database):
        self.database = database

    @api.validate(tags=["ops"])
    def on_get(self, req, resp):
        """Every business: id, name, timezone, api_key_prefix, created_at, disabled, disabled_at."""
        resp.media = {"businesses": businesses(self.database)}


class BusinessKeyRotation:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(tags=["ops"])
    def on_post(self, req, resp, business_id: int):
        """A new API key, shown once in `{"business_id", "api_key"}`; the old key stops working."""
        key = rotate_key(self.runtime, business_id)
        if key is None:
            raise _no_business(business_id)
        resp.media = {"business_id": business_id, "api_key": key}


class BusinessDisable:
    auth = "admin"

    def __init__(self, runtime):
        self.runtime = runtime

    @api.validate(tags=["ops"])
    def on_post(self, req, resp, business_id: int):
        """Refuse the business's key (401) and cancel its jobs that have not started."""
        business = disable(self.runtime, business_id)
        if business is None:
            raise _no_business(business_id)
        resp.media = business
