//! `iin-gateway registry import FILE...`: the command line around
//! [`super::import`]: progress bar, bad rows, summary.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::import::{ImportObserver, import_file};
use super::keys::KeyHasher;
use crate::config;
use crate::storage::{self, ImportCounts, StoreOptions};

/// Bad rows go to standard error as `FILE:LINE: problem`, above the bar.
struct Terminal {
    file: String,
    bar: ProgressBar,
}

impl ImportObserver for Terminal {
    fn bad_row(&self, line: u64, problem: &str) {
        self.bar
            .suspend(|| eprintln!("{}:{line}: {problem}", self.file));
    }

    fn progress(&self, bytes: u64) {
        self.bar.set_position(bytes);
    }

    fn building_indexes(&self) {
        self.bar
            .set_message(format!("{}: building the key index", self.file));
    }
}

fn bar(path: &Path) -> ProgressBar {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_message(path.display().to_string());
    bar
}

pub fn import(
    files: &[PathBuf],
    database: Option<String>,
    file: Option<PathBuf>,
    batch_size: usize,
) -> ExitCode {
    let mut overrides: Vec<(String, String)> = std::env::vars().collect();
    if let Some(database) = database {
        overrides.push((format!("{}DATABASE__URL", config::ENV_PREFIX), database));
    }
    let config = match config::load_from(file.as_deref(), overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(async {
        let options = StoreOptions {
            pool_size: config.database.pool_size,
            ..StoreOptions::default()
        };
        let store = match storage::open(&config.database.url, &options).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let hasher = KeyHasher::new(&config.matching.key_secret);
        let started = Instant::now();
        let mut total = ImportCounts::default();
        let mut bad = 0;
        let mut failed = false;
        for path in files {
            let bar = bar(path);
            let observer = Arc::new(Terminal {
                file: path.display().to_string(),
                bar: bar.clone(),
            });
            let outcome = import_file(
                Arc::clone(&store),
                path,
                &hasher,
                batch_size.max(1),
                observer,
            )
            .await;
            bar.finish_and_clear();
            match outcome {
                Ok(summary) => {
                    total += summary.counts;
                    bad += summary.bad_rows;
                    if let Some(build) = summary.bulk_load {
                        eprintln!(
                            "{}: loaded in bulk into an empty registry, key index built in {:.1} s",
                            path.display(),
                            build.as_secs_f64()
                        );
                    }
                    if summary.resumed_at_line > 1 {
                        eprintln!(
                            "{}: resumed at line {} (committed by an earlier run)",
                            path.display(),
                            summary.resumed_at_line
                        );
                    }
                }
                Err(e) => {
                    failed = true;
                    eprintln!("{}: {e}", path.display());
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "imported {}, already present {}, skipped {bad} bad rows in {seconds:.1} s ({:.0} persons/s)",
            total.inserted,
            total.already_present,
            (total.inserted + total.already_present) as f64 / seconds.max(1e-9)
        );
        if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}
