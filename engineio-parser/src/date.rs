//! Calendar dates from day counts, for the dates the protocols write (cookie `Expires`,
//! JavaScript's `Date` strings, msgpack timestamps as ISO 8601).

/// The proleptic Gregorian date (year, month 1–12, day 1–31) `days` after 1970-01-01 (before it
/// when negative), as JavaScript's `Date` counts.
///
/// The count is shifted to start on 0000-03-01, so that the leap day ends each year, then split
/// into cycles of 400 years (146 097 days), years of the cycle and days of the year, whose
/// months from March run 153 days per 5 months.
///
/// ```
/// use engineio_parser::date::civil_date;
///
/// assert_eq!(civil_date(0), (1970, 1, 1));
/// assert_eq!(civil_date(-1), (1969, 12, 31));
/// assert_eq!(civil_date(11_016), (2000, 2, 29));
/// ```
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    const CYCLE_DAYS: i64 = 146_097;
    // Days from 0000-03-01 to 1970-01-01.
    let from_march_0000 = days + 719_468;
    let cycle = from_march_0000.div_euclid(CYCLE_DAYS);
    let day_of_cycle = from_march_0000.rem_euclid(CYCLE_DAYS);
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / (CYCLE_DAYS - 1)) / 365;
    let day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    // Months counted from March: 0 = March .. 11 = February.
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 { march_month + 3 } else { march_month - 9 };
    let year = cycle * 400 + year_of_cycle + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::civil_date;

    /// Days from 1970-01-01, counted the slow way.
    fn days_of(year: i64, month: u32, day: u32) -> i64 {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_days = |y: i64, m: u32| match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut days = 0i64;
        if year >= 1970 {
            days += (1970..year).map(|y| if leap(y) { 366 } else { 365 }).sum::<i64>();
        } else {
            days -= (year..1970).map(|y| if leap(y) { 366 } else { 365 }).sum::<i64>();
        }
        days += (1..month).map(|m| i64::from(month_days(year, m))).sum::<i64>();
        days + i64::from(day) - 1
    }

    #[test]
    fn every_day_of_eight_centuries_and_the_edges_of_the_cycle() {
        // 1600-01-01 to 2400-12-31: every leap rule, both sides of 1970, two cycle starts.
        let mut expected = (1600i64, 1u32, 1u32);
        let first = days_of(1600, 1, 1);
        for days in first..=days_of(2400, 12, 31) {
            assert_eq!(civil_date(days), expected, "day {days}");
            let (y, m, d) = expected;
            let last = match m {
                2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            expected = match (m, d) {
                (12, 31) => (y + 1, 1, 1),
                (_, d) if d == last => (y, m + 1, 1),
                _ => (y, m, d + 1),
            };
        }
        assert_eq!(civil_date(days_of(-1, 12, 31)), (-1, 12, 31));
        assert_eq!(civil_date(days_of(0, 3, 1)), (0, 3, 1));
        assert_eq!(civil_date(days_of(275_760, 9, 13)), (275_760, 9, 13));
        assert_eq!(civil_date(days_of(-271_821, 4, 20)), (-271_821, 4, 20));
    }
}
