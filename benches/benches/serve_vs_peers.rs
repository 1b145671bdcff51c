//! The served twin under load, with its peers side by side, driven by `wrk` (Debian):
//!
//! 1. **3D Tiles**: `tvilling serve` vs nginx (Debian) serving the same tile cache folder at the same URLs
//!    (`/tiles/byggnader/content/<hash>.glb`, every tile in turn, no compression asked for). Goal: tvilling
//!    ≥ 0.5 × nginx's requests/s.
//! 2. **OGC API Features**: `/collections/byggnader/items?limit=100&offset=…` (pages in turn) on tvilling and
//!    on pygeoapi (PyPI, gunicorn with one worker per core, its SQLiteGPKG provider over the same
//!    GeoPackage that was ingested). Goal: tvilling ≥ 5 × pygeoapi's items/s.
//! 3. **Commit → served**: while the server runs, `tvilling ingest --mode append` commits more buildings; the
//!    time until `tileset.json` serves the new version is printed.
//!
//! Everything runs on this machine, servers and wrk sharing its cores, as a planner's single box would.
//!
//! Run: `cargo build --release -p tvilling && cargo bench -p tvilling-benches --bench serve_vs_peers`.
//! Needs `wrk`, `nginx` (Debian) and pygeoapi + gunicorn in the venv `$CARGO_TARGET_DIR/bench-venv-pygeoapi`
//! (`python3 -m venv …; pip install pygeoapi==0.21.0 gunicorn`; `TVILLING_PYGEOAPI_VENV` names another); a
//! missing peer is reported and skipped. `TVILLING_BENCH_SERVE_BUILDINGS` (default 20 000) sets the town's
//! size, `TVILLING_BENCH_SECONDS` (default 10) each wrk run. Inputs are cached under
//! `$CARGO_TARGET_DIR/bench-data/serve/`. Results go to `benches/RESULTS.md`.
#![allow(clippy::print_stdout)] // a bench binary reports on stdout

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tvilling_benches::http::{
    Result, Running, free_port, get, paths_script, run, start_tvilling, target_dir, tvilling_bin,
    wait_ready, wrk,
};

const DATASET: &str = "byggnader";
/// Features per OGC API page.
const PAGE: usize = 100;

/// nginx serving the dataset's tile cache at the same URLs as tvilling.
fn start_nginx(tiles: &Path, dir: &Path) -> Result<(Running, String)> {
    let port = free_port()?;
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(prefix.join("logs"))?;
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nworker_processes auto;\npid {pid};\nerror_log {err} warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n\
               types {{ model/gltf-binary glb; application/json json; }}\n\
               client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fcgi;\n\
               uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n    location /tiles/{DATASET}/ {{ alias {tiles}/; etag on; }}\n  }}\n}}\n",
            pid = prefix.join("nginx.pid").display(),
            err = prefix.join("logs/error.log").display(),
            tmp = prefix.display(),
            tiles = tiles.display(),
        ),
    )?;
    let child = Command::new("nginx")
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((Running(child), format!("127.0.0.1:{port}")))
}

