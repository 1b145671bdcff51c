//! The OpenAPI 3.0 document served at `/api/openapi.json`, describing every route of [`crate::routes`].
//!
//! Written as data here rather than derived with `utoipa`: utoipa needs `indexmap`'s `serde` feature, and
//! indexmap is shared with DataFusion, so enabling it would rebuild the query stack (see the root
//! Cargo.toml). The integration tests check that every route the router serves is in this document.

use serde_json::{Value, json};

fn problem() -> Value {
    json!({ "description": "Problem details (RFC 9457)",
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } })
}

fn dataset_param() -> Value {
    json!({ "name": "dataset", "in": "path", "required": true,
            "description": "Dataset name: lowercase letters, digits and _, starting with a letter",
            "schema": { "type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$" } })
}

fn security() -> Value {
    // Anonymous access (open data) or an API key.
    json!([{}, { "bearer": [] }, { "apiKey": [] }])
}

fn ogc_json(description: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": { "type": "object" } },
                         "text/html": { "schema": { "type": "string" } } } })
}

fn ogc_error() -> Value {
    json!({ "description": "OGC API error: `code` and `description` (plus RFC 9457 `status` and `detail`)",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OgcError" } } } })
}

fn f_param() -> Value {
    json!({ "name": "f", "in": "query", "required": false, "description": "Answer as json or html (else by Accept)",
            "schema": { "type": "string", "enum": ["json", "html"] } })
}

fn crs_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description,
            "schema": { "type": "string", "format": "uri",
                        "default": "http://www.opengis.net/def/crs/OGC/1.3/CRS84" } })
}

fn properties_param() -> Value {
    json!({ "name": "properties", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "Only these properties (the id and the geometry always come)",
            "schema": { "type": "array", "items": { "type": "string" } } })
}

