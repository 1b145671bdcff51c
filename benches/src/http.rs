//! What the HTTP benchmarks share: the release `tvilling` binary, child processes that die with the bench,
//! plain HTTP/1.1 requests, and `wrk` runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The benches' result type.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A child process that is killed when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `$CARGO_TARGET_DIR`, else `target`.
pub fn target_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
}

/// The release `tvilling` binary (`$TVILLING_BIN` names another).
pub fn tvilling_bin() -> Result<PathBuf> {
    let bin = std::env::var_os("TVILLING_BIN").map_or_else(
        || target_dir().join("release").join("tvilling"),
        PathBuf::from,
    );
    if !bin.exists() {
        return Err(format!(
            "{} not found; build it first: cargo build --release -p tvilling",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

pub fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `GET path` over HTTP/1.1 with `Connection: close`: status and body.
pub fn get(addr: &str, path: &str) -> Result<(u16, String)> {
    request(addr, "GET", path, &[], b"")
}

/// One HTTP/1.1 request with `Connection: close` and `headers` (`Name: value` lines): status and body.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    // Bytes, not text: a tile's body is binary (glb), and only the head and JSON bodies are read.
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|b| b.1).unwrap_or("");
    Ok((status, body.to_string()))
}

/// Waits until `GET path` answers 200.
pub fn wait_ready(addr: &str, path: &str, what: &str) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if matches!(get(addr, path), Ok((200, _))) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{what} did not answer 200 on {path} within 120 s").into())
}

/// One wrk result.
pub struct Load {
    /// Requests per second.
    pub requests_per_s: f64,
    /// The latency percentiles wrk printed (`p50 … p99 …`).
    pub latency: String,
    /// Non-2xx answers and socket errors.
    pub errors: String,
}

/// A wrk Lua `request` function that sends GET `paths` in turn.
pub fn paths_script(paths: &[String]) -> String {
    let list = paths
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(",\n");
    format!(
        "local paths = {{\n{list}\n}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  \
         return wrk.format(\"GET\", paths[i])\nend\n"
    )
}

/// `wrk` with `connections` connections for `seconds` on `addr`, each request made by the Lua `request`
/// function in `script` (see [`paths_script`]); non-2xx answers and socket errors are counted.
pub fn wrk(
    addr: &str,
    script: &str,
    connections: u32,
    seconds: u64,
    dir: &Path,
    name: &str,
) -> Result<Load> {
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(
        &path,
        format!(
            "{script}\ndone = function(summary, latency, requests)\n  io.write(string.format(\"non2xx %d errors %d\\n\", \
             summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + \
             summary.errors.timeout))\nend\n"
        ),
    )?;
    let out = run(Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&path)
        .arg(format!("http://{addr}")))?;
    let rps = out
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{out}"))?;
    let percentile = |p: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(p))
            .map(|l| {
                format!(
                    "p{} {}",
                    p.trim_end_matches('%'),
                    l.trim().trim_start_matches(p).trim()
                )
            })
    };
    let latency = [percentile("50%"), percentile("99%")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let errors = out
        .lines()
        .find(|l| l.starts_with("non2xx"))
        .unwrap_or("")
        .to_string();
    Ok(Load {
        requests_per_s: rps,
        latency,
        errors,
    })
}

/// Starts `tvilling serve` on `store` with `extra` flags; returns it and its address.
pub fn start_tvilling(bin: &Path, store: &Path, extra: &[&str]) -> Result<(Running, String)> {
    let mut child = Command::new(bin)
        .arg("--store")
        .arg(store)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn,tvilling_web=info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .ok_or("tvilling serve exited before listening")??;
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap_or("").to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.map_while(std::result::Result::ok).for_each(drop));
    Ok((Running(child), addr))
}
