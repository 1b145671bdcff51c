//! Command-line arguments. Global options overlay the config file; see [`crate::config`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str =
    "tvilling: a versioned urban digital twin store — ingest, inspect, version and export geodata";

const LONG_ABOUT: &str = "\
tvilling keeps every dataset of an urban digital twin as a versioned Delta Lake table: each ingest is a \
commit with provenance (source, sha256, user, time) and a quality report, and every version stays readable.

Typical session:
  tvilling ingest byggnader.gpkg --dataset byggnader --classification open
  tvilling datasets
  tvilling info byggnader
  tvilling log byggnader
  tvilling export byggnader --format geoparquet --out arkiv/byggnader.parquet --version 1

Exit codes: 0 success; 1 finished with rejected items (see the quality report); 2 failed, nothing committed.

Logs go to stderr (RUST_LOG filters them, --log-format json for ETL); data goes to stdout.";

/// The `tvilling` command line.
#[derive(Debug, Parser)]
#[command(name = "tvilling", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Store root folder or file:// URL [default: ./tvilling-data]
    #[arg(long, global = true, env = "TVILLING_STORE", value_name = "URL")]
    pub store: Option<String>,

    /// Config file (TOML); ./tvilling.toml is read when present
    #[arg(long, global = true, env = "TVILLING_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log line format on stderr
    #[arg(long, global = true, env = "TVILLING_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// Log formats.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines
    #[default]
    Text,
    /// One JSON object per line, for ETL jobs and log collectors
    Json,
}

/// Output formats of the listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// A table for people
    #[default]
    Table,
    /// One JSON document on stdout, for scripts
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a source file into a dataset as a new version
    Ingest(IngestArgs),
    /// List the datasets in the store
    Datasets(DatasetsArgs),
    /// Show a dataset: schema, CRS, extent, counts, classification, version, last quality report
    Info(InfoArgs),
    /// List a dataset's versions with their provenance
    Log(LogArgs),
    /// Write a dataset version to a file (GeoParquet is the archive format) with a .sha256 beside it
    Export(ExportArgs),
    /// Change a dataset's access classification (a new version)
    Classify(ClassifyArgs),
    /// Ask the twin in SQL: PostGIS-named ST_ functions, spatial joins, table_at() time travel (read-only)
    Sql(SqlArgs),
    /// Build OGC 3D Tiles 1.1 of a dataset version (buildings from city models or extruded footprints)
    Tile(TileArgs),
    /// Compute a new dataset from stored ones (LOD1 building heights from footprints and laser points)
    #[command(subcommand)]
    Derive(DeriveCommand),
    /// Build a sample twin (a generated Swedish town with buildings, a laser scan, a BIM proposal and
    /// sensors, plus ../shared/data samples if present) and serve it
    Demo(DemoArgs),
    /// Serve the twin over HTTP: 3D Tiles, SQL, dataset listing and the viewer (docs/server.md)
    Serve(ServeArgs),
    /// Create, list and revoke API keys for the server
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Sensor collections: roll-ups and retention (gallring) of readings
    #[command(subcommand)]
    Iot(IotCommand),
    /// Show the merged configuration or its JSON Schema
    Config(ConfigArgs),
}

/// `tvilling serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tvilling serve                                  (http://127.0.0.1:8080)
  tvilling --store /data/twin serve --addr 0.0.0.0:8080 --config tvilling.toml

