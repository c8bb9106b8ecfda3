//! `iin-gateway registry import`: reads legacy registry exports (the
//! `gbd-fl` adapter), checks each record, computes blocking keys and adds
//! the persons to the registry in batches.
//!
//! Three stages overlap: a reader thread parses and checks records; the
//! keys of a batch are computed on every core; the store writes the two
//! batches before while the next one is keyed ([`Writers`]). Each batch is
//! one transaction that also records how far the file is committed
//! (`registry_imports`), so a re-run after a crash starts at most two
//! batches before where it stopped; and persons already present are
//! skipped, so re-importing adds nothing. Into an empty registry the store
//! may load in bulk, building its key index once at the end (ADR 0010).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gbd_fl::{CsvExport, ExportPerson, FatalError, Item, XmlExport};
use time::macros::format_description;

use super::keys::KeyHasher;
use crate::domain::application::Sex;
use crate::domain::country::CountryCode;
use crate::domain::iin::Iin;
use crate::matching::{PreparedIdentity, normalize};
use crate::storage::{
    ImportCounts, ImportMark, NewRegistryPerson, RegistryPerson, Store, StoreError,
};

/// Persons per transaction.
pub const DEFAULT_BATCH: usize = 20_000;

/// What importing one file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    pub counts: ImportCounts,
    pub bad_rows: u64,
    /// The line an earlier run had committed up to (1 when starting afresh).
    pub resumed_at_line: u64,
    /// Whether the keys were loaded without their index, which was built
    /// at the end (an empty registry, or an interrupted bulk load resumed),
    /// and how long building the indexes took.
    pub bulk_load: Option<std::time::Duration>,
}

/// Why a file could not be imported to its end. What was committed before
/// stays committed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(String),
    #[error("line {}: {}", .0.line, .0.problem)]
    Unreadable(FatalError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where an import reports bad rows and progress.
pub trait ImportObserver: Send + Sync {
    /// A record skipped: its line and what is wrong, without its values.
    fn bad_row(&self, line: u64, problem: &str);
    /// Bytes of the file read so far.
    fn progress(&self, bytes: u64);
    /// Every batch is written; the indexes a bulk load dropped are being
    /// built (seconds per million persons), before the import reports.
    fn building_indexes(&self) {}
}

/// Checks an exported record and turns it into a registry person.
pub fn registry_person(p: &ExportPerson, source: &str) -> Result<RegistryPerson, String> {
    let iin = Iin::parse(&p.iin).map_err(|e| format!("invalid IIN: {e}"))?;
    let birth_date = time::Date::parse(&p.birth_date, format_description!("[year]-[month]-[day]"))
        .map_err(|_| "birth date is not a YYYY-MM-DD date".to_owned())?;
    let sex = match p.gender.to_uppercase().as_str() {
        "" => None,
        "M" | "MALE" | "М" | "1" => Some(Sex::Male),
        "F" | "FEMALE" | "Ж" | "2" => Some(Sex::Female),
        _ => return Err("gender is not M or F".into()),
    };
    let citizenship = match p.citizenship.as_str() {
        "" => None,
        code => Some(
            CountryCode::parse(code)
                .map_err(|_| "citizenship is not an ISO 3166-1 alpha-3 code".to_owned())?
                .as_str()
                .to_owned(),
        ),
    };
    let forms = |a: &str, b: &str| -> Vec<String> {
        [a, b]
            .into_iter()
            .filter(|s| s.chars().any(char::is_alphabetic))
            .map(str::to_owned)
            .collect()
    };
    let surname = forms(&p.surname, &p.latin_surname);
    let given_names = forms(&p.name, &p.latin_name);
    if surname.is_empty() && given_names.is_empty() {
        return Err("neither a surname nor a name".into());
    }
    let mut documents: Vec<String> = p
        .documents
        .iter()
        .map(|d| normalize::document_number(&d.number))
        .filter(|n| !n.is_empty())
        .collect();
    documents.dedup();
    Ok(RegistryPerson {
        iin: iin.as_str().to_owned(),
        surname,
        given_names,
        patronymic: forms(&p.patronymic, &p.latin_patronymic),
        birth_date,
        sex,
        citizenship,
        documents,
        source: source.to_owned(),
        spellings: String::new(),
    })
}

/// A registry person with its hashed blocking keys.
pub fn keyed(mut person: RegistryPerson, hasher: &KeyHasher) -> NewRegistryPerson {
    let prepared = PreparedIdentity::new(&super::identity_of(&person));
    person.spellings = prepared.stored_spellings();
    NewRegistryPerson {
        keys: hasher.keys_of(&prepared),
        person,
    }
}

/// Keys a batch on every core.
pub fn keyed_batch(persons: Vec<RegistryPerson>, hasher: &KeyHasher) -> Vec<NewRegistryPerson> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = persons.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<RegistryPerson>> = Vec::new();
    let mut rest = persons;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| {
                scope.spawn(move || c.into_iter().map(|p| keyed(p, hasher)).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("keying does not panic"))
            .collect()
    })
}