/// The OGC API Features paths (`/ogcapi/…`).
fn ogcapi_paths() -> Value {
    let features = json!({ "description": "GeoJSON features; `Content-Crs` names their CRS",
        "headers": { "Content-Crs": { "schema": { "type": "string" } } },
        "content": { "application/geo+json": { "schema": { "type": "object" } },
                     "text/html": { "schema": { "type": "string" } } } });
    json!({
        "/ogcapi": { "get": {
            "tags": ["ogcapi"], "summary": "OGC API Features landing page", "operationId": "ogcLanding",
            "security": security(), "parameters": [f_param()],
            "responses": { "200": ogc_json("Links to the API definition, conformance and collections"), "400": ogc_error() } } },
        "/ogcapi/conformance": { "get": {
            "tags": ["ogcapi"], "summary": "Conformance classes implemented", "operationId": "ogcConformance",
            "security": security(), "parameters": [f_param()],
            "responses": { "200": ogc_json("conformsTo: the class URIs"), "400": ogc_error() } } },
        "/ogcapi/collections": { "get": {
            "tags": ["ogcapi"], "summary": "Collections: the datasets the caller may read", "operationId": "ogcCollections",
            "security": security(), "parameters": [f_param()],
            "responses": { "200": ogc_json("The collections, with extent, crs and storageCrs"), "400": ogc_error() } } },
        "/ogcapi/collections/{dataset}": { "get": {
            "tags": ["ogcapi"], "summary": "One collection", "operationId": "ogcCollection",
            "security": security(), "parameters": [dataset_param(), f_param()],
            "responses": { "200": ogc_json("The collection"), "400": ogc_error(), "404": ogc_error() } } },
        "/ogcapi/collections/{dataset}/queryables": { "get": {
            "tags": ["ogcapi"], "summary": "Properties filters may name (JSON Schema)", "operationId": "ogcQueryables",
            "security": security(), "parameters": [dataset_param(), f_param()],
            "responses": { "200": { "description": "JSON Schema",
                    "content": { "application/schema+json": { "schema": { "type": "object" } } } },
                "400": ogc_error(), "404": ogc_error() } } },
        "/ogcapi/collections/{dataset}/items": { "get": {
            "tags": ["ogcapi"], "summary": "Features, filtered and paged", "operationId": "ogcItems",
            "description": "Any queryable is also a parameter: ?andamal=Bostad filters on equality. Pages are ordered by id;                             follow the `next` link until there is none.",
            "security": security(),
            "parameters": [dataset_param(), f_param(),
                { "name": "limit", "in": "query", "required": false, "description": "Features per page (at most 10000 and server.sql_row_limit)",
                  "schema": { "type": "integer", "minimum": 1, "maximum": 10000, "default": 10 } },
                { "name": "offset", "in": "query", "required": false, "description": "Features to skip (the next/prev links set it)",
                  "schema": { "type": "integer", "minimum": 0, "default": 0 } },
                { "name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                  "description": "4 or 6 numbers in bbox-crs axis order",
                  "schema": { "type": "array", "minItems": 4, "maxItems": 6, "items": { "type": "number" } } },
                crs_param("bbox-crs", "CRS of bbox"),
                { "name": "datetime", "in": "query", "required": false,
                  "description": "Instant, interval a/b, ../b or a/.. against the collection's first date or timestamp column",
                  "schema": { "type": "string" } },
                crs_param("crs", "CRS of the answer (one of the collection's crs list)"),
                { "name": "filter", "in": "query", "required": false, "description": "CQL2 filter", "schema": { "type": "string" } },
                { "name": "filter-lang", "in": "query", "required": false,
                  "schema": { "type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text" } },
                crs_param("filter-crs", "CRS of geometries in the filter"),
                { "name": "sortby", "in": "query", "required": false, "style": "form", "explode": false,
                  "description": "Sort keys: queryables, each optionally prefixed with + (ascending) or - (descending); the id breaks ties",
                  "schema": { "type": "array", "items": { "type": "string", "pattern": "^[+-]?[^,]+$" } } },
                properties_param()],
            "responses": { "200": features.clone(), "400": ogc_error(), "404": ogc_error() } } },
        "/ogcapi/collections/{dataset}/items/{featureId}": { "get": {
            "tags": ["ogcapi"], "summary": "One feature", "operationId": "ogcItem",
            "security": security(),
            "parameters": [dataset_param(),
                { "name": "featureId", "in": "path", "required": true, "schema": { "type": "string" } },
                f_param(), crs_param("crs", "CRS of the answer"), properties_param()],
            "responses": { "200": features, "400": ogc_error(), "404": ogc_error() } } }
    })
}

fn sta_json(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "type": "object" } } } })
}

