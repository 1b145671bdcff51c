//! Writing a commit's Parquet data files (step 4 of [`super::write`]): row groups sized for scans and
//! pruning, encodings chosen per column, and streamed sources written by one writer per core.

use deltalake::arrow::compute::interleave_record_batch;
use deltalake::arrow::datatypes::{Schema, SchemaRef};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::parquet::basic::{Compression, Encoding};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::order::hilbert_order;
use super::write::Rows;
use crate::schema::{BBOX, GEOMETRY, ID};
use crate::{Error, Kind, Result};

/// Rows per Parquet row group. The row group is the unit that a scan splits over cores and that bbox
/// statistics prune, so a million-row file in one group would be read by one core and never pruned
/// (parquet's default is 1 048 576 rows); 64 Ki rows keep both working while the per-group overhead stays small.
const ROWS_PER_GROUP: usize = 64 * 1024;

/// Columns whose values (nearly) never repeat, written without a dictionary. Parquet's writer would
/// otherwise hash every value into a dictionary that only falls back to plain encoding once it passes
/// 1 MiB, so a 64 Ki-row group of 8-byte floats never falls back: for laser points that interning was
/// the largest cost of the ingest after LAZ decoding, for no gain in size. Each comes with whether it
/// holds floats.
fn unique_columns(schema: &Schema, kind: Kind) -> Vec<(String, bool)> {
    schema
        .fields()
        .iter()
        .filter(|f| {
            let n = f.name().as_str();
            n == ID
                || n == GEOMETRY
                || BBOX.contains(&n)
                || (kind == Kind::Pointcloud && matches!(n, "x" | "y" | "z" | "gps_time"))
        })
        .map(|f| (f.name().clone(), f.data_type().is_floating()))
        .collect()
}

/// Writes the Parquet files of `rows`; returns their add actions and the number of rows.
pub(super) async fn write_files(
    url: &str,
    schema: SchemaRef,
    rows: Rows,
    kind: Kind,
) -> Result<(Vec<deltalake::kernel::Add>, u64)> {
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP));
    for (column, float) in unique_columns(&schema, kind) {
        let path = ColumnPath::from(column);
        properties = properties.set_column_dictionary_enabled(path.clone(), false);
        if float {
            // Byte stream split puts each byte position of the floats together: the sign, exponent
            // and top mantissa bytes of nearby coordinates repeat, so Snappy shrinks them quickly
            // instead of crawling over plain floats it cannot compress.
            properties = properties.set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT);
        }
    }
    let properties = properties.build();
    let batches = match rows {
        Rows::Batches(b) => b,
        Rows::Stream(stream) => {
            return write_stream(url, schema, properties, stream, ROWS_PER_STREAMED_FILE).await;
        }
    };
    let mut writer =
        RecordBatchWriter::try_new(url, schema, None, None)?.with_writer_properties(properties);
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    match (rows > ROWS_PER_GROUP)
        .then(|| hilbert_order(&batches))
        .flatten()
    {
        Some(order) => {
            // One row group at a time, so the sorted copy never holds more than a group.
            let sources: Vec<&RecordBatch> = batches.iter().collect();
            for picks in order.chunks(ROWS_PER_GROUP) {
                writer
                    .write(interleave_record_batch(&sources, picks)?)
                    .await?;
            }
        }
        None => {
            for batch in batches {
                writer.write(batch).await?;
            }
        }
    }
    Ok((writer.flush().await?, rows as u64))
}

/// Rows per Parquet file of a streamed commit.
const ROWS_PER_STREAMED_FILE: usize = 16 * ROWS_PER_GROUP;

