//! The registry's bulk load (ADR 0010): an import into an empty registry
//! loads keys and documents without their indexes on PostgreSQL and builds
//! them before it reports; a crashed bulk load is finished by the next run;
//! re-importing adds nothing; an MVD result recorded meanwhile keeps its
//! registry rows. On SQLite the same imports keep their indexes and give
//! the same rows.

use gbd_fl::{CsvExport, Item};
use iin_gateway::matching::{Identity, PreparedIdentity};
use iin_gateway::registry::KeyHasher;
use iin_gateway::registry::import::{keyed_batch, registry_person};
use iin_gateway::storage::{Completed, ImportMark, NewRegistryPerson};
use time::macros::date;

use crate::registry::{csv, file_id, import};
use crate::store_conformance::AT;
use crate::store_mvd::{completion, lease_one, queue, registry_row};
use crate::support::{Backend, TestDb, pg_client, pg_url};

/// The primary keys of the key and document tables, as the catalog has
/// them (PostgreSQL only).
async fn primary_keys(db: &TestDb) -> Vec<String> {
    let client = pg_client(&pg_url()).await;
    client
        .query(
            "SELECT c.conname::text FROM pg_constraint c
             JOIN pg_class t ON t.oid = c.conrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = $1 AND c.contype = 'p'
               AND t.relname IN ('registry_keys', 'registry_documents')
             ORDER BY 1",
            &[&db.schema().unwrap()],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

const BOTH_KEYS: [&str; 2] = ["registry_documents_pkey", "registry_keys_pkey"];

/// The first good person of the CSV, keyed as the import keys it.
fn first_person() -> Vec<NewRegistryPerson> {
    let export = CsvExport::new(std::io::Cursor::new(csv().into_bytes())).unwrap();
    let first = export
        .filter_map(|item| match item.unwrap() {
            Item::Person(p) => Some(p),
            Item::Bad { .. } => None,
        })
        .next()
        .unwrap();
    let person = registry_person(&first, "import:export.csv").unwrap();
    keyed_batch(vec![person], &KeyHasher::new(""))
}

/// KIM MINJUN of the CSV, as an applicant with a new passport.
async fn finds_kim(db: &TestDb) -> bool {
    let hasher = KeyHasher::new("");
    let query = PreparedIdentity::new(&Identity {
        surname: vec!["KIM".into()],
        given_names: vec!["MINJUN".into()],
        patronymic: vec![],
        birth_date: date!(1992 - 03 - 15),
        sex: None,
        citizenship: None,
        document_numbers: vec!["N0000001".into()],
    });
    let found = db
        .store
        .registry_candidates(&hasher.keys_of(&query), 10)
        .await
        .unwrap();
    found.iter().any(|p| p.surname == ["KIM"])
}

async fn an_empty_registry_is_bulk_loaded(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, csv()).unwrap();

    let (summary, bad) = import(&db, &path).await;
    assert_eq!(summary.bulk_load.is_some(), backend == Backend::Postgres);
    assert_eq!(summary.counts.inserted, 2, "{summary:?}");
    assert_eq!(bad.len(), 3, "{bad:?}");
    if backend == Backend::Postgres {
        assert_eq!(primary_keys(&db).await, BOTH_KEYS);
    }
    assert!(finds_kim(&db).await);
    let keys = db.count("registry_keys").await;
    assert_eq!(db.count("registry_documents").await, 3);

    // The same persons from another file: the registry is not empty, so the
    // indexes stay, and nothing is added.
    let copy = dir.path().join("copy.csv");
    std::fs::write(&copy, csv()).unwrap();
    let (summary, _) = import(&db, &copy).await;
    assert!(summary.bulk_load.is_none());
    assert_eq!(summary.counts.inserted, 0);
    assert_eq!(summary.counts.already_present, 2);
    assert_eq!(db.count("registry_keys").await, keys);
    assert_eq!(db.count("registry_documents").await, 3);
    if backend == Backend::Postgres {
        assert_eq!(primary_keys(&db).await, BOTH_KEYS);
    }
}

/// A crash after the first batch of a bulk load: the indexes are gone and
/// the mark says line 3 is next. The next run goes on in bulk, builds the
/// indexes, and ends with the rows of an uninterrupted import.
async fn a_crashed_bulk_load_is_finished_by_the_next_run(backend: Backend) {
    let clean = TestDb::new(backend).await;
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, csv()).unwrap();
    import(&clean, &path).await;

    assert_eq!(
        db.store.begin_registry_bulk_load().await.unwrap(),
        backend == Backend::Postgres
    );
    let mark = ImportMark {
        file: file_id(&path),
        line: 3,
        byte: 0,
    };
    db.store
        .upsert_registry_persons(&first_person(), Some(&mark))
        .await
        .unwrap();
    if backend == Backend::Postgres {
        assert!(primary_keys(&db).await.is_empty());
    }
    // A duplicate check meanwhile is slower (no key index), not wrong.
    assert!(finds_kim(&db).await);

    let (summary, bad) = import(&db, &path).await;
    assert_eq!(summary.resumed_at_line, 3);
    assert_eq!(summary.bulk_load.is_some(), backend == Backend::Postgres);
    assert_eq!(summary.counts.inserted, 1, "{summary:?}");
    assert!(bad.iter().all(|(line, _)| *line >= 3), "{bad:?}");
    if backend == Backend::Postgres {
        assert_eq!(primary_keys(&db).await, BOTH_KEYS);
    }
    for table in ["registry_persons", "registry_keys", "registry_documents"] {
        assert_eq!(db.count(table).await, clean.count(table).await, "{table}");
    }
    assert!(finds_kim(&db).await);
}

