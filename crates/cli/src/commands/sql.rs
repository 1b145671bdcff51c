//! `tvilling sql`: one statement, a file of statements, SQL on stdin, or an interactive prompt.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use tvilling_core::Store;
use tvilling_query::output::{self, OutputError};
use tvilling_query::{QueryOptions, QueryOutput, Session};

use crate::args::{SqlArgs, SqlFormat};
use crate::config::{Config, parse_size};

pub async fn run(store: &Store, config: &Config, a: SqlArgs) -> anyhow::Result<ExitCode> {
    let memory = a
        .memory_limit
        .clone()
        .or_else(|| config.query.memory_limit.clone());
    let options = QueryOptions {
        timeout: a
            .timeout
            .or(config.query.timeout_seconds)
            .map(Duration::from_secs),
        memory_limit: memory
            .as_deref()
            .map(parse_size)
            .transpose()
            .context("--memory-limit")?,
        spatial_join: !a.no_spatial_join,
        target_partitions: None,
    };
    if a.format == SqlFormat::Parquet && a.out.is_none() {
        bail!("--format parquet writes a file: add --out result.parquet");
    }
    let session = Session::open(store, options).await?;
    let script = match (&a.query, &a.file) {
        (Some(q), _) => q.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("cannot read SQL file {}", f.display()))?,
        (None, None) if std::io::stdin().is_terminal() => return interactive(&session).await,
        (None, None) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read SQL from stdin")?;
            s
        }
    };
    let statements = split(&script)?;
    if statements.len() > 1 && !matches!(a.format, SqlFormat::Table | SqlFormat::Csv) {
        bail!(
            "--format {:?} writes one result, but the input has {} statements; run them one at a time",
            a.format,
            statements.len()
        );
    }
    for sql in &statements {
        let result = session.query(sql).await?;
        write(&result, a.format, a.out.as_deref())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Splits a script into statements at top-level `;` tokens, keeping each statement's own text (so a `;`
/// inside a string or comment is not a separator, and every statement is judged as written).
fn split(script: &str) -> anyhow::Result<Vec<String>> {
    use tvilling_core::datafusion::sql::sqlparser::dialect::GenericDialect;
    use tvilling_core::datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&GenericDialect {}, script)
        .tokenize()
        .map_err(|e| anyhow::anyhow!("cannot read the SQL: {e}"))?;
    let mut statements = Vec::new();
    let mut current = String::new();
    for t in tokens {
        if t == Token::SemiColon {
            statements.push(std::mem::take(&mut current));
        } else {
            current.push_str(&t.to_string());
        }
    }
    statements.push(current);
    let statements: Vec<String> = statements
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if statements.is_empty() {
        bail!("no SQL statement given");
    }
    Ok(statements)
}

fn write(result: &QueryOutput, format: SqlFormat, out: Option<&Path>) -> anyhow::Result<()> {
    if format == SqlFormat::Parquet {
        let path = out.context("--format parquet needs --out")?;
        return write_parquet(result, path);
    }
    let mut buffer: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let (schema, batches) = (&result.schema, result.batches.as_slice());
    let written = match format {
        SqlFormat::Table => output::write_table(&mut buffer, schema, batches, 60),
        SqlFormat::Csv => output::write_csv(&mut buffer, schema, batches),
        SqlFormat::Json => output::write_json(&mut buffer, schema, batches),
        SqlFormat::Geojson => output::write_geojson(&mut buffer, schema, batches),
        SqlFormat::Parquet => Ok(()),
    }
    .and_then(|()| buffer.flush().map_err(OutputError::from));
    match written {
        // `tvilling sql … | head` closing the pipe early is not an error.
        Err(OutputError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// GeoParquet 1.1, with each geometry column's CRS as PROJJSON from GDAL.
fn write_parquet(result: &QueryOutput, path: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let rows = output::write_geoparquet(file, &result.schema, &result.batches, &|crs| {
        tvilling_ingest::export::projjson(crs)
            .inspect_err(|e| tracing::warn!("the GeoParquet CRS of {crs} is left unknown: {e}"))
            .ok()
    })?;
    tracing::info!(rows, path = %path.display(), "wrote the result");
    Ok(())
}

const HELP: &str = "End a statement with ; — \\q quits, \\d lists tables, \\d NAME describes one.";

async fn interactive(session: &Session) -> anyhow::Result<ExitCode> {
    let mut editor = rustyline::DefaultEditor::new().context("cannot start the prompt")?;
    eprintln!("tvilling SQL (read-only). {HELP}");
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "tvilling> "
        } else {
            "      ...> "
        };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if pending.is_empty() {
            match trimmed {
                "" => continue,
                "\\q" | "quit" | "exit" => break,
                "\\?" | "help" => {
                    eprintln!("{HELP}");
                    continue;
                }
                "\\d" => {
                    run_one(session, "SHOW TABLES").await;
                    continue;
                }
                t if t.starts_with("\\d ") => {
                    run_one(session, &format!("DESCRIBE {}", &t[3..])).await;
                    continue;
                }
                _ => {}
            }
        }
        pending.push_str(&line);
        pending.push('\n');
        if trimmed.ends_with(';') {
            let _ = editor.add_history_entry(pending.trim());
            let sql = std::mem::take(&mut pending);
            run_one(session, &sql).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a statement at the prompt; errors are shown and the prompt goes on.
async fn run_one(session: &Session, sql: &str) {
    let started = std::time::Instant::now();
    match session.query(sql).await {
        Ok(r) => {
            if let Err(e) = write(&r, SqlFormat::Table, None) {
                eprintln!("error: {e:#}");
            }
            eprintln!("({:.3} s)", started.elapsed().as_secs_f64());
        }
        Err(e) => eprintln!("error: {e}"),
    }
}
