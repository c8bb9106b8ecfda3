//! `iin-loadgen registry`: the duplicate check against a PostgreSQL registry
//! of generated persons (issue 4). Generates N persons with the matching
//! evaluation's generator, writes them as a CSV export and imports it through
//! `registry import`'s code path (persons/s), then runs Q checks (about half
//! true duplicates) at the given concurrency directly through the store and
//! the matching engine: keys, candidate lookup, scoring. Beside it, in the
//! same invocation, the bare candidate lookup alone, so the difference is
//! what scoring costs.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use iin_gateway::domain::iin::Iin;
use iin_gateway::matching::eval::generator::{self, Person};
use iin_gateway::matching::eval::rng::Rng;
use iin_gateway::matching::{Identity, MatchingConfig, Outcome, PreparedIdentity};
use iin_gateway::registry::import::{ImportObserver, import_file, keyed_batch, registry_person};
use iin_gateway::registry::{KeyHasher, screen_persons};
use iin_gateway::storage::{self, NewRegistryPerson, Store, StoreOptions};

use crate::cpu;
use crate::registry_baseline;
use crate::scratch::{ScratchDb, ScratchDir, check_loopback, with_database};
use crate::stats::Summary;

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Server to create the scratch database on (loopback only).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database: String,
    /// Persons in the generated registry.
    #[arg(long, default_value_t = 100_000)]
    persons: usize,
    /// Duplicate checks to run (about half true duplicates).
    #[arg(long, default_value_t = 20_000)]
    queries: usize,
    /// Checks in flight at once.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Persons per import transaction.
    #[arg(long, default_value_t = iin_gateway::registry::import::DEFAULT_BATCH)]
    batch_size: usize,
    /// Most registry persons scored per check (`matching.max_candidates`).
    #[arg(long, default_value_t = 100)]
    max_candidates: usize,
    /// Keep the scratch database (its name is printed), for
    /// `--existing-database`.
    #[arg(long)]
    keep_database: bool,
    /// Run the checks against a database kept by an earlier run with the
    /// same `--persons` and `--seed`: no CSV, no import.
    #[arg(long)]
    existing_database: Option<String>,
    /// Skip the baseline (raw binary COPY of the same persons).
    #[arg(long)]
    no_baseline: bool,
}

/// One duplicate check to run, and the truth about it.
#[derive(Clone)]
struct Query {
    identity: Identity,
    /// For a true duplicate, the IIN of the registry person it is.
    holder: Option<String>,
}

/// What one check found, measured against the truth.
#[derive(Default, Clone, Copy)]
struct Found {
    /// Anything flagged (the bare lookup: any candidate found).
    flagged: bool,
    /// A true duplicate's holder flagged (bare: among the candidates).
    holder: bool,
    /// A MATCH naming someone other than the holder (or anyone, for a new
    /// person): a false IIN_ALREADY_REGISTERED.
    wrong_match: bool,
}

struct Quiet;

impl ImportObserver for Quiet {
    fn bad_row(&self, line: u64, problem: &str) {
        eprintln!("generated row {line}: {problem}");
    }
    fn progress(&self, _: u64) {}
}

fn iin_for(index: usize) -> String {
    let mut n = 10_000_000_000u64 + index as u64 * 7;
    loop {
        let digits = format!("{n:011}");
        let mut first = [0u8; 11];
        for (d, c) in first.iter_mut().zip(digits.bytes()) {
            *d = c - b'0';
        }
        if let Some(iin) = Iin::from_first_eleven(&first) {
            return iin.as_str().to_owned();
        }
        n += 1;
    }
}