/// A crash after the last batch, before the indexes were built: the file
/// is done, and the next run of it builds them.
async fn a_crash_before_the_index_build_is_repaired(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, csv()).unwrap();
    import(&db, &path).await;
    let keys = db.count("registry_keys").await;
    if backend == Backend::Postgres {
        db.execute(
            "ALTER TABLE registry_keys DROP CONSTRAINT registry_keys_pkey;
             ALTER TABLE registry_documents DROP CONSTRAINT registry_documents_pkey",
        )
        .await;
    }

    let (summary, _) = import(&db, &path).await;
    assert_eq!(summary.counts.inserted, 0);
    assert!(summary.resumed_at_line > 1);
    assert_eq!(summary.bulk_load.is_some(), backend == Backend::Postgres);
    if backend == Backend::Postgres {
        assert_eq!(primary_keys(&db).await, BOTH_KEYS);
    }
    assert_eq!(db.count("registry_keys").await, keys);
}

/// A gateway recording an MVD result that forms an IIN during a bulk load:
/// the holder's registry row, keys and documents are written without the
/// two indexes, and are there, unique, once they are built.
async fn an_mvd_result_during_a_bulk_load(backend: Backend) {
    let db = TestDb::new(backend).await;
    assert_eq!(
        db.store.begin_registry_bulk_load().await.unwrap(),
        backend == Backend::Postgres
    );
    let numbers = queue(&db.store, 1).await;
    let lease = lease_one(&db.store, AT, "a").await;
    let mut formed = completion(&numbers[0], &lease.token, AT, Some("900704300602"));
    formed.registry = Some(registry_row("900704300602", "gateway"));
    assert_eq!(
        db.store.complete(&formed).await.unwrap(),
        Completed::Recorded
    );
    db.store.finish_registry_bulk_load().await.unwrap();
    if backend == Backend::Postgres {
        assert_eq!(primary_keys(&db).await, BOTH_KEYS);
    }
    for (table, rows) in [
        ("registry_persons", 1),
        ("registry_keys", 3),
        ("registry_documents", 1),
    ] {
        assert_eq!(db.count(table).await, rows, "{table}");
    }
}

on_both!(
    an_mvd_result_during_a_bulk_load,
    an_empty_registry_is_bulk_loaded,
    a_crashed_bulk_load_is_finished_by_the_next_run,
    a_crash_before_the_index_build_is_repaired,
);
