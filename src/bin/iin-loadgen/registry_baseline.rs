//! The floor `iin-loadgen registry` measures the import against: the same
//! persons, keyed before the clock starts, written by raw binary COPY into a
//! fresh database migrated like the gateway's (so every index is there), in
//! transactions of the same size, with no conflict handling and no resume
//! mark. What the import adds over it is reading the file, keying, skipping
//! persons already present and recording how far it got.

use std::time::{Duration, Instant};

use iin_gateway::storage::{self, NewRegistryPerson, StoreOptions};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::cpu;
use crate::scratch::{ScratchDb, pg_text};

/// What the baseline took: wall-clock time, and the CPU of its PostgreSQL
/// backend.
pub struct Floor {
    pub seconds: f64,
    pub backend_cpu: Duration,
}

const PERSONS: &str = "COPY registry_persons
    (iin, surname, given_names, patronymic, birth_date, sex, citizenship, documents, source,
     spellings, imported_at)
    FROM STDIN (FORMAT binary)";

const PERSON_TYPES: [Type; 11] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::DATE,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
];

fn json(values: &[String]) -> String {
    serde_json::to_string(values).expect("a list of strings always serializes")
}

/// Writes `persons` into a database of its own, `batch` persons per
/// transaction, and drops it.
pub async fn run(
    admin_url: &str,
    persons: &[NewRegistryPerson],
    batch: usize,
) -> Result<Floor, String> {
    let name = format!("iin_loadgen_registry_floor_{}", std::process::id());
    let db = ScratchDb::create(admin_url, &name).await?;
    let outcome = async {
        // Migrated by the gateway's own code: the same tables and indexes.
        drop(
            storage::open(&db.url, &StoreOptions::default())
                .await
                .map_err(|e| e.to_string())?,
        );
        let (mut client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        client
            .batch_execute("CHECKPOINT")
            .await
            .map_err(|e| pg_text(&e))?;
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .map_err(|e| pg_text(&e))?
            .get(0);
        let cpu_before = cpu::of_process(pid as u32)?;
        let started = Instant::now();
        for chunk in persons.chunks(batch.max(1)) {
            write(&mut client, chunk).await.map_err(|e| pg_text(&e))?;
        }
        let seconds = started.elapsed().as_secs_f64();
        Ok(Floor {
            seconds,
            backend_cpu: cpu::of_process(pid as u32)?.saturating_sub(cpu_before),
        })
    }
    .await;
    db.drop_now().await?;
    outcome
}

/// One transaction: persons, keys and documents, each by one binary COPY.
async fn write(
    client: &mut tokio_postgres::Client,
    persons: &[NewRegistryPerson],
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // As the import's transactions (see `storage::postgres::write_registry`).
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await?;
    let now = time::OffsetDateTime::now_utc();
    let writer = BinaryCopyInWriter::new(tx.copy_in(PERSONS).await?, &PERSON_TYPES);
    let mut writer = std::pin::pin!(writer);
    for new in persons {
        let p = &new.person;
        let sex = p.sex.map(|s| match s {
            iin_gateway::domain::application::Sex::Male => "M",
            iin_gateway::domain::application::Sex::Female => "F",
        });
        let row: [&(dyn ToSql + Sync); 11] = [
            &p.iin,
            &json(&p.surname),
            &json(&p.given_names),
            &json(&p.patronymic),
            &p.birth_date,
            &sex,
            &p.citizenship,
            &json(&p.documents),
            &p.source,
            &p.spellings,
            &now,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    let sink = tx
        .copy_in("COPY registry_keys (key, iin) FROM STDIN (FORMAT binary)")
        .await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &[Type::INT8, Type::TEXT]));
    for new in persons {
        for key in &new.keys {
            writer.as_mut().write(&[key, &new.person.iin]).await?;
        }
    }
    writer.finish().await?;
    let sink = tx
        .copy_in("COPY registry_documents (number_normalized, iin) FROM STDIN (FORMAT binary)")
        .await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::TEXT]));
    for new in persons {
        for document in &new.person.documents {
            writer.as_mut().write(&[document, &new.person.iin]).await?;
        }
    }
    writer.finish().await?;
    tx.commit().await
}