fn write_csv(path: &std::path::Path, records: &[Identity]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
    out.write_record([
        "iin",
        "surname",
        "name",
        "patronymic",
        "birth_date",
        "gender",
        "citizenship",
        "document_numbers",
        "latin_surname",
        "latin_name",
        "latin_patronymic",
    ])
    .map_err(|e| e.to_string())?;
    let part = |forms: &[String], i: usize| forms.get(i).cloned().unwrap_or_default();
    for (i, r) in records.iter().enumerate() {
        let sex = match r.sex {
            Some(iin_gateway::domain::application::Sex::Male) => "M",
            Some(iin_gateway::domain::application::Sex::Female) => "F",
            None => "",
        };
        out.write_record([
            iin_for(i),
            part(&r.surname, 0),
            part(&r.given_names, 0),
            part(&r.patronymic, 0),
            r.birth_date.to_string(),
            sex.to_owned(),
            r.citizenship
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            r.document_numbers.join(";"),
            part(&r.surname, 1),
            part(&r.given_names, 1),
            part(&r.patronymic, 1),
        ])
        .map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(())
}

/// The persons of the CSV as the import makes them, keyed (for the
/// baseline, before its clock starts). Prints the CPU per person of reading
/// and of keying, the import's two stages before the store.
fn keyed_persons(csv: &std::path::Path) -> Result<Vec<NewRegistryPerson>, String> {
    let cpu_at_start = cpu::of_process(std::process::id())?;
    let file = std::fs::File::open(csv).map_err(|e| e.to_string())?;
    let export = gbd_fl::CsvExport::new(std::io::BufReader::new(file)).map_err(|e| e.problem)?;
    let mut persons = Vec::new();
    for item in export {
        if let gbd_fl::Item::Person(p) = item.map_err(|e| e.problem)? {
            let mut person = registry_person(&p, "import:registry.csv")?;
            person.documents.sort_unstable();
            person.documents.dedup();
            persons.push(person);
        }
    }
    let cpu_read = cpu::of_process(std::process::id())?;
    let count = persons.len().max(1) as f64;
    let keyed = keyed_batch(persons, &KeyHasher::new(""));
    let cpu_keyed = cpu::of_process(std::process::id())?;
    println!(
        "CPU per person outside the store: reading and checking {:.1} µs, keying {:.1} µs",
        (cpu_read - cpu_at_start).as_secs_f64() * 1e6 / count,
        (cpu_keyed - cpu_read).as_secs_f64() * 1e6 / count,
    );
    Ok(keyed)
}

/// One check: keys, lookup, and (unless `bare`) scoring.
async fn check(
    store: &dyn Store,
    hasher: &KeyHasher,
    config: &MatchingConfig,
    query: &Query,
    bare: bool,
    max_candidates: usize,
) -> Result<Found, String> {
    let prepared = PreparedIdentity::new(&query.identity);
    let keys = hasher.keys_of(&prepared);
    let persons = store
        .registry_candidates(&keys, max_candidates)
        .await
        .map_err(|e| e.to_string())?;
    let is_holder = |iin: &str| query.holder.as_deref() == Some(iin);
    if bare {
        return Ok(Found {
            flagged: !persons.is_empty(),
            holder: persons.iter().any(|p| is_holder(&p.iin)),
            wrong_match: false,
        });
    }
    let flagged = screen_persons(&prepared, &persons, config);
    Ok(Found {
        flagged: !flagged.is_empty(),
        holder: flagged.iter().any(|(i, _)| is_holder(&persons[*i].iin)),
        wrong_match: flagged
            .first()
            .is_some_and(|(i, d)| d.outcome == Outcome::Match && !is_holder(&persons[*i].iin)),
    })
}

/// A phase's latencies and how many checks flagged, found the holder, and
/// matched the wrong person.
struct PhaseResult {
    summary: Summary,
    flagged: usize,
    holders: usize,
    wrong_matches: usize,
}

async fn run_checks(
    store: Arc<dyn Store>,
    queries: Arc<Vec<Query>>,
    concurrency: usize,
    bare: bool,
    max_candidates: usize,
) -> Result<PhaseResult, String> {
    let hasher = KeyHasher::new("");
    let config = MatchingConfig::default();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (store, queries, hasher, config) = (
            Arc::clone(&store),
            Arc::clone(&queries),
            hasher.clone(),
            config.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut counts = [0usize; 3];
            for query in queries.iter().skip(worker).step_by(concurrency) {
                let t = Instant::now();
                let found = check(
                    store.as_ref(),
                    &hasher,
                    &config,
                    query,
                    bare,
                    max_candidates,
                )
                .await?;
                latencies.push(t.elapsed().as_micros() as u64);
                for (count, hit) in
                    counts
                        .iter_mut()
                        .zip([found.flagged, found.holder, found.wrong_match])
                {
                    *count += usize::from(hit);
                }
            }
            Ok::<_, String>((latencies, counts))
        }));
    }
    let mut all = Vec::new();
    let mut totals = [0usize; 3];
    for task in tasks {
        let (latencies, counts) = task.await.map_err(|e| e.to_string())??;
        all.extend(latencies);
        for (total, count) in totals.iter_mut().zip(counts) {
            *total += count;
        }
    }
    Ok(PhaseResult {
        summary: Summary::new(all, started.elapsed()),
        flagged: totals[0],
        holders: totals[1],
        wrong_matches: totals[2],
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub async fn run(args: RegistryArgs) -> Result<(), String> {
    check_loopback(&args.database)?;
    println!(
        "iin-loadgen registry --persons {} --queries {} --concurrency {} --seed {} ({} CPUs)",
        args.persons,
        args.queries,
        args.concurrency,
        args.seed,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut rng = Rng::new(args.seed);
    let generated = Instant::now();
    let people: Vec<Person> = (0..args.persons)
        .map(|_| generator::person(&mut rng))
        .collect();
    let records: Vec<Identity> = people
        .iter()
        .map(|p| generator::registry_record(p, &mut rng))
        .collect();
    let mut queries = Vec::with_capacity(args.queries);
    for i in 0..args.queries {
        if i % 2 == 0 {
            let holder = rng.below(people.len());
            queries.push(Query {
                identity: generator::duplicate(&people[holder], &mut rng).0,
                holder: Some(iin_for(holder)),
            });
        } else {
            let fresh = generator::person(&mut rng);
            queries.push(Query {
                identity: generator::application(&fresh, &mut rng),
                holder: None,
            });
        }
    }
    let duplicates = queries.iter().filter(|q| q.holder.is_some()).count();
    let dir = ScratchDir::create("registry")?;
    let csv = dir.path.join("registry.csv");
    if args.existing_database.is_none() {
        write_csv(&csv, &records)?;
    }
    let size = std::fs::metadata(&csv).map_or(0, |m| m.len());
    println!(
        "generated {} persons ({:.1} MB CSV) and {} queries ({duplicates} true duplicates) in {:.1} s",
        args.persons,
        size as f64 / 1e6,
        args.queries,
        generated.elapsed().as_secs_f64()
    );

    let floor = if args.existing_database.is_none() && !args.no_baseline {
        let keyed = keyed_persons(&csv)?;
        Some(registry_baseline::run(&args.database, &keyed, args.batch_size).await?)
    } else {
        None
    };

    let (db, url) = match &args.existing_database {
        Some(name) => (None, with_database(&args.database, name)?),
        None => {
            let name = format!("iin_loadgen_registry_{}", std::process::id());
            let db = ScratchDb::create(&args.database, &name).await?;
            let url = db.url.clone();
            (Some(db), url)
        }
    };
    let outcome = async {
        let store = storage::open(&url, &StoreOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        if floor.is_some() {
            // The baseline's writes are flushed before the import starts.
            client
                .batch_execute("CHECKPOINT")
                .await
                .map_err(|e| e.to_string())?;
        }
        if args.existing_database.is_none() {
            let own_cpu = cpu::of_process(std::process::id())?;
            let backend_cpu = cpu::of_backends(&client).await?;
            let started = Instant::now();
            let summary = import_file(
                Arc::clone(&store),
                &csv,
                &KeyHasher::new(""),
                args.batch_size,
                Arc::new(Quiet),
            )
            .await
            .map_err(|e| e.to_string())?;
            let seconds = started.elapsed().as_secs_f64();
            let own_cpu = cpu::of_process(std::process::id())?.saturating_sub(own_cpu);
            let backend_cpu = cpu::of_backends(&client).await?.saturating_sub(backend_cpu);
            let inserted = summary.counts.inserted.max(1) as f64;
            let rate = summary.counts.inserted as f64 / seconds;
            println!(
                "import: {} persons in {seconds:.1} s = {rate:.0} persons/s (bad rows {}, {}); \
                 CPU per person: import {:.1} µs, PostgreSQL backends {:.1} µs",
                summary.counts.inserted,
                summary.bad_rows,
                match summary.bulk_load {
                    Some(build) => format!(
                        "bulk load, indexes built at the end in {:.1} s",
                        build.as_secs_f64()
                    ),
                    None => "indexes kept".to_owned(),
                },
                own_cpu.as_secs_f64() * 1e6 / inserted,
                backend_cpu.as_secs_f64() * 1e6 / inserted,
            );
            if let Some(floor) = &floor {
                let floor_rate = args.persons as f64 / floor.seconds;
                println!(
                    "baseline (raw binary COPY of the keyed persons, indexes kept): {} persons in \
                     {:.1} s = {floor_rate:.0} persons/s; CPU per person: PostgreSQL backend {:.1} µs",
                    args.persons,
                    floor.seconds,
                    floor.backend_cpu.as_secs_f64() * 1e6 / args.persons.max(1) as f64,
                );
                println!("import/baseline: {:.2}x", rate / floor_rate);
            }
            // As autovacuum would after a bulk load: statistics and the
            // visibility map that lets lookups be index-only.
            for table in ["registry_keys", "registry_persons"] {
                client
                    .batch_execute(&format!("VACUUM ANALYZE {table}"))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        let count = |sql: &'static str| {
            let client = &client;
            async move {
                client
                    .query_one(sql, &[])
                    .await
                    .map(|row| row.get::<_, i64>(0))
                    .map_err(|e| e.to_string())
            }
        };
        let persons = count("SELECT count(*) FROM registry_persons").await?;
        let keys = count("SELECT count(*) FROM registry_keys").await?;
        println!(
            "registry: {persons} persons, {keys} keys ({:.1} per person)",
            keys as f64 / persons.max(1) as f64
        );

        let queries = Arc::new(queries);
        // Warm-up: one pass over a slice, so both phases see warm caches.
        let warm = Arc::new(queries.iter().take(1_000).cloned().collect::<Vec<_>>());
        run_checks(
            Arc::clone(&store),
            warm,
            args.concurrency,
            false,
            args.max_candidates,
        )
        .await?;
        println!(
            "phase                 checks   checks/s   p50 ms   p99 ms   max ms  flagged  holder found  wrong MATCH"
        );
        for (label, bare) in [
            ("lookup only (bare)", true),
            ("duplicate check", false),
            ("lookup only (bare)", true),
            ("duplicate check", false),
        ] {
            let r = run_checks(
                Arc::clone(&store),
                Arc::clone(&queries),
                args.concurrency,
                bare,
                args.max_candidates,
            )
            .await?;
            let s = &r.summary;
            println!(
                "{label:<20} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8} {:>6} of {:<5} {:>6}",
                s.count,
                s.per_second,
                ms(s.p50),
                ms(s.p99),
                ms(s.max),
                r.flagged,
                r.holders,
                duplicates,
                if bare {
                    "-".to_owned()
                } else {
                    r.wrong_matches.to_string()
                }
            );
        }
        std::io::stdout().flush().ok();
        Ok::<_, String>(())
    }
    .await;
    if let Some(db) = db {
        if args.keep_database {
            println!("kept database {}", db.name());
        } else {
            db.drop_now().await?;
        }
    }
    outcome
}
