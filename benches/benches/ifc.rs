//! IFC parse + tessellate throughput (issue 6): tvilling's reader (`bim::model::read`: STEP index,
//! placements, every product's body as polygons, properties) against IfcOpenShell's
//! `ifcopenshell.geom.iterator` on the same files, side by side.
//!
//! Inputs: the four samples of `../shared/data/ifc`, and a large model generated from the Duplex by
//! replicating its DATA section (entity ids shifted, GlobalIds made unique) until it reaches
//! `TVILLING_BENCH_IFC_MB` megabytes (default 200). Reports MB/s, elements/s and peak RSS; IfcOpenShell runs in
//! its own process (`TVILLING_IFC_PYTHON`, default `~/.cache/ifc-venv/bin/python` with `pip install
//! ifcopenshell`), single-threaded and with its default settings (openings subtracted by exact booleans;
//! tvilling cuts convex openings only: see docs/bim.md), and reports its own time and peak RSS.
//!
//! Run: `cargo bench -p tvilling-benches --bench ifc`. Results go to `benches/RESULTS.md`. The generated
//! model is cached under `target/bench-data/`.
#![allow(clippy::print_stdout)] // a bench binary reports on stdout

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use tvilling_ingest::bim::model;

/// The Python side: time `ifcopenshell.open` + the geometry iterator over every product.
const PEER: &str = r#"
import sys, time, resource
import ifcopenshell, ifcopenshell.geom
t = time.perf_counter()
f = ifcopenshell.open(sys.argv[1])
s = ifcopenshell.geom.settings()
s.set("use-world-coords", True)
it = ifcopenshell.geom.iterator(s, f, 1)
n = 0
if it.initialize():
    while True:
        n += 1
        if not it.next():
            break
dt = time.perf_counter() - t
print(n, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ifc");
    let mb: usize = std::env::var("TVILLING_BENCH_IFC_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut files: Vec<PathBuf> = ["duplex.ifc", "AC20-FZK-Haus.ifc", "IfcOpenHouse_IFC4.ifc"]
        .iter()
        .map(|f| samples.join(f))
        .filter(|p| p.exists())
        .collect();
    if files.is_empty() {
        println!("skipped: ../shared/data/ifc is not there");
        return Ok(());
    }
    let big = tvilling_benches::data_dir()?.join(format!("duplex-{mb}mb.ifc"));
    if !big.exists() {
        replicate(&samples.join("duplex.ifc"), &big, mb * 1_000_000)?;
    }
    files.push(big);
    let python = std::env::var_os("TVILLING_IFC_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/ifc-venv/bin/python"))
        });
    println!(
        "| file | MB | tvilling s | MB/s | elements/s | IfcOpenShell s | elements/s | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for path in &files {
        let bytes = std::fs::metadata(path)?.len() as f64 / 1e6;
        let t = Instant::now();
        let data = std::fs::read(path)?;
        let m = model::read(data)?;
        let secs = t.elapsed().as_secs_f64();
        let n = m.elements.len() as f64;
        let peer = python.as_ref().and_then(|py| ifcopenshell(py, path));
        let (ps, pn) = peer.map_or((f64::NAN, f64::NAN), |(n, s, _)| (s, n));
        println!(
            "| {} | {bytes:.1} | {secs:.2} | {:.1} | {:.0} | {ps:.2} | {:.0} | {:.1}× |",
            path.file_name().and_then(|n| n.to_str()).unwrap_or(""),
            bytes / secs,
            n / secs,
            pn / ps,
            ps / secs
        );
    }
    println!(
        "tvilling peak RSS: {} MiB",
        tvilling_benches::peak_rss_mib()
    );
    Ok(())
}

/// Runs the IfcOpenShell iterator: (elements, seconds, peak RSS MiB).
fn ifcopenshell(python: &Path, path: &Path) -> Option<(f64, f64, f64)> {
    let out = Command::new(python)
        .arg("-c")
        .arg(PEER)
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        println!(
            "IfcOpenShell failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    println!(
        "IfcOpenShell peak RSS on {}: {} MiB",
        path.display(),
        v.get(2)?
    );
    Some((*v.first()?, *v.get(1)?, *v.get(2)?))
}

/// Writes `src`'s header once and its DATA section again and again, every `#id` shifted past the last
/// copy's and every GlobalId given a copy number, until the file has `target` bytes.
fn replicate(src: &Path, dst: &Path, target: usize) -> std::io::Result<()> {
    let text = std::fs::read_to_string(src)?;
    let start = text.find("DATA;").map_or(0, |i| i + "DATA;".len());
    let end = text.rfind("ENDSEC;").unwrap_or(text.len());
    let (head, body) = (&text[..start], &text[start..end]);
    let max_id = body
        .split('#')
        .skip(1)
        .filter_map(|s| {
            s.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dst)?);
    out.write_all(head.as_bytes())?;
    let mut written = head.len();
    let mut copy = 0u64;
    while written < target {
        let shifted = shift(body, copy * (max_id + 1), copy);
        out.write_all(shifted.as_bytes())?;
        written += shifted.len();
        copy += 1;
    }
    out.write_all(b"ENDSEC;\nEND-ISO-10303-21;\n")?;
    out.flush()
}

/// Shifts every `#n` outside strings by `by`; the first 22-character string of each line (a GlobalId)
/// gets the copy number in its last characters.
fn shift(body: &str, by: u64, copy: u64) -> String {
    const B64: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$";
    let tag: String = [(copy / 64 / 64) % 64, (copy / 64) % 64, copy % 64]
        .iter()
        .map(|d| B64[*d as usize] as char)
        .collect();
    let mut out = String::with_capacity(body.len() + body.len() / 8);
    for line in body.split_inclusive('\n') {
        let mut in_str = false;
        let mut chars = line.char_indices().peekable();
        let mut first_string = true;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if !in_str
                    && first_string
                    && line.get(i + 23..i + 24) == Some("'")
                    && line.get(i + 1..i + 23).is_some_and(|g| {
                        g.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
                    })
                {
                    out.push('\'');
                    out.push_str(&line[i + 1..i + 20]);
                    out.push_str(&tag);
                    for _ in 0..23 {
                        chars.next();
                    }
                    out.push('\'');
                    first_string = false;
                    continue;
                }
                in_str = !in_str;
                first_string = false;
                out.push(c);
            } else if c == '#' && !in_str {
                let mut n = String::new();
                while let Some((_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                out.push('#');
                match n.parse::<u64>() {
                    Ok(v) => out.push_str(&(v + by).to_string()),
                    Err(_) => out.push_str(&n),
                }
            } else {
                out.push(c);
            }
        }
    }
    out
}
