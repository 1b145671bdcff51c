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

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "tvilling",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The served urban digital twin: datasets, 3D Tiles and SQL. Anonymous callers see open \
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
            "/api/datasets": { "get": {
                "tags": ["datasets"], "summary": "Datasets visible to the caller", "operationId": "listDatasets",
                "security": security(),
                "responses": {
                    "200": { "description": "The datasets", "content": { "application/json": { "schema": {
                        "type": "array", "items": { "$ref": "#/components/schemas/Dataset" } } } } },
                    "401": problem() } } },
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