URLs: / (viewer), /api/datasets, /tiles/{dataset}/tileset.json[?version=N], POST /api/sql, /ogcapi, \
/sta/v1.1 (SensorThings), POST /api/iot/observations, /api/iot/live (Server-Sent Events), /healthz, /readyz, \
/metrics, /api/openapi.json. Anonymous callers see open datasets only; send an API key from \
`tvilling apikey create` as `Authorization: Bearer <key>` or `X-API-Key`. Stops gracefully on SIGINT/SIGTERM.")]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port) [config: server.addr; default 127.0.0.1:8080]
    #[arg(long, env = "TVILLING_ADDR", value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// Folder served at / (the viewer) [config: server.viewer_dir; default: web/viewer of the source tree]
    #[arg(long, env = "TVILLING_VIEWER", value_name = "DIR")]
    pub viewer: Option<PathBuf>,
    /// The IoT collection served at /sta/v1.1 and /api/iot (its datasets are NAME_datastreams and
    /// NAME_observations) [config: server.iot.collection; default iot]
    #[arg(long, env = "TVILLING_IOT_COLLECTION", value_name = "NAME")]
    pub iot_collection: Option<String>,
    /// Read sensor readings from this MQTT broker, e.g. mqtt://localhost:1883; topics and payload
    /// mappings are in [server.iot.mqtt] (default: SensorThings topics v1.1/Datastreams(ID)/Observations)
    #[arg(long, env = "TVILLING_MQTT", value_name = "URL")]
    pub mqtt: Option<String>,
    /// Replay the IoT collection's recorded series as live readings every SECONDS: each open Datastream
    /// gets its next recorded value stamped with the current time (demos, client development)
    /// [config: server.iot.replay_seconds; default off]
    #[arg(long, env = "TVILLING_REPLAY_SENSORS", value_name = "SECONDS")]
    pub replay_sensors: Option<f64>,
}

