//! What reading a document into the element tree costs, beside the floor:
//! quick-xml's namespace-aware event reader walking the same text without
//! building anything. Documents: an `MvdResult` (read once per result) and
//! a `RequestBatch` of 50 requests (the simulator's and load generator's
//! read of a lease answer), both from the committed fixtures.
//!
//! Rounds alternate tree and floor; each round times a fixed number of
//! reads and the figure is the median per read over the rounds.

use std::hint::black_box;
use std::time::Instant;

use quick_xml::events::Event;
use quick_xml::reader::NsReader;

const ROUNDS: usize = 9;

fn main() {
    let fixtures = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/mvd/result-conflict"
    );
    let read = |name: &str| {
        std::fs::read_to_string(format!("{fixtures}/{name}"))
            .unwrap_or_else(|e| panic!("{fixtures}/{name}: {e}"))
    };
    let result = read("result.xml");
    let batch = batch_of(&read("batch.xml"), 50);
    println!("| document | bytes | tree us/read | quick-xml events us/read | tree/events |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, text, reads) in [
        ("MvdResult", result.as_str(), 20_000),
        ("RequestBatch of 50", batch.as_str(), 200),
    ] {
        let (tree, events) = measure(text, reads);
        println!(
            "| {name} | {} | {tree:.2} | {events:.2} | {:.2} |",
            text.len(),
            tree / events
        );
    }
}

/// The fixture's one request repeated `n` times in its batch.
fn batch_of(one: &str, n: usize) -> String {
    let start = one.find("<Request ").expect("a Request");
    let end = one.find("</RequestBatch>").expect("the batch's end");
    let mut batch = String::from(&one[..start]);
    for _ in 0..n {
        batch.push_str(&one[start..end]);
    }
    batch.push_str("</RequestBatch>\n");
    batch
}

/// Median microseconds per read: the tree, then the event floor.
fn measure(text: &str, reads: usize) -> (f64, f64) {
    let limits = gateway_xml::Limits::default();
    let mut tree = Vec::with_capacity(ROUNDS);
    let mut events = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        tree.push(per_read(reads, || {
            black_box(gateway_xml::parse(text, &limits).expect("the fixture reads"));
        }));
        events.push(per_read(reads, || {
            black_box(walk(text));
        }));
    }
    (median(&mut tree), median(&mut events))
}

fn per_read(reads: usize, mut one: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..reads {
        one();
    }
    started.elapsed().as_secs_f64() * 1e6 / reads as f64
}

/// Every event resolved and every text unescaped, nothing kept.
fn walk(text: &str) -> usize {
    let mut reader = NsReader::from_str(text);
    let mut seen = 0;
    loop {
        match reader.read_resolved_event() {
            Ok((_, Event::Eof)) => return seen,
            Ok((_, Event::Text(t))) => seen += t.xml10_content().len(),
            Ok((_, Event::Start(tag) | Event::Empty(tag))) => {
                seen += tag.attributes().filter_map(Result::ok).count();
            }
            Ok(_) => seen += 1,
            Err(e) => panic!("the fixture reads: {e}"),
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
