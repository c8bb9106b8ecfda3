//! `iin-gateway audit verify` and `audit show`: the operators' view of the
//! audit log, read from the database with the configured key.

use std::process::ExitCode;

use crate::storage::Store;

use super::chain::{Break, Reason, Sealed, Summary, Verifier};
use super::keys::AuditKey;
use super::sealer::{SETTLE_PATIENCE, seal_settled};

/// Records read per query while verifying.
const PAGE: usize = 10_000;

/// What `audit verify` found.
#[derive(Debug)]
pub enum Verdict {
    Intact { summary: Summary, unsealed: i64 },
    Broken(Break),
}

/// Seals what is committed (waiting for any other sealer and, a while, for
/// transactions still running), then checks the
/// whole chain against its head, page by page.
pub async fn verify(
    store: &dyn Store,
    key: &AuditKey,
) -> Result<Verdict, crate::storage::StoreError> {
    seal_settled(store, key.chain(), SETTLE_PATIENCE).await?;
    let mut verifier = Verifier::new(key.chain());
    loop {
        let page = store.audit_records(verifier.position(), PAGE).await?;
        let done = page.len() < PAGE;
        for record in &page {
            if let Err(broken) = verifier.check(record) {
                return Ok(Verdict::Broken(broken));
            }
        }
        if done {
            break;
        }
    }
    // Records committed after the seal above are not checked yet.
    let state = store.audit_state().await?;
    let Some(head) = state.head else {
        return Ok(Verdict::Broken(Break {
            position: verifier.position() + 1,
            id: None,
            reason: Reason::HeadMissing,
        }));
    };
    Ok(match verifier.finish(&head) {
        Ok(summary) => Verdict::Intact {
            summary,
            unsealed: state.unsealed,
        },
        Err(broken) => Verdict::Broken(broken),
    })
}

/// Runs `audit verify` and prints its one-line verdict.
pub async fn run_verify(store: &dyn Store, key: &AuditKey) -> ExitCode {
    if key.is_built_in() {
        eprintln!("warning: audit.key is not set; verifying with the built-in development key");
    }
    match verify(store, key).await {
        Ok(Verdict::Intact { summary, unsealed }) => {
            println!(
                "audit log intact: {} records, positions 1-{}, head {}; {} committed since, not yet sealed",
                summary.records,
                summary.head.seq,
                hex::encode(summary.head.hash),
                unsealed
            );
            ExitCode::SUCCESS
        }
        Ok(Verdict::Broken(broken)) => {
            println!("audit log broken at {broken}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints sealed records from position `after + 1`, tab-separated, with
/// hashes in hex.
pub async fn run_show(store: &dyn Store, after: i64, limit: usize) -> ExitCode {
    match store.audit_records(after, limit).await {
        Ok(records) => {
            println!(
                "seq\tid\tat\tkind\tactor\tsender\tapplication\toutcome\tcode\tmessage_hash\tiin_hash\tdocument_hash\tdetail\thash"
            );
            for record in &records {
                println!("{}", line(record));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn line(record: &Sealed) -> String {
    let e = &record.event;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let bytes = |v: &Option<Vec<u8>>| v.as_ref().map(hex::encode).unwrap_or_default();
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        record.seq,
        e.id,
        e.at,
        e.kind,
        e.actor,
        text(&e.sender_id),
        text(&e.application_number),
        e.outcome,
        text(&e.code),
        bytes(&e.message_hash),
        bytes(&e.iin_hash),
        bytes(&e.document_hash),
        e.detail,
        hex::encode(&record.hash)
    )
}

/// The keyed hash an operator looks for: `iin`, `document` or `message`
/// (`SENDER/MESSAGE_ID`).
pub fn hash_of(key: &AuditKey, kind: &str, value: &str) -> Option<String> {
    let hash = match kind {
        "iin" => key.iin(value),
        "document" => key.document(value),
        "message" => {
            let (sender, message) = value.split_once('/')?;
            key.message(sender, message)
        }
        _ => return None,
    };
    Some(hex::encode(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_for_operators_match_the_records() {
        let key = AuditKey::new("a secret of the test, long enough");
        assert_eq!(
            hash_of(&key, "iin", "900704300015"),
            Some(hex::encode(key.iin("900704300015")))
        );
        assert_eq!(
            hash_of(&key, "message", "GK-01/m-1"),
            Some(hex::encode(key.message("GK-01", "m-1")))
        );
        assert_eq!(hash_of(&key, "message", "no-slash"), None);
        assert_eq!(hash_of(&key, "name", "x"), None);
    }
}
