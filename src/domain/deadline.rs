//! Deadlines: the regulation's time norms and the working calendar they are
//! counted in.

use std::collections::BTreeSet;

use time::{Date, Duration, Month, OffsetDateTime, Time, UtcOffset, Weekday};

use super::error::InvalidValue;
use super::lifecycle::State;

/// The regulation's time norms for the steps the gateway keeps in view
/// (sections 6 and 9; the brief's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Norms {
    /// Checking the package for completeness and correctness.
    pub document_check: Duration,
    /// Registering the application and sending it to the MVD system (the
    /// regulation says 5-10 minutes; the upper bound is the deadline).
    pub registration_and_transfer: Duration,
    /// The MVD operator's check and formation of the IIN or an error notice.
    pub mvd_processing: Duration,
    /// Issuing the certificate (or the notice) to the applicant.
    pub certificate_issue: Duration,
}

impl Default for Norms {
    fn default() -> Norms {
        Norms {
            document_check: Duration::minutes(20),
            registration_and_transfer: Duration::minutes(10),
            mvd_processing: Duration::hours(4),
            certificate_issue: Duration::minutes(10),
        }
    }
}

/// The fixed-date public holidays (days off) of the Labour Code for `year`,
/// as in force since 2022: 1-2 January, 8 March, 21-23 March (Nauryz), 1, 7
/// and 9 May, 6 July, 30 August, 25 October, 16 December.
///
/// Not included, because no fixed rule gives them: the first day of Kurban
/// Ait (lunar calendar) and the days off the government moves by decree. Add
/// those to a calendar with [`WorkingCalendar::add_holidays`].
pub fn kazakhstan_fixed_holidays(year: i32) -> Vec<Date> {
    use Month::*;
    const FIXED: [(Month, u8); 13] = [
        (January, 1),
        (January, 2),
        (March, 8),
        (March, 21),
        (March, 22),
        (March, 23),
        (May, 1),
        (May, 7),
        (May, 9),
        (July, 6),
        (August, 30),
        (October, 25),
        (December, 16),
    ];
    FIXED
        .iter()
        .filter_map(|&(month, day)| Date::from_calendar_date(year, month, day).ok())
        .collect()
}

/// Years the default calendar knows the fixed holidays for: from the
/// regulation's year well past any deadline the gateway will compute.
pub const DEFAULT_HOLIDAY_YEARS: std::ops::RangeInclusive<i32> = 2019..=2100;

/// When working time runs: opening hours on working days that are not
/// holidays, in one fixed UTC offset.
///
/// Built through [`WorkingCalendar::new`], which guarantees there is working
/// time in every week, so adding working time always ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    offset: UtcOffset,
    day_start: Time,
    day_end: Time,
    /// Indexed by `Weekday::number_days_from_monday`.
    working_days: [bool; 7],
    holidays: BTreeSet<Date>,
}

impl Default for WorkingCalendar {
    /// Kazakhstan: UTC+05:00 (the single zone since March 2024), 09:00-18:00,
    /// Monday to Friday, the fixed holidays of 2019-2100.
    fn default() -> WorkingCalendar {
        use Weekday::*;
        let mut calendar = WorkingCalendar::new(
            UtcOffset::from_hms(5, 0, 0).expect("+05:00 is a valid offset"),
            Time::from_hms(9, 0, 0).expect("09:00 is a valid time"),
            Time::from_hms(18, 0, 0).expect("18:00 is a valid time"),
            &[Monday, Tuesday, Wednesday, Thursday, Friday],
            BTreeSet::new(),
        )
        .expect("the default calendar has working hours");
        calendar.add_holidays(DEFAULT_HOLIDAY_YEARS.flat_map(kazakhstan_fixed_holidays));
        calendar
    }
}

impl WorkingCalendar {
    pub fn new(
        offset: UtcOffset,
        day_start: Time,
        day_end: Time,
        working_days: &[Weekday],
        holidays: BTreeSet<Date>,
    ) -> Result<WorkingCalendar, InvalidValue> {
        const FIELD: &str = "working calendar";
        if day_start >= day_end {
            return Err(InvalidValue::new(FIELD, "the day ends before it starts"));
        }
        if working_days.is_empty() {
            return Err(InvalidValue::new(FIELD, "no working days in the week"));
        }
        let mut days = [false; 7];
        for day in working_days {
            days[usize::from(day.number_days_from_monday())] = true;
        }
        Ok(WorkingCalendar {
            offset,
            day_start,
            day_end,
            working_days: days,
            holidays,
        })
    }