/// `tvilling apikey`.
#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Make a key; it is printed once and only its SHA-256 is stored (<store>/_tvilling/apikeys.json)
    Create {
        /// reader-internal (open + internal data), reader-restricted (all data) or admin
        #[arg(long, value_parser = ["reader-internal", "reader-restricted", "admin"])]
        role: String,
        /// Who or what the key is for
        #[arg(long)]
        note: Option<String>,
        /// Output format
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// List the keys (ids, roles, notes; never secrets)
    List {
        /// Output format
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Remove a key by its id
    Revoke {
        /// The key id from `tvilling apikey list`
        id: String,
    },
}

/// `tvilling ingest`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tvilling ingest byggnader.gpkg --dataset byggnader --layer byggnader
  tvilling ingest Kommun_Sweref99TM.geojson --dataset kommuner --crs EPSG:3006
  tvilling ingest by_14.shp --dataset byggnader --mode upsert --key OBJEKT_ID
  tvilling ingest vagar.shp --dataset vagar --to-crs EPSG:3006 --classification open

Re-ingesting a byte-identical source the same way is a no-op. A source with several layers and no \
--layer writes one dataset per layer, named <dataset>_<layer>.")]
pub struct IngestArgs {
    /// The source: any OGR vector format (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GML, SQLite, CSV with WKT)
    #[arg(value_name = "SOURCE")]
    pub source: PathBuf,
    /// The dataset to write (lowercase letters, digits, _)
    #[arg(long, value_name = "NAME")]
    pub dataset: String,
    /// Only this layer of the source
    #[arg(long, value_name = "L")]
    pub layer: Option<String>,
    /// The CRS of the coordinates, required when the source declares none (e.g. EPSG:3006, EPSG:3006+5613)
    #[arg(long, value_name = "EPSG:N")]
    pub crs: Option<String>,
    /// Reproject to this CRS with PROJ (horizontal; heights keep their datum)
    #[arg(long, value_name = "EPSG:N")]
    pub to_crs: Option<String>,
    /// How new rows meet existing ones
    #[arg(long, value_enum, default_value_t = ModeArg::Append)]
    pub mode: ModeArg,
    /// Attribute that identifies a feature: required by --mode upsert, becomes the stable id
    #[arg(long, value_name = "COL")]
    pub key: Option<String>,
    /// Attribute to use as the stable feature id (default: a field named id, else a content hash)
    #[arg(long, value_name = "COL", conflicts_with = "key")]
    pub id_column: Option<String>,
    /// Access classification (new datasets default to the config's, else internal)
    #[arg(long, value_parser = ["open", "internal", "restricted"])]
    pub classification: Option<String>,
    /// The responsible owner recorded on the dataset
    #[arg(long)]
    pub owner: Option<String>,
    /// The licence recorded on the dataset (e.g. CC0-1.0)
    #[arg(long)]
    pub licence: Option<String>,
    /// Repair invalid geometries with GEOS MakeValid (default: keep and report them)
    #[arg(long)]
    pub make_valid: bool,
    /// Where an IFC model stands: lon,lat[,height[,rotation]] (WGS 84 degrees, metres above sea level,
    /// degrees counter-clockwise); beats the file's IfcMapConversion / IfcSite reference point
    #[arg(long, value_name = "LON,LAT,H,ROT", allow_hyphen_values = true)]
    pub place: Option<String>,
    /// Output of the ingest report
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Write modes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Add the new rows
    Append,
    /// Replace the dataset's rows and schema
    Overwrite,
    /// Update rows whose --key matches, add the others
    Upsert,
}

/// `tvilling datasets`.
#[derive(Debug, Args)]
pub struct DatasetsArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Picks a version: `--version N` or `--as-of TIME`.
#[derive(Debug, Args, Clone)]
pub struct VersionArgs {
    /// A version number from `tvilling log`
    #[arg(long, value_name = "N", conflicts_with = "as_of")]
    pub version: Option<u64>,
    /// The version current at this time (RFC 3339, e.g. 2026-05-01T00:00:00Z)
    #[arg(long, value_name = "RFC3339")]
    pub as_of: Option<String>,
}

/// `tvilling info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The dataset
    pub name: String,
    /// Which version
    #[command(flatten)]
    pub at: VersionArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// `tvilling log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The dataset
    pub name: String,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// `tvilling export`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tvilling export byggnader --format geoparquet --out arkiv/byggnader.parquet
  tvilling export byggnader --format gpkg --out byggnader-2026.gpkg --as-of 2026-01-01T00:00:00Z
Each export writes <file>.sha256 beside the file (check with `sha256sum -c`).")]
pub struct ExportArgs {
    /// The dataset
    pub name: String,
    /// File format
    #[arg(long, value_parser = ["geoparquet", "geojson", "gpkg", "fgb"])]
    pub format: String,
    /// The file to write
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Which version
    #[command(flatten)]
    pub at: VersionArgs,
}

/// `tvilling tile`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tvilling ingest delft.city.json --dataset delft
  tvilling tile delft --out www/delft
  tvilling tile byggnader --height-attr hojd --out www/byggnader
  tvilling tile byggnader --version 3 --height-attr hojd --out www/byggnader-v3

City models (CityJSON, CityGML) are 3D already. Footprints need --height-attr COLUMN (metres above the \
footprint's own z, or above 0 when 2D) or --height-from-z (the footprint's z is the roof; the block \
reaches down to height 0).

Tiles are kept in the store beside the dataset (<store>/<dataset>/_tiles/, one tileset-v<N>.json per \
version, content shared between versions) and, with --out, copied to a folder holding tileset.json. \
Re-tiling after a change rebuilds only the tiles whose buildings changed; the summary says how many. \
Heights become ellipsoidal with the vertical datum's geoid grid from PROJ_DATA, else EGM96; the grid \
used is logged and written into the tileset (asset.extras.heights).")]
pub struct TileArgs {
    /// The dataset
    pub name: String,
    /// Which version
    #[command(flatten)]
    pub at: VersionArgs,
    /// Also write the tileset (tileset.json + content/) to this folder
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Extrude footprints by this column (metres)
    #[arg(long, value_name = "COLUMN", conflicts_with = "height_from_z")]
    pub height_attr: Option<String>,
    /// Extrude footprints from height 0 up to their z (the roof height)
    #[arg(long)]
    pub height_from_z: bool,
    /// Compress vertex and index data with EXT_meshopt_compression (about 3x smaller before gzip;
    /// CesiumJS, three.js and Babylon.js decode it, older viewers cannot)
    #[arg(long)]
    pub meshopt: bool,
    /// Summary format
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// `tvilling iot`.
#[derive(Debug, Subcommand)]
pub enum IotCommand {
    /// Roll readings up into minute/hour/day aggregates, then delete what retention says is too old
    Rollup(IotRollupArgs),
}

/// `tvilling iot rollup`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tvilling iot rollup                              (collection iot, retention from [iot.retention])
  tvilling iot rollup --collection energi --raw-days 30

Writes NAME_rollup_minute, NAME_rollup_hour and NAME_rollup_day (datastream_id, bucket_start, count, min, max, \
mean, sum; UTC buckets), recomputing every bucket that still has raw readings and writing only what changed, \
then deletes raw readings older than their retention (rounded down to a UTC midnight) and roll-up rows older \
than theirs. Safe to stop and rerun at any point: a rerun with nothing new commits nothing. Schedule it (cron, \
systemd timer) as often as the roll-ups should be fresh. docs/iot.md has the details.")]
pub struct IotRollupArgs {
    /// The IoT collection (datasets NAME_datastreams, NAME_observations) [config: server.iot.collection]
    #[arg(long, value_name = "NAME")]
    pub collection: Option<String>,
    /// Keep raw readings this many days [config: iot.retention.raw_days; default: forever]
    #[arg(long, value_name = "DAYS")]
    pub raw_days: Option<u32>,
    /// Output format of the summary
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// `tvilling derive`.
#[derive(Debug, Subcommand)]
pub enum DeriveCommand {
    /// Ground and roof heights per footprint from classified points (3dfier-style LOD1), as a new dataset
    Heights(DeriveHeightsArgs),
}

/// `tvilling derive heights`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tvilling ingest bgt_pand.sqlite --dataset pand
  tvilling ingest ahn3.laz --dataset ahn3 --crs EPSG:28992+5709
  tvilling derive heights --footprints pand --points ahn3 --dataset pand_lod1
  tvilling tile pand_lod1 --height-attr h_roof_70 --out www/pand

Adds h_ground (10th percentile of class 2 points inside or within --ground-buffer of the footprint), \
h_roof_50, h_roof_70, h_roof_max (class 6 points inside; every non-ground, non-noise class when the points \
have no class 6), height (h_roof_70 - h_ground), point_count, ground_point_count, roof_point_count and \
quality (ok, few_points, no_ground, no_roof, no_footprint) to every footprint row. Heights are in the \
points' vertical datum; 2D footprints extruded with --height-attr h_roof_70 stand on 0 and reach the \
absolute roof height. docs/pointclouds.md has the details.")]
pub struct DeriveHeightsArgs {
    /// The building footprints (a vector dataset of polygons)
    #[arg(long, value_name = "NAME")]
    pub footprints: String,
    /// The classified laser points (a pointcloud dataset)
    #[arg(long, value_name = "NAME")]
    pub points: String,
    /// The dataset to write (a new version of it, replacing its rows)
    #[arg(long, value_name = "NAME")]
    pub dataset: String,
    /// Ground points this close to a footprint's outline count for its ground height (metres)
    #[arg(long, value_name = "METRES", default_value_t = tvilling_query::derive::heights::DEFAULT_GROUND_BUFFER)]
    pub ground_buffer: f64,
    /// Version of the footprints to read (from `tvilling log`)
    #[arg(long, value_name = "N", conflicts_with = "footprints_as_of")]
    pub footprints_version: Option<u64>,
    /// The footprints as of this time (RFC 3339)
    #[arg(long, value_name = "RFC3339")]
    pub footprints_as_of: Option<String>,
    /// Version of the points to read
    #[arg(long, value_name = "N", conflicts_with = "points_as_of")]
    pub points_version: Option<u64>,
    /// The points as of this time (RFC 3339)
    #[arg(long, value_name = "RFC3339")]
    pub points_as_of: Option<String>,
    /// Access classification of the result (default: the stricter of the inputs')
    #[arg(long, value_parser = ["open", "internal", "restricted"])]
    pub classification: Option<String>,
    /// Summary format
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// `tvilling classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// The dataset
    pub name: String,
    /// The new classification
    #[arg(value_parser = ["open", "internal", "restricted"])]
    pub classification: String,
}

/// `tvilling demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the real sample data is (default: ../shared/data or $TVILLING_SAMPLES when present)
    #[arg(long, env = "TVILLING_SAMPLES", value_name = "DIR")]
    pub samples: Option<PathBuf>,
    /// Number of buildings in the generated town
    #[arg(long, default_value_t = 600)]
    pub buildings: usize,
    /// Laser points per square metre of the generated town's scan (Lantmäteriet's national scan has 1–2)
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    pub point_density: f64,
    /// Only build the twin; do not serve it
    #[arg(long)]
    pub no_serve: bool,
    /// Address to serve the twin on [default 127.0.0.1:8080, or server.addr of the config]
    #[arg(long, env = "TVILLING_ADDR", value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// Replay the recorded sensor series as live readings every SECONDS while serving (see `tvilling
    /// serve --help`)
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub replay_sensors: f64,
}

/// `tvilling config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to show
    #[arg(value_enum, default_value_t = ConfigWhat::Print)]
    pub what: ConfigWhat,
}

/// What `tvilling config` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigWhat {
    /// The merged configuration (file, environment, flags) as TOML
    Print,
    /// The JSON Schema of the config file
    Schema,
}