/// pygeoapi with gunicorn over the GeoPackage, when its venv is there.
fn start_pygeoapi(gpkg: &Path, dir: &Path) -> Result<(Running, String)> {
    let venv = std::env::var_os("TVILLING_PYGEOAPI_VENV")
        .map_or_else(|| target_dir().join("bench-venv-pygeoapi"), PathBuf::from);
    let gunicorn = venv.join("bin/gunicorn");
    if !gunicorn.exists() {
        return Err(format!(
            "pygeoapi not installed: python3 -m venv {v} && {v}/bin/pip install pygeoapi==0.21.0 gunicorn",
            v = venv.display()
        )
        .into());
    }
    let port = free_port()?;
    let config = dir.join("pygeoapi.yml");
    std::fs::write(
        &config,
        format!(
            r#"server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 10, max_items: 10000}}
  map: {{url: "http://127.0.0.1/{{z}}/{{x}}/{{y}}.png", attribution: none}}
logging:
  level: ERROR
metadata:
  identification: {{title: bench, description: bench, keywords: [bench], keywords_type: theme, terms_of_service: none, url: "http://127.0.0.1"}}
  license: {{name: CC-BY 4.0, url: "https://creativecommons.org/licenses/by/4.0/"}}
  provider: {{name: bench, url: "http://127.0.0.1"}}
  contact: {{name: bench, email: bench@example.invalid, role: pointOfContact}}
resources:
  {DATASET}:
    type: collection
    title: {DATASET}
    description: the generated town
    keywords: [buildings]
    extents:
      spatial: {{bbox: [-180, -90, 180, 90], crs: "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    providers:
      - type: feature
        name: SQLiteGPKG
        data: {gpkg}
        id_field: fid
        table: {DATASET}
"#,
            gpkg = gpkg.display()
        ),
    )?;
    let openapi = dir.join("pygeoapi-openapi.yml");
    let python = venv.join("bin/pygeoapi");
    run(Command::new(&python)
        .args(["openapi", "generate"])
        .arg(&config)
        .arg("--output-file")
        .arg(&openapi)
        .env("PYGEOAPI_CONFIG", &config))?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let child = Command::new(gunicorn)
        .args([
            "--workers",
            &cores.to_string(),
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--log-level",
            "warning",
            "pygeoapi.flask_app:APP",
        ])
        .env("PYGEOAPI_CONFIG", &config)
        .env("PYGEOAPI_OPENAPI", &openapi)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((Running(child), format!("127.0.0.1:{port}")))
}

/// The commit → served delay: append `extra` and poll `tileset.json` until it names the new version.
fn commit_to_served(bin: &Path, store: &Path, addr: &str, extra: &Path) -> Result<(f64, f64)> {
    let (_, before) = get(addr, &format!("/tiles/{DATASET}/tileset.json"))?;
    let version_of = |body: &str| -> Option<String> {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()?
            .get("asset")?
            .get("tilesetVersion")?
            .as_str()
            .map(str::to_string)
    };
    let old = version_of(&before).ok_or("tileset.json without asset.tilesetVersion")?;
    let started = Instant::now();
    run(Command::new(bin)
        .arg("--store")
        .arg(store)
        .args(["ingest"])
        .arg(extra)
        .args(["--dataset", DATASET, "--layer", DATASET, "--mode", "append"])
        .args(["--crs", "EPSG:3006+5613"]))?;
    let committed = Instant::now();
    while committed.elapsed() < Duration::from_secs(300) {
        let (status, body) = get(addr, &format!("/tiles/{DATASET}/tileset.json"))?;
        if status == 200 && version_of(&body).is_some_and(|v| v != old) {
            return Ok((
                committed.elapsed().as_secs_f64(),
                committed.duration_since(started).as_secs_f64(),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("the new version was not served within 300 s".into())
}

fn main() -> Result<()> {
    let n: usize = std::env::var("TVILLING_BENCH_SERVE_BUILDINGS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let seconds: u64 = std::env::var("TVILLING_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let bin = tvilling_bin()?;
    let data = tvilling_benches::data_dir()?.join("serve");
    std::fs::create_dir_all(&data)?;
    let gpkg = data.join(format!("town-{n}.gpkg"));
    if !gpkg.exists() {
        tvilling_fixtures::town::generate(
            &gpkg,
            &tvilling_fixtures::town::TownSpec {
                buildings: n,
                seed: 1,
            },
        )?;
    }
    // A fresh store each run: the commit → served step appends to it.
    let work = tempfile::tempdir()?;
    // nginx's workers run as `nobody`: they must be able to enter the (0700) temporary folder.
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let store = work.path().join("store");
    let t = Instant::now();
    run(Command::new(&bin)
        .arg("--store")
        .arg(&store)
        .arg("ingest")
        .arg(&gpkg)
        .args(["--dataset", DATASET, "--layer", DATASET])
        // Open data: anonymous callers (wrk, like pygeoapi's) may read it; new datasets are internal.
        .args(["--classification", "open"])
        .args(["--crs", "EPSG:3006+5613"]))?;
    run(Command::new(&bin).arg("--store").arg(&store).args([
        "tile",
        DATASET,
        "--height-attr",
        "hojd",
    ]))?;
    println!(
        "{n} buildings ingested and tiled in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let tiles = store.join(DATASET).join("_tiles");
    let mut content: Vec<String> = std::fs::read_dir(tiles.join("content"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|f| f.ends_with(".glb"))
        .map(|f| format!("/tiles/{DATASET}/content/{f}"))
        .collect();
    content.sort();
    let bytes: u64 = std::fs::read_dir(tiles.join("content"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{} tile contents, {:.1} MB, mean {:.0} kB",
        content.len(),
        bytes as f64 / 1e6,
        bytes as f64 / 1e3 / content.len().max(1) as f64
    );

    let (_server, addr) = start_tvilling(&bin, &store, &[])?;
    wait_ready(&addr, &format!("/tiles/{DATASET}/tileset.json"), "tvilling")?;
    let mut rows: Vec<String> = Vec::new();

    // 1. Tiles.
    let ours = wrk(
        &addr,
        &paths_script(&content),
        16,
        seconds,
        work.path(),
        "tiles-tvilling",
    )?;
    let peer = start_nginx(&tiles, work.path()).and_then(|(p, a)| {
        wait_ready(&a, &content[0], "nginx")?;
        let l = wrk(
            &a,
            &paths_script(&content),
            16,
            seconds,
            work.path(),
            "tiles-nginx",
        );
        // Killing the master would leave its workers running: ask it to stop them first.
        let prefix = work.path().join("nginx");
        let _ = Command::new("nginx")
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .args(["-s", "stop"])
            .status();
        drop(p);
        l
    });
    rows.push(format!(
        "| tiles | tvilling serve | {:.0} req/s | {} | {} |",
        ours.requests_per_s, ours.latency, ours.errors
    ));
    match &peer {
        Ok(p) => {
            rows.push(format!(
                "| tiles | nginx | {:.0} req/s | {} | {} |",
                p.requests_per_s, p.latency, p.errors
            ));
            rows.push(format!(
                "| tiles | **ratio tvilling / nginx** | **{:.2}** (goal ≥ 0.5) | | |",
                ours.requests_per_s / p.requests_per_s
            ));
        }
        Err(e) => rows.push(format!("| tiles | nginx | not run: {e} | | |")),
    }

    // 2. OGC API Features pages.
    let pages: Vec<usize> = (0..n.div_ceil(PAGE)).map(|i| i * PAGE).collect();
    let ogc = |prefix: &str| -> Vec<String> {
        pages
            .iter()
            .map(|o| format!("{prefix}/collections/{DATASET}/items?f=json&limit={PAGE}&offset={o}"))
            .collect()
    };
    let ours = wrk(
        &addr,
        &paths_script(&ogc("/ogcapi")),
        16,
        seconds,
        work.path(),
        "ogc-tvilling",
    )?;
    rows.push(format!(
        "| OGC API items (limit {PAGE}) | tvilling serve | {:.0} items/s | {} | {} |",
        ours.requests_per_s * PAGE as f64,
        ours.latency,
        ours.errors
    ));
    let peer = start_pygeoapi(&gpkg, work.path()).and_then(|(p, a)| {
        wait_ready(
            &a,
            &format!("/collections/{DATASET}/items?f=json&limit=1"),
            "pygeoapi",
        )?;
        let l = wrk(
            &a,
            &paths_script(&ogc("")),
            16,
            seconds,
            work.path(),
            "ogc-pygeoapi",
        )?;
        drop(p);
        Ok(l)
    });
    match &peer {
        Ok(p) => {
            rows.push(format!(
                "| OGC API items (limit {PAGE}) | pygeoapi (gunicorn, SQLiteGPKG) | {:.0} items/s | {} | {} |",
                p.requests_per_s * PAGE as f64,
                p.latency,
                p.errors
            ));
            rows.push(format!(
                "| OGC API items | **ratio tvilling / pygeoapi** | **{:.1}** (goal ≥ 5) | | |",
                ours.requests_per_s / p.requests_per_s
            ));
        }
        Err(e) => rows.push(format!("| OGC API items | pygeoapi | not run: {e} | | |")),
    }

    // 3. Commit → served.
    let extra = data.join("extra-500.gpkg");
    if !extra.exists() {
        tvilling_fixtures::town::generate(
            &extra,
            &tvilling_fixtures::town::TownSpec {
                buildings: 500,
                seed: 2,
            },
        )?;
    }
    let (served, ingest) = commit_to_served(&bin, &store, &addr, &extra)?;
    rows.push(format!(
        "| commit → served | 500 buildings appended to {n} | {served:.2} s after the commit (ingest took {ingest:.2} s) | | |"
    ));

    println!("\n| what | server | throughput | latency | wrk errors |\n|---|---|---:|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