    pub fn add_holidays(&mut self, dates: impl IntoIterator<Item = Date>) {
        self.holidays.extend(dates);
    }

    pub fn offset(&self) -> UtcOffset {
        self.offset
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        self.working_days[usize::from(date.weekday().number_days_from_monday())]
            && !self.holidays.contains(&date)
    }

    /// The earliest instant by which `d` of working time has passed since
    /// `from`, in the calendar's offset.
    ///
    /// Time runs only inside opening hours of working days, so a start
    /// outside them counts from the next opening; an end that falls exactly
    /// on closing time stays there rather than moving to the next morning.
    /// A zero or negative `d` needs no working time and returns `from`.
    pub fn add_working(&self, from: OffsetDateTime, d: Duration) -> OffsetDateTime {
        let mut t = from.to_offset(self.offset);
        let mut left = d;
        if !left.is_positive() {
            return t;
        }
        loop {
            if self.is_working_day(t.date()) {
                let opening = t.replace_time(self.day_start);
                let closing = t.replace_time(self.day_end);
                if t < opening {
                    t = opening;
                }
                if t < closing {
                    let available = closing - t;
                    if left <= available {
                        return t + left;
                    }
                    left -= available;
                }
            }
            // `new` guarantees a working day within every week and holidays
            // are finite, so this loop ends; only the end of `Date`'s range
            // could stop it, and there the latest instant is the answer.
            match t.date().next_day() {
                Some(next) => t = t.replace_date(next).replace_time(self.day_start),
                None => return t,
            }
        }
    }
}

/// When the result (certificate or notice) is due for an application
/// accepted at `accepted_at`: registration and transfer, the MVD's
/// processing and the issue of the certificate, in working time.
pub fn result_due_at(
    accepted_at: OffsetDateTime,
    norms: &Norms,
    calendar: &WorkingCalendar,
) -> OffsetDateTime {
    let total = norms.registration_and_transfer + norms.mvd_processing + norms.certificate_issue;
    calendar.add_working(accepted_at, total)
}