/// Writes a stream of batches as files of `rows_per_file` consecutive rows (a little more: files end
/// between batches), encoded by one writer task per core in turn. Parquet encoding and compression are
/// the bulk of a large commit's work, and a single writer kept one core busy while the others idled.
/// Each file holds consecutive rows, so the caller's spatial order still makes compact files, and the
/// add actions come back in row order.
async fn write_stream(
    url: &str,
    schema: SchemaRef,
    properties: WriterProperties,
    mut stream: BoxStream<'static, Result<RecordBatch>>,
    rows_per_file: usize,
) -> Result<(Vec<deltalake::kernel::Add>, u64)> {
    let writers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut senders = Vec::with_capacity(writers);
    let mut tasks = Vec::with_capacity(writers);
    for _ in 0..writers {
        // `None` ends a file.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Option<RecordBatch>>(2);
        let mut writer = RecordBatchWriter::try_new(url, schema.clone(), None, None)?
            .with_writer_properties(properties.clone());
        tasks.push(tokio::spawn(async move {
            let mut files = vec![];
            while let Some(next) = rx.recv().await {
                match next {
                    Some(batch) => writer.write(batch).await?,
                    None => files.push(writer.flush().await?),
                }
            }
            Ok::<_, Error>(files)
        }));
        senders.push(tx);
    }
    let (mut rows, mut in_file, mut file) = (0u64, 0usize, 0usize);
    let mut failed = None;
    while let Some(batch) = stream.next().await {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        rows += batch.num_rows() as u64;
        in_file += batch.num_rows();
        let tx = &senders[file % writers];
        // A closed channel means that writer failed; its error is collected below.
        if tx.send(Some(batch)).await.is_err() {
            break;
        }
        if in_file >= rows_per_file {
            if tx.send(None).await.is_err() {
                break;
            }
            (file, in_file) = (file + 1, 0);
        }
    }
    if in_file > 0 {
        // The last file's writer may have failed; its error is collected below.
        let _ = senders[file % writers].send(None).await;
    }
    drop(senders);
    // Writer w wrote files w, w + writers, w + 2 × writers, …: interleaved back into row order.
    // The stream's own error (bad input) says more than a writer stopped by it.
    let mut error = failed;
    let mut per_writer = vec![];
    for task in tasks {
        match task.await {
            Ok(Ok(files)) => per_writer.push(files),
            Ok(Err(e)) => {
                error.get_or_insert(e);
            }
            Err(e) => {
                error.get_or_insert(Error::Internal(format!(
                    "a Parquet writer task failed: {e}"
                )));
            }
        }
    }
    if let Some(e) = error {
        // Files that no commit will name: left behind they would only wait for a vacuum.
        remove_unlogged(url, per_writer.iter().flatten().flatten());
        return Err(e);
    }
    let mut per_writer: Vec<_> = per_writer.into_iter().map(Vec::into_iter).collect();
    let mut adds = vec![];
    for f in 0..per_writer.iter().map(ExactSizeIterator::len).sum::<usize>() {
        adds.extend(per_writer[f % writers].next().into_iter().flatten());
    }
    Ok((adds, rows))
}

/// Removes the finished files of a write that will not be committed. Best effort: the error that stopped
/// the write is the one to report, and a file that stays is harmless (no version names it).
fn remove_unlogged<'a>(url: &str, files: impl Iterator<Item = &'a deltalake::kernel::Add>) {
    let Ok(table) = url::Url::parse(url) else {
        return;
    };
    for add in files {
        if let Some(path) = table
            .join(&add.path)
            .ok()
            .and_then(|u| u.to_file_path().ok())
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use deltalake::arrow::array::{AsArray, Int64Array};
    use deltalake::arrow::datatypes::{DataType, Field, Int64Type};
    use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use url::Url;

    use super::*;

    /// A folder to write into, its URL and a one-column schema.
    fn table_dir() -> (tempfile::TempDir, Url, SchemaRef) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = Url::from_directory_path(dir.path()).expect("url");
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        (dir, url, schema)
    }

    fn numbers(range: std::ops::Range<i64>, schema: &SchemaRef) -> Result<RecordBatch> {
        let column = Arc::new(Int64Array::from_iter_values(range));
        Ok(RecordBatch::try_new(schema.clone(), vec![column])?)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_is_written_by_several_writers_as_files_in_row_order() {
        let (dir, url, schema) = table_dir();
        let batches: Vec<Result<RecordBatch>> = (0..25)
            .map(|b| numbers(b * 7..(b + 1) * 7, &schema))
            .collect();
        let stream = futures::stream::iter(batches).boxed();
        let (adds, rows) = write_stream(
            url.as_str(),
            schema,
            WriterProperties::default(),
            stream,
            20,
        )
        .await
        .expect("written");
        assert_eq!(rows, 175);
        // 21 rows a file (three batches), the last one 7.
        assert_eq!(adds.len(), 9, "{adds:?}");
        let mut read = vec![];
        for add in &adds {
            let file = std::fs::File::open(dir.path().join(&add.path)).expect("file");
            for batch in ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.build())
                .expect("reader")
            {
                let batch = batch.expect("batch");
                read.extend(
                    batch
                        .column(0)
                        .as_primitive::<Int64Type>()
                        .values()
                        .iter()
                        .copied(),
                );
            }
        }
        assert_eq!(read, (0..175).collect::<Vec<i64>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_error_fails_the_write_with_that_error_and_leaves_no_file() {
        let (dir, url, schema) = table_dir();
        let mut batches: Vec<Result<RecordBatch>> = (0..5)
            .map(|b| numbers(b * 7..(b + 1) * 7, &schema))
            .collect();
        batches.push(Err(Error::BadInput("point 42 has no x".into())));
        batches.push(numbers(0..7, &schema));
        let stream = futures::stream::iter(batches).boxed();
        let err = write_stream(
            url.as_str(),
            schema,
            WriterProperties::default(),
            stream,
            10,
        )
        .await
        .expect_err("the stream failed");
        assert!(err.to_string().contains("point 42 has no x"), "{err}");
        // Three files were finished (two of 14 rows, and the rows before the error); none is left.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("table folder")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