/// One batch read and checked, and where the file is after it.
struct ReadBatch {
    persons: Vec<RegistryPerson>,
    /// The first line after the batch's last record.
    next_line: u64,
    byte: u64,
}

/// Counts the bytes read, for the progress bar and the mark.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The identity of a file for resuming: path, size and modification time.
fn file_identity(path: &Path) -> Result<(String, u64), ImportError> {
    let meta =
        std::fs::metadata(path).map_err(|e| ImportError::File(format!("cannot read: {e}")))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok((
        format!("{}|{}|{}", canonical.display(), meta.len(), modified),
        meta.len(),
    ))
}

/// Imports one file. Bad records are reported to `observer` and skipped.
pub async fn import_file(
    store: Arc<dyn Store>,
    path: &Path,
    hasher: &KeyHasher,
    batch_size: usize,
    observer: Arc<dyn ImportObserver>,
) -> Result<FileSummary, ImportError> {
    let (file_id, _) = file_identity(path)?;
    let resume_line = store
        .import_mark(&file_id)
        .await?
        .map_or(1, |mark| mark.line);
    let is_xml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !is_xml && !is_csv {
        return Err(ImportError::File(
            "unknown format: expected a .xml or .csv file".into(),
        ));
    }
    let file = File::open(path).map_err(|e| ImportError::File(format!("cannot open: {e}")))?;
    let bulk_load = store.begin_registry_bulk_load().await?;
    let loaded = load(
        Arc::clone(&store),
        file,
        LoadPlan {
            file_id,
            resume_line,
            is_xml,
            source: format!(
                "import:{}",
                path.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            ),
        },
        hasher,
        batch_size,
        Arc::clone(&observer),
    )
    .await;
    // Also after a failure: a gateway serving meanwhile needs the indexes
    // back, and what was committed stays.
    let building = std::time::Instant::now();
    let built = if bulk_load {
        observer.building_indexes();
        store.finish_registry_bulk_load().await
    } else {
        Ok(())
    };
    let mut summary = loaded?;
    built?;
    summary.bulk_load = bulk_load.then(|| building.elapsed());
    Ok(summary)
}

/// Where a file's reading starts and what its rows are called.
struct LoadPlan {
    file_id: String,
    resume_line: u64,
    is_xml: bool,
    source: String,
}