/// The IoT paths: batch ingest, the live feed and SensorThings API 1.1 (`/sta/v1.1/…`, docs/iot.md).
fn iot_paths() -> Value {
    let odata = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema });
    let string = json!({ "type": "string" });
    json!({
        "/api/iot/observations": { "post": {
            "tags": ["iot"], "summary": "Append readings (durable in the write-ahead log before the answer, idempotent by datastream and time)",
            "operationId": "iotObservations", "security": [{ "bearer": [] }, { "apiKey": [] }],
            "requestBody": { "required": true, "content": {
                "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Reading" } } },
                "application/x-ndjson": { "schema": { "type": "string" } },
                "application/vnd.apache.arrow.stream": { "schema": { "type": "string", "format": "binary",
                    "description": "Arrow IPC stream with columns datastream (integer), time (timestamp, UTC), result (number), resultQuality (text, optional)" } } } },
            "responses": { "200": { "description": "Written and duplicate counts, and the store's version of the observations (the readings reach it at the next flush)",
                    "content": { "application/json": { "schema": { "type": "object", "properties": {
                        "written": { "type": "integer" }, "duplicates": { "type": "integer" },
                        "version": { "type": "integer", "nullable": true } } } } } },
                "400": problem(), "401": problem(), "404": problem(), "413": problem() } } },
        "/api/iot/live": { "get": {
            "tags": ["iot"], "summary": "Committed readings as Server-Sent Events (`observation` events)",
            "operationId": "iotLive", "security": security(),
            "parameters": [
                odata("datastream", "Only these Datastream ids, comma separated", string.clone()),
                odata("bbox", "minlon,minlat,maxlon,maxlat (WGS 84) around the Things' Locations", string.clone())],
            "responses": { "200": { "description": "An endless event stream",
                    "content": { "text/event-stream": { "schema": { "type": "string" } } } },
                "400": problem(), "404": problem() } } },
        "/api/iot/latest": { "get": {
            "tags": ["iot"], "summary": "Every visible Datastream with its newest reading (from memory, no scan)",
            "operationId": "iotLatest", "security": security(),
            "responses": { "200": { "description": "datastream, name, thing, property, unit, lon, lat, height, time, result per Datastream",
                    "content": { "application/json": { "schema": { "type": "array", "items": { "type": "object" } } } } },
                "404": problem() } } },
        "/api/iot/aggregates": { "get": {
            "tags": ["iot"], "summary": "Time-bucket aggregates of one ObservedProperty over groups of Things",
            "description": "Cells with fewer Datastreams than server.iot.min_group_size are withheld (counted in `suppressed`); \
                            the only view of personal readings for callers not cleared for restricted data.",
            "operationId": "iotAggregates", "security": security(),
            "parameters": [
                odata("property", "The ObservedProperty's @iot.id (required)", json!({ "type": "integer" })),
                odata("bucket", "Bucket width", json!({ "type": "string", "enum": ["minute", "hour", "day", "week"], "default": "hour" })),
                odata("group", "A Thing property whose values form the groups (default: one group)", string.clone()),
                odata("from", "Readings at or after (RFC 3339)", json!({ "type": "string", "format": "date-time" })),
                odata("to", "Readings before (RFC 3339)", json!({ "type": "string", "format": "date-time" }))],
            "responses": { "200": sta_json("cells (group, bucket, datastreams, count, mean, min, max), suppressed, truncated"),
                "400": problem(), "404": problem() } } },
        "/sta/v1.1": { "get": {
            "tags": ["sensorthings"], "summary": "SensorThings service root: entity sets and conformance",
            "operationId": "staRoot", "security": security(),
            "responses": { "200": sta_json("value: the entity sets; serverSettings") } } },
        "/sta/v1.1/{path}": {
            "parameters": [{ "name": "path", "in": "path", "required": true,
                "description": "An entity set (Things, Locations, Sensors, ObservedProperties, Datastreams, Observations,                                 FeaturesOfInterest), one entity Set(id), or a navigation Set(id)/Nav",
                "schema": { "type": "string" } }],
            "get": {
                "tags": ["sensorthings"], "summary": "Read entities with the OData query options",
                "operationId": "staRead", "security": security(),
                "parameters": [
                    odata("$top", "Entities per page (default 100, at most 10000)", json!({ "type": "integer", "minimum": 0 })),
                    odata("$skip", "Entities to skip", json!({ "type": "integer", "minimum": 0 })),
                    odata("$count", "Add @iot.count", json!({ "type": "boolean" })),
                    odata("$orderby", "e.g. phenomenonTime desc", string.clone()),
                    odata("$select", "Properties to return", string.clone()),
                    odata("$filter", "OData filter, e.g. result gt 20 and phenomenonTime ge 2026-01-01T00:00:00Z", string.clone()),
                    odata("$expand", "e.g. Observations($top=1;$orderby=phenomenonTime desc)", string)],
                "responses": { "200": sta_json("An entity, or a collection with value, @iot.count and @iot.nextLink"),
                    "400": problem(), "404": problem() } },
            "post": {
                "tags": ["sensorthings"], "summary": "Create Things (deep insert of Locations and Datastreams) or Observations",
                "operationId": "staCreate", "security": [{ "bearer": [] }, { "apiKey": [] }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
                "responses": { "201": sta_json("The created entity; Location names its URL"),
                    "400": problem(), "401": problem(), "404": problem() } } }
    })
}