/// `tvilling sql`.
#[derive(Debug, Args)]
#[command(after_help = "\
Every dataset is a table: id, bbox_xmin..bbox_zmax, geometry (in the dataset CRS), then its attributes. \
Quote mixed-case attribute names: \"KnNamn\". Older versions: table_at('byggnader', 3) or \
table_at('byggnader', '2026-05-01T00:00:00Z'). Functions: docs/sql.md; SHOW TABLES and DESCRIBE byggnader list \
what is there.

Examples:
  tvilling sql \"SELECT count(*) FROM byggnader\"
  tvilling sql \"SELECT b.id, k.\\\"KnNamn\\\" FROM byggnader b JOIN kommuner k ON ST_Within(b.geometry, k.geometry)\" --format csv
  tvilling sql \"SELECT id, geometry FROM byggnader WHERE ST_DWithin(geometry, ST_Point(513100, 6570100, 3006), 50)\" --format geojson --out nara.geojson
  tvilling sql -f analys.sql --format parquet --out resultat.parquet
  tvilling sql            (an interactive prompt; end statements with ;)

Statements are read-only: SELECT, WITH, VALUES, EXPLAIN, DESCRIBE, SHOW.")]
pub struct SqlArgs {
    /// The statement to run (omit it, and -f, for an interactive prompt)
    #[arg(value_name = "QUERY", conflicts_with = "file")]
    pub query: Option<String>,
    /// Read the statement(s) from a file; statements are separated by ;
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: SqlFormat,
    /// Write the result to this file instead of stdout (required for parquet)
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Cancel a statement after this many seconds [config: query.timeout_seconds]
    #[arg(long, value_name = "SECONDS", env = "TVILLING_QUERY_TIMEOUT")]
    pub timeout: Option<u64>,
    /// Memory cap for sorts, joins and aggregates, e.g. 2GiB or 512MiB [config: query.memory_limit]
    #[arg(long, value_name = "SIZE", env = "TVILLING_QUERY_MEMORY_LIMIT")]
    pub memory_limit: Option<String>,
    /// Do not use the spatial index: spatial joins as nested loops, nearest-k sorts over every row (to
    /// compare answers; much slower)
    #[arg(long)]
    pub no_spatial_join: bool,
}

/// Result formats of `tvilling sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SqlFormat {
    /// A table for people (geometries as shortened WKT)
    #[default]
    Table,
    /// CSV with a header row, geometries as WKT
    Csv,
    /// One JSON array of row objects, geometries as GeoJSON geometry objects
    Json,
    /// A GeoJSON FeatureCollection (first geometry column; other columns are properties)
    Geojson,
    /// GeoParquet 1.1 (WKB geometries with their CRS); needs --out
    Parquet,
}