/// Reads, keys and writes the batches of an open file.
async fn load(
    store: Arc<dyn Store>,
    file: File,
    plan: LoadPlan,
    hasher: &KeyHasher,
    batch_size: usize,
    observer: Arc<dyn ImportObserver>,
) -> Result<FileSummary, ImportError> {
    let LoadPlan {
        file_id,
        resume_line,
        is_xml,
        source,
    } = plan;
    let read = Arc::new(AtomicU64::new(0));
    let input = BufReader::with_capacity(
        1 << 16,
        Counting {
            inner: file,
            read: Arc::clone(&read),
        },
    );

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<ReadBatch, FatalError>>(2);
    let reader_observer = Arc::clone(&observer);
    let bad_rows = Arc::new(AtomicU64::new(0));
    let bad_count = Arc::clone(&bad_rows);
    let reader = std::thread::spawn(move || {
        let items: Box<dyn Iterator<Item = Result<Item, FatalError>>> = if is_xml {
            match XmlExport::new(input) {
                Ok(x) => Box::new(x),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        } else {
            match CsvExport::new(input) {
                Ok(c) => Box::new(c),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        };
        let mut persons = Vec::with_capacity(batch_size);
        let mut next_line = resume_line;
        for item in items {
            match item {
                Err(e) => {
                    // Commit what was read before the problem.
                    if !persons.is_empty() {
                        let batch = ReadBatch {
                            persons: std::mem::take(&mut persons),
                            next_line,
                            byte: read.load(Ordering::Relaxed),
                        };
                        let _ = tx.blocking_send(Ok(batch));
                    }
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
                Ok(Item::Bad { line, problem }) => {
                    if line >= resume_line {
                        bad_count.fetch_add(1, Ordering::Relaxed);
                        reader_observer.bad_row(line, &problem);
                    }
                }
                Ok(Item::Person(p)) => {
                    if p.line < resume_line {
                        continue;
                    }
                    next_line = p.line + 1;
                    match registry_person(&p, &source) {
                        Ok(person) => persons.push(person),
                        Err(problem) => {
                            bad_count.fetch_add(1, Ordering::Relaxed);
                            reader_observer.bad_row(p.line, &problem);
                        }
                    }
                    if persons.len() >= batch_size {
                        let batch = ReadBatch {
                            persons: std::mem::replace(
                                &mut persons,
                                Vec::with_capacity(batch_size),
                            ),
                            next_line,
                            byte: read.load(Ordering::Relaxed),
                        };
                        if tx.blocking_send(Ok(batch)).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        // The last batch, also when empty: it records the file as done.
        let _ = tx.blocking_send(Ok(ReadBatch {
            persons,
            next_line,
            byte: read.load(Ordering::Relaxed),
        }));
    });

    let mut summary = FileSummary {
        resumed_at_line: resume_line,
        ..FileSummary::default()
    };
    let mut writers = Writers {
        store,
        file_id,
        in_flight: VecDeque::new(),
        committed: (resume_line, 0),
    };
    let mut failure = None;
    while let Some(message) = rx.recv().await {
        let batch = match message {
            Ok(batch) => batch,
            Err(e) => {
                failure = Some(ImportError::Unreadable(e));
                break;
            }
        };
        let hasher = hasher.clone();
        let persons = batch.persons;
        let keyed = tokio::task::spawn_blocking(move || keyed_batch(persons, &hasher))
            .await
            .expect("keying does not panic");
        match writers.make_room().await {
            Ok(counts) => summary.counts += counts,
            Err(e) => {
                writers.abandon().await;
                failure = Some(e.into());
                break;
            }
        }
        observer.progress(batch.byte);
        writers.spawn(keyed, batch.next_line, batch.byte);
    }
    if !matches!(failure, Some(ImportError::Store(_))) {
        match writers.finish().await {
            Ok(counts) => summary.counts += counts,
            Err(e) => failure = failure.or(Some(e.into())),
        }
    }
    drop(rx);
    let _ = reader.join();
    summary.bad_rows = bad_rows.load(Ordering::Relaxed);
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Batches written by up to [`WRITERS`] transactions at once, so that the
/// database works on one batch while the next is sent.
///
/// Their commits may come in either order, so a batch's mark is not its own
/// end but the end of the last batch known to be committed when it was sent
/// (the store keeps the greatest mark): after a crash the next run may read
/// up to `WRITERS` batches again, whose persons are then already present.
/// After the last batch the mark is moved to the end of the file.
struct Writers {
    store: Arc<dyn Store>,
    file_id: String,
    /// Oldest first: each write with the line and byte after its batch.
    in_flight: VecDeque<(Writing, u64, u64)>,
    /// Line and byte before which every batch is committed.
    committed: (u64, u64),
}

type Writing = tokio::task::JoinHandle<Result<ImportCounts, StoreError>>;

/// Transactions of one import in flight at once.
const WRITERS: usize = 2;

impl Writers {
    fn mark(&self) -> ImportMark {
        ImportMark {
            file: self.file_id.clone(),
            line: self.committed.0,
            byte: self.committed.1,
        }
    }

    fn spawn(&mut self, batch: Vec<NewRegistryPerson>, next_line: u64, byte: u64) {
        let store = Arc::clone(&self.store);
        let mark = self.mark();
        let writing =
            tokio::spawn(async move { store.upsert_registry_persons(&batch, Some(&mark)).await });
        self.in_flight.push_back((writing, next_line, byte));
    }

    /// Waits for the oldest write while as many as [`WRITERS`] are in flight.
    async fn make_room(&mut self) -> Result<ImportCounts, StoreError> {
        let mut counts = ImportCounts::default();
        while self.in_flight.len() >= WRITERS {
            counts += self.oldest().await?;
        }
        Ok(counts)
    }

    async fn oldest(&mut self) -> Result<ImportCounts, StoreError> {
        let (writing, next_line, byte) = self
            .in_flight
            .pop_front()
            .expect("called with a write in flight");
        let counts = writing.await.expect("the write task does not panic")?;
        self.committed = (next_line, byte);
        Ok(counts)
    }

    /// After a failed write: lets the others end, and leaves the mark
    /// where the batches' own transactions put it.
    async fn abandon(&mut self) {
        while let Some((writing, ..)) = self.in_flight.pop_front() {
            let _ = writing.await;
        }
    }

    /// Waits for every write; then, if all were committed, moves the mark
    /// to the end of the last batch (the end of the file, or the record an
    /// unreadable file stopped at).
    async fn finish(mut self) -> Result<ImportCounts, StoreError> {
        let mut counts = ImportCounts::default();
        while !self.in_flight.is_empty() {
            match self.oldest().await {
                Ok(more) => counts += more,
                Err(e) => {
                    self.abandon().await;
                    return Err(e);
                }
            }
        }
        self.store
            .upsert_registry_persons(&[], Some(&self.mark()))
            .await?;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export() -> ExportPerson {
        ExportPerson {
            line: 2,
            iin: "900704300015".into(),
            surname: "ЧЖАН".into(),
            latin_surname: "ZHANG".into(),
            name: "СЯОМИН".into(),
            birth_date: "1990-07-04".into(),
            gender: "M".into(),
            citizenship: "CHN".into(),
            documents: vec![gbd_fl::ExportDocument {
                kind: "PASSPORT".into(),
                number: "e 1234-5678".into(),
            }],
            ..ExportPerson::default()
        }
    }

    #[test]
    fn a_good_record_becomes_a_person() {
        let p = registry_person(&export(), "import:x.xml").unwrap();
        assert_eq!(p.surname, ["ЧЖАН", "ZHANG"]);
        assert_eq!(p.documents, ["E12345678"]);
        assert_eq!(p.sex, Some(Sex::Male));
        assert!(p.patronymic.is_empty());
    }

    #[test]
    fn bad_records_say_why_without_their_values() {
        let bad = |f: fn(&mut ExportPerson)| {
            let mut p = export();
            f(&mut p);
            registry_person(&p, "s").unwrap_err()
        };
        let e = bad(|p| p.iin = "900704300016".into());
        assert!(e.starts_with("invalid IIN") && !e.contains("9007"), "{e}");
        assert!(bad(|p| p.birth_date = "04.07.1990".into()).contains("birth date"));
        assert!(bad(|p| p.gender = "X".into()).contains("gender"));
        assert!(bad(|p| p.citizenship = "China".into()).contains("citizenship"));
        assert!(
            bad(|p| {
                p.surname.clear();
                p.latin_surname.clear();
                p.name.clear();
            })
            .contains("neither")
        );
    }
}
