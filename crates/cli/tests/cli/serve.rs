//! `tvilling serve` as a process: it logs its bound address, answers /healthz and /api/datasets, and exits
//! 0 on SIGTERM after finishing requests in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::Env;

/// `GET path` over plain HTTP/1.1; returns the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|b| b.1)
        .unwrap_or("")
        .to_string();
    (status, body)
}

/// Starts `tvilling serve` on a free loopback port; returns the process, its address and a thread that
/// drains (and finally returns) its log so the server never blocks on a full pipe.
pub fn start(env: &Env) -> (Child, String, JoinHandle<Vec<String>>) {
    let mut child = env
        .command(&["serve", "--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start tvilling serve");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    // The one stable startup line: "listening on http://ADDR".
    let addr = loop {
        let line = lines
            .next()
            .expect("tvilling serve exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    (child, addr, drain)
}

#[test]
fn serve_answers_and_stops_gracefully_on_sigterm() {
    let env = Env::new();
    let town = env.town("town.gpkg", 20, 5);
    env.ingest_buildings(&town, "byggnader", &["--classification", "open"]);
    env.ingest_buildings(&town, "hemlig", &["--classification", "restricted"]);
    let (mut child, addr, drain) = start(&env);

    let (status, body) = get(&addr, "/healthz");
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&addr, "/api/datasets");
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["byggnader"],
        "the restricted dataset must stay hidden"
    );

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "tvilling serve did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = drain.join().unwrap().join("\n");
    assert_eq!(status.code(), Some(0), "exit status {status:?}\n{log}");
    assert!(log.contains("server stopped"), "{log}");
}

/// The served twin in a browser: the viewer at `/` loads CesiumJS from `/cesium/`, lists the datasets of
/// `/api/datasets`, streams a tiled town from `/tiles/…`, shows a clicked building's attributes, colours
/// by a number and by a category with legends, zooms with the keyboard, sets the sun study, loads an older
/// version with `?version=0` and "as of" a date, opens a dataset's table, runs SQL whose GeoJSON is drawn
/// and listed in the table view; with the real samples it also colours a point cloud by class, height
/// and intensity. CesiumJS console errors fail it; the final view is saved as a screenshot.
#[test]
fn the_served_viewer_shows_the_tiled_town_in_cesium() {
    if let Some(missing) = tvilling_fixtures::cesium_check::missing_prerequisite() {
        eprintln!("SKIPPED the_served_viewer_shows_the_tiled_town_in_cesium: {missing}");
        return;
    }
    let env = Env::new();
    let town = env.town("town.gpkg", 300, 5);
    env.ingest_buildings(
        &town,
        "byggnader",
        &["--id-column", "objektidentitet", "--classification", "open"],
    );
    // v1 a whole second later, so that "as of" can pick v0 with the control's one-second steps.
    std::thread::sleep(Duration::from_millis(1100));
    let bigger = env.town("town.gpkg", 320, 5);
    env.ingest_buildings(
        &bigger,
        "byggnader",
        &["--id-column", "objektidentitet", "--mode", "overwrite"],
    );
    for version in ["0", "1"] {
        env.run(&[
            "tile",
            "byggnader",
            "--version",
            version,
            "--height-attr",
            "hojd",
        ])
        .ok();
    }
    // A point cloud from the real samples, when they are here.
    let points = crate::util::samples(
        "the_served_viewer_shows_the_tiled_town_in_cesium (point cloud styling)",
    )
    .map(|data| {
        let src = data.join("pointcloud").join("ahn3_cropped_2.laz");
        let src = src.to_str().expect("utf8");
        env.run(&[
            "ingest",
            src,
            "--dataset",
            "ahn3",
            "--crs",
            "EPSG:28992+5709",
            "--classification",
            "open",
        ])
        .ok();
        env.run(&["tile", "ahn3"]).ok();
        "ahn3"
    });
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer");
    std::fs::create_dir_all(&shots).unwrap();
    let screenshot = shots.join("served-viewer.png");
    let _ = std::fs::remove_file(&screenshot);
    let (mut child, addr, _drain) = start(&env);
    let report = tvilling_fixtures::cesium_check::check_served_viewer_with(
        &format!("http://{addr}"),
        "byggnader",
        points,
        Some(screenshot.as_path()),
    );
    let _ = child.kill();
    let _ = child.wait();
    let report = report.expect("the viewer check runs");
    eprintln!("viewer report: {:#}", report.raw);
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(report.picked.contains_key("id"), "{report:?}");
    assert!(report.picked.contains_key("hojd"), "{report:?}");
    assert!(report.legend.len() > 1, "{report:?}");
    let mut expected = vec![
        "listed",
        "foundBuilding",
        "pickedHasId",
        "legend",
        "versionRequested",
        "categoryLegend",
        "keyboardZoom",
        "keyboardEscapeClears",
        "sun",
        "asOf",
        "datasetTable",
        "sqlErrorShown",
        "sqlDrawn",
        "sqlTable",
        "sqlRowSelects",
    ];
    if points.is_some() {
        expected.push("pointStyles");
    }
    for check in expected {
        assert_eq!(
            report.checks.get(check),
            Some(&true),
            "{check}: {:#}",
            report.raw
        );
    }
    assert_eq!(report.raw["sql"]["drawn"], 5, "{:#}", report.raw["sql"]);
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    eprintln!("screenshot: {}", screenshot.display());
}