/// The document.
pub fn document() -> Value {
    let mut doc = base_document();
    for extra in [ogcapi_paths(), iot_paths()] {
        if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), extra) {
            paths.extend(more);
        }
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.insert(
            "Reading".into(),
            json!({ "type": "object", "required": ["datastream", "time", "result"], "properties": {
                "datastream": { "type": "integer", "description": "The Datastream's @iot.id" },
                "time": { "type": "string", "format": "date-time", "description": "phenomenonTime (RFC 3339)" },
                "result": { "type": "number" },
                "resultQuality": { "type": "string" } } }),
        );
    }
    doc
}

fn base_document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "tvilling",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The served urban digital twin: datasets, 3D Tiles, SQL and OGC API Features. Anonymous callers see open \
                            datasets only; API keys (`tvilling apikey create --role ROLE`) see internal or \
                            restricted ones by role.",
            "license": { "name": "Apache-2.0" }
        },
        "paths": {
            "/healthz": { "get": {
                "tags": ["operations"], "summary": "Liveness", "operationId": "healthz",
                "responses": { "200": { "description": "The process answers",
                    "content": { "application/json": { "schema": { "type": "object" } } } } } } },
            "/readyz": { "get": {
                "tags": ["operations"], "summary": "Readiness: the store can be read", "operationId": "readyz",
                "responses": {
                    "200": { "description": "Ready", "content": { "application/json": { "schema": { "type": "object" } } } },
                    "503": { "description": "Store unreachable or catalog loading" } } } },
            "/metrics": { "get": {
                "tags": ["operations"], "summary": "Prometheus metrics (text format 0.0.4)", "operationId": "metrics",
                "responses": { "200": { "description": "Request counts and latencies per route",
                    "content": { "text/plain": { "schema": { "type": "string" } } } } } } },
            "/api/openapi.json": { "get": {
                "tags": ["operations"], "summary": "This document", "operationId": "openapi",
                "responses": { "200": { "description": "OpenAPI 3.0 document",
                    "content": { "application/json": { "schema": { "type": "object" } } } } } } },
            "/api/viewer": { "get": {
                "tags": ["operations"], "summary": "The viewer's settings: configured base maps", "operationId": "viewerSettings",
                "responses": { "200": { "description": "server.base_layers", "content": { "application/json": { "schema": {
                    "type": "object", "required": ["base_layers"], "properties": { "base_layers": { "type": "array", "items": {
                        "type": "object", "required": ["name", "kind", "url", "layers"], "properties": {
                            "name": { "type": "string" },
                            "kind": { "type": "string", "enum": ["wms", "wmts"] },
                            "url": { "type": "string" },
                            "layers": { "type": "string" },
                            "style": { "type": "string", "nullable": true },
                            "tile_matrix_set": { "type": "string", "nullable": true },
                            "format": { "type": "string", "nullable": true },
                            "credit": { "type": "string", "nullable": true } } } } } } } } } } } },
            "/api/datasets": { "get": {
                "tags": ["datasets"], "summary": "Datasets visible to the caller", "operationId": "listDatasets",
                "security": security(),
                "responses": {
                    "200": { "description": "The datasets", "content": { "application/json": { "schema": {
                        "type": "array", "items": { "$ref": "#/components/schemas/Dataset" } } } } },
                    "401": problem() } } },
            "/api/datasets/{dataset}/versions": { "get": {
                "tags": ["datasets"], "summary": "A dataset's committed versions, newest first", "operationId": "datasetVersions",
                "security": security(), "parameters": [dataset_param()],
                "responses": {
                    "200": { "description": "The versions", "content": { "application/json": { "schema": {
                        "type": "array", "items": { "type": "object", "required": ["version", "operation"], "properties": {
                            "version": { "type": "integer" },
                            "timestamp": { "type": "string", "format": "date-time", "nullable": true },
                            "operation": { "type": "string" } } } } } } },
                    "400": problem(), "401": problem(), "404": problem() } } },
            "/api/sql": { "post": {
                "tags": ["sql"], "summary": "Run one read-only SQL statement", "operationId": "sql",
                "description": "Only the datasets the caller may read are tables. Limited by the server's SQL \
                                timeout, memory cap and row limit; a cut-off answer has X-Tvilling-Truncated: true.",
                "security": security(),
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "$ref": "#/components/schemas/SqlRequest" } } } },
                "responses": {
                    "200": {
                        "description": "The rows in the requested format",
                        "headers": {
                            "X-Tvilling-Rows": { "schema": { "type": "integer" } },
                            "X-Tvilling-Truncated": { "schema": { "type": "boolean" } } },
                        "content": {
                            "application/json": { "schema": { "type": "array", "items": { "type": "object" } } },
                            "application/geo+json": { "schema": { "type": "object" } },
                            "text/csv": { "schema": { "type": "string" } },
                            "application/vnd.apache.arrow.stream": { "schema": { "type": "string", "format": "binary" } },
                            "application/vnd.apache.parquet": { "schema": { "type": "string", "format": "binary" } } } },
                    "400": problem(), "401": problem(), "408": problem() } } },
            "/tiles/{dataset}/tileset.json": { "get": {
                "tags": ["3d-tiles"], "summary": "3D Tiles 1.1 tileset of a dataset version", "operationId": "tileset",
                "description": "Content URIs inside are relative (content/<hash>.glb). Without ?version the newest \
                                version is served (Cache-Control: no-cache); while it is being tiled the newest \
                                older tileset is served with X-Tvilling-Tiles-Pending.",
                "security": security(),
                "parameters": [ dataset_param(),
                    { "name": "version", "in": "query", "required": false,
                      "description": "A version number from `tvilling log`", "schema": { "type": "integer", "minimum": 0 } } ],
                "responses": {
                    "200": { "description": "The tileset", "headers": { "ETag": { "schema": { "type": "string" } } },
                             "content": { "application/json": { "schema": { "type": "object" } } } },
                    "304": { "description": "Not modified (If-None-Match)" },
                    "400": problem(), "404": problem(), "422": problem(),
                    "503": { "description": "Being tiled; see Retry-After",
                             "headers": { "Retry-After": { "schema": { "type": "integer" } } },
                             "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } } } } },
            "/tiles/{dataset}/content/{file}": { "get": {
                "tags": ["3d-tiles"], "summary": "Tile content (glb), named by its hash; immutable", "operationId": "tileContent",
                "security": security(),
                "parameters": [ dataset_param(),
                    { "name": "file", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-f]{8,128}\\.glb$" } } ],
                "responses": {
                    "200": { "description": "glTF binary", "content": { "model/gltf-binary": { "schema": { "type": "string", "format": "binary" } } } },
                    "304": { "description": "Not modified (If-None-Match)" },
                    "400": problem(), "404": problem() } } }
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "An API key as a bearer token" },
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" }
            },
            "schemas": {
                "OgcError": { "type": "object", "required": ["code", "description"], "properties": {
                    "code": { "type": "string" }, "description": { "type": "string" },
                    "status": { "type": "integer" }, "detail": { "type": "string" } } },
                "Problem": { "type": "object", "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" },
                    "status": { "type": "integer" }, "detail": { "type": "string" } } },
                "Dataset": { "type": "object", "required": ["name", "kind", "version", "classification", "crs"],
                    "properties": {
                        "name": { "type": "string" },
                        "kind": { "type": "string", "enum": ["vector", "pointcloud", "citymodel", "bim", "iot"] },
                        "version": { "type": "integer" },
                        "classification": { "type": "string", "enum": ["open", "internal", "restricted"] },
                        "owner": { "type": "string", "nullable": true },
                        "licence": { "type": "string", "nullable": true },
                        "crs": { "type": "string", "example": "EPSG:3006" },
                        "geometry_type": { "type": "string", "nullable": true },
                        "tileset": { "type": "string", "nullable": true, "example": "/tiles/byggnader/tileset.json" } } },
                "SqlRequest": { "type": "object", "required": ["sql"], "additionalProperties": false,
                    "properties": {
                        "sql": { "type": "string", "example": "SELECT count(*) FROM byggnader" },
                        "format": { "type": "string", "enum": ["json", "geojson", "csv", "arrow", "parquet"], "default": "json" } } }
            }
        }
    })
}
