"""Consumes tvilling's OGC API Features with OWSLib, the Python client QGIS' plugins and many scripts use,
and prints one JSON report for the Rust test (web/tests/http/owslib.rs) to assert on.

    python owslib_walk.py http://127.0.0.1:PORT/ogcapi COLLECTION PAGE_SIZE

It reads the landing page, the OpenAPI document (service-desc), conformance, the collections, one
collection, its queryables (and validates the OpenAPI document with openapi-spec-validator), walks every page of the items by following the `next` links (passing their
parameters back through OWSLib's collection_items), fetches one feature by id and a sorted page.
"""

import json
import sys
from urllib.parse import parse_qsl, urlparse

from owslib.ogcapi.features import Features


def next_params(fc):
    for link in fc.get("links", []):
        if link.get("rel") == "next":
            return dict(parse_qsl(urlparse(link["href"]).query, keep_blank_values=True))
    return None


def openapi_errors(doc):
    """The OpenAPI document's errors by openapi-spec-validator (the OpenAPI Initiative's 3.0 schema plus
    its semantic checks); None when the validator is not installed."""
    try:
        from openapi_spec_validator import OpenAPIV30SpecValidator
    except ImportError:
        return None
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in OpenAPIV30SpecValidator(doc).iter_errors()]


def main():
    url, collection, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    api = Features(url)
    openapi = api.api()
    report = {
        "landing_rels": sorted(link["rel"] for link in api.links),
        "openapi": openapi.get("openapi"),
        "openapi_errors": openapi_errors(openapi),
        "conforms_to": api.conformance()["conformsTo"],
        "collections": [c["id"] for c in api.collections()["collections"]],
        "feature_collections": api.feature_collections(),
    }
    meta = api.collection(collection)
    report["extent"] = meta.get("extent")
    report["queryables"] = sorted(api.collection_queryables(collection)["properties"])

    pages = []
    ids = []
    params = {"limit": size}
    while params is not None and len(pages) < 1000:
        fc = api.collection_items(collection, **params)
        pages.append({"numberMatched": fc["numberMatched"], "numberReturned": fc["numberReturned"],
                      "features": len(fc["features"])})
        ids.extend(str(f["id"]) for f in fc["features"])
        params = next_params(fc)
    report["pages"] = pages
    report["ids"] = ids

    one = api.collection_item(collection, ids[0])
    report["item"] = {"id": str(one["id"]), "type": one["type"], "geometry": one["geometry"]["type"]}

    sorted_fc = api.collection_items(collection, limit=size, sortby=("vaningar", "desc"))
    report["sorted_vaningar"] = [f["properties"]["vaningar"] for f in sorted_fc["features"]]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
