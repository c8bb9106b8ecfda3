//! How instants and dates are written in the gateway's documents.

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

/// RFC 3339 with the calendar's offset, whole seconds
/// (`2026-11-24T10:15:00+05:00`).
pub fn instant(at: OffsetDateTime, offset: UtcOffset) -> String {
    at.to_offset(offset)
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
        .format(&Rfc3339)
        .expect("every instant after year 0 formats as RFC 3339")
}

/// The calendar date of `at` in the calendar's offset.
pub fn local_date(at: OffsetDateTime, offset: UtcOffset) -> Date {
    at.to_offset(offset).date()
}