/// When the step that starts on entering `state` at `entered_at` is due, or
/// `None` for a state no norm governs. Each re-entry into `Queued` (an
/// expired lease) restarts the MVD's clock, since the regulation's four hours
/// are the operator's time with the application.
pub fn step_due(
    state: State,
    entered_at: OffsetDateTime,
    norms: &Norms,
    calendar: &WorkingCalendar,
) -> Option<OffsetDateTime> {
    let norm = match state {
        State::Accepted => norms.registration_and_transfer,
        State::Queued | State::Leased => norms.mvd_processing,
        State::IinFormed | State::Rejected => norms.certificate_issue,
        State::Refused | State::DeadLettered => return None,
    };
    Some(calendar.add_working(entered_at, norm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, time};

    fn minutes(m: i64) -> Duration {
        Duration::minutes(m)
    }

    #[test]
    fn friday_evening_runs_into_monday_morning() {
        let calendar = WorkingCalendar::default();
        assert_eq!(
            calendar.add_working(datetime!(2026-11-27 17:50 +05:00), minutes(20)),
            datetime!(2026-11-30 09:10 +05:00)
        );
    }

    #[test]
    fn a_holiday_is_skipped() {
        let calendar = WorkingCalendar::default();
        // 16 December 2026 is a Wednesday and Independence Day.
        assert_eq!(
            calendar.add_working(datetime!(2026-12-15 17:55 +05:00), minutes(10)),
            datetime!(2026-12-17 09:05 +05:00)
        );
    }

    #[test]
    fn a_start_before_opening_begins_at_opening() {
        let calendar = WorkingCalendar::default();
        assert_eq!(
            calendar.add_working(datetime!(2026-11-24 07:00 +05:00), minutes(20)),
            datetime!(2026-11-24 09:20 +05:00)
        );
        assert_eq!(
            calendar.add_working(datetime!(2026-11-24 19:00 +05:00), minutes(20)),
            datetime!(2026-11-25 09:20 +05:00)
        );
    }

    #[test]
    fn ending_at_closing_time_stays_there() {
        let calendar = WorkingCalendar::default();
        assert_eq!(
            calendar.add_working(datetime!(2026-11-24 17:50 +05:00), minutes(10)),
            datetime!(2026-11-24 18:00 +05:00)
        );
    }

    #[test]
    fn zero_needs_no_working_time() {
        let calendar = WorkingCalendar::default();
        let saturday = datetime!(2026-11-28 12:00 +05:00);
        assert_eq!(calendar.add_working(saturday, Duration::ZERO), saturday);
        assert_eq!(calendar.add_working(saturday, minutes(-5)), saturday);
    }

    #[test]
    fn other_offsets_are_converted_and_the_result_keeps_the_calendars() {
        let calendar = WorkingCalendar::default();
        let due = calendar.add_working(datetime!(2026-11-24 05:00 UTC), minutes(30));
        assert_eq!(due, datetime!(2026-11-24 10:30 +05:00));
        assert_eq!(due.offset(), calendar.offset());
    }

    #[test]
    fn long_spans_cross_weekends_and_new_year() {
        let calendar = WorkingCalendar::default();
        // Thu 31 Dec 16:00: 2 h that day; Fri 1 Jan a holiday; 2-3 Jan the
        // weekend (and 2 Jan a holiday too); 2 h more on Monday.
        assert_eq!(
            calendar.add_working(datetime!(2026-12-31 16:00 +05:00), Duration::hours(4)),
            datetime!(2027-01-04 11:00 +05:00)
        );
    }

    #[test]
    fn result_due_for_the_contract_example() {
        let due = result_due_at(
            datetime!(2026-11-24 10:15 +05:00),
            &Norms::default(),
            &WorkingCalendar::default(),
        );
        assert_eq!(due, datetime!(2026-11-24 14:35 +05:00));
    }

    #[test]
    fn step_norms_by_state() {
        let norms = Norms::default();
        let calendar = WorkingCalendar::default();
        let at = datetime!(2026-11-24 10:00 +05:00);
        let due = |state| step_due(state, at, &norms, &calendar);
        assert_eq!(
            due(State::Accepted),
            Some(datetime!(2026-11-24 10:10 +05:00))
        );
        assert_eq!(due(State::Queued), Some(datetime!(2026-11-24 14:00 +05:00)));
        assert_eq!(due(State::Leased), Some(datetime!(2026-11-24 14:00 +05:00)));
        assert_eq!(
            due(State::IinFormed),
            Some(datetime!(2026-11-24 10:10 +05:00))
        );
        assert_eq!(
            due(State::Rejected),
            Some(datetime!(2026-11-24 10:10 +05:00))
        );
        assert_eq!(due(State::Refused), None);
        assert_eq!(due(State::DeadLettered), None);
    }

    #[test]
    fn fixed_holidays() {
        let holidays = kazakhstan_fixed_holidays(2026);
        assert_eq!(holidays.len(), 13);
        assert!(holidays.contains(&date!(2026 - 03 - 22)));
        let calendar = WorkingCalendar::default();
        assert!(!calendar.is_working_day(date!(2026 - 03 - 23)));
        assert!(calendar.is_working_day(date!(2026 - 03 - 24)));
        assert!(!calendar.is_working_day(date!(2100 - 12 - 16)));
    }

    #[test]
    fn added_holidays_count() {
        let mut calendar = WorkingCalendar::default();
        assert!(calendar.is_working_day(date!(2026 - 05 - 27)));
        calendar.add_holidays([date!(2026 - 05 - 27)]);
        assert!(!calendar.is_working_day(date!(2026 - 05 - 27)));
    }

    #[test]
    fn a_calendar_without_working_time_is_refused() {
        let offset = UtcOffset::UTC;
        assert!(
            WorkingCalendar::new(
                offset,
                time!(18:00),
                time!(9:00),
                &[Weekday::Monday],
                BTreeSet::new()
            )
            .is_err()
        );
        assert!(
            WorkingCalendar::new(
                offset,
                time!(9:00),
                time!(9:00),
                &[Weekday::Monday],
                BTreeSet::new()
            )
            .is_err()
        );
        assert!(
            WorkingCalendar::new(offset, time!(9:00), time!(18:00), &[], BTreeSet::new()).is_err()
        );
    }

    #[test]
    fn a_seven_day_calendar_counts_the_weekend() {
        use Weekday::*;
        // The day's end is exclusive, so the last nanosecond before midnight
        // is not working time and shows up in the result.
        let calendar = WorkingCalendar::new(
            UtcOffset::UTC,
            time!(0:00),
            time!(23:59:59.999_999_999),
            &[
                Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
            ],
            BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(
            calendar.add_working(datetime!(2026-11-28 23:00 UTC), Duration::hours(2)),
            datetime!(2026-11-29 01:00:00.000_000_001 UTC)
        );
    }
}
