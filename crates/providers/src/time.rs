//! UTC calendar dates for the stores' signatures, which carry times as text: GCS and S3 as ISO
//! 8601 basic (`20190201T090000Z`), Azure as extended (`2026-01-01T01:00:00Z`); the service's
//! configuration reads its `created = "YYYY-MM-DD"` key dates with the same code. Proleptic Gregorian,
//! years 1970 to 9999; the conversion is the usual days-from-civil arithmetic on 400-year eras.

/// The last second written with a four-digit year: 9999-12-31T23:59:59Z.
pub(crate) const MAX_TIME: u64 = 253_402_300_799;

/// A moment split into its UTC calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: u64,
    pub month: u64,
    pub day: u64,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
}

impl Civil {
    /// `unix` (seconds since 1970-01-01T00:00:00Z) in UTC; `None` beyond year 9999.
    pub fn from_unix(unix: u64) -> Option<Civil> {
        if unix > MAX_TIME {
            return None;
        }
        let (days, secs) = (unix / 86_400, unix % 86_400);
        // Days since 0000-03-01, so that the leap day ends each 400-year era's year.
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z % 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        Some(Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        })
    }

    /// Back to Unix seconds; `None` for a field out of range (February 30th, hour 24, ...).
    pub fn to_unix(self) -> Option<u64> {
        let Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        } = self;
        if !(1970..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let y = if month <= 2 { year - 1 } else { year };
        let era = y / 400;
        let yoe = y % 400;
        let mp = if month > 2 { month - 3 } else { month + 9 };
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400 + hour * 3600 + minute * 60 + second)
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        let mut out = String::with_capacity(10);
        self.push_date(&mut out, Some('-'));
        out
    }

    /// The date fields, separated by `sep` when given.
    fn push_date(&self, out: &mut String, sep: Option<char>) {
        push_digits(out, self.year, 4);
        out.extend(sep);
        push_digits(out, self.month, 2);
        out.extend(sep);
        push_digits(out, self.day, 2);
    }

    /// `T`, the time fields separated by `sep` when given, and `Z`.
    fn push_time(&self, out: &mut String, sep: Option<char>) {
        out.push('T');
        push_digits(out, self.hour, 2);
        out.extend(sep);
        push_digits(out, self.minute, 2);
        out.extend(sep);
        push_digits(out, self.second, 2);
        out.push('Z');
    }

    /// `YYYYMMDD`.
    pub fn basic_date(&self) -> String {
        let mut out = String::with_capacity(8);
        self.push_date(&mut out, None);
        out
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub fn basic(&self) -> String {
        let mut out = String::with_capacity(16);
        self.push_date(&mut out, None);
        self.push_time(&mut out, None);
        out
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn extended(&self) -> String {
        let mut out = String::with_capacity(20);
        self.push_date(&mut out, Some('-'));
        self.push_time(&mut out, Some(':'));
        out
    }
}

/// Appends the last `width` decimal digits of `value`, zero-padded (every field here fits its
/// width: years are at most 9999).
fn push_digits(out: &mut String, value: u64, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u64.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

/// The decimal value of `text`, which must be all ASCII digits.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Midnight UTC of a strict `YYYY-MM-DD` (a real calendar date).
pub fn parse_date(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let field = |range: std::ops::Range<usize>| digits(text.get(range)?);
    Civil {
        year: field(0..4)?,
        month: field(5..7)?,
        day: field(8..10)?,
        hour: 0,
        minute: 0,
        second: 0,
    }
    .to_unix()
}

/// Parses `YYYYMMDDTHHMMSSZ` exactly.
pub(crate) fn parse_basic(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let field = |range: std::ops::Range<usize>| digits(text.get(range)?);
    Civil {
        year: field(0..4)?,
        month: field(4..6)?,
        day: field(6..8)?,
        hour: field(9..11)?,
        minute: field(11..13)?,
        second: field(13..15)?,
    }
    .to_unix()
}

/// Parses the UTC forms Azure accepts in a SAS: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MMZ` and
/// `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn parse_extended(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let field = |range: std::ops::Range<usize>| digits(text.get(range)?);
    let mut civil = Civil {
        year: field(0..4)?,
        month: field(5..7)?,
        day: field(8..10)?,
        hour: 0,
        minute: 0,
        second: 0,
    };
    match b.len() {
        10 => {}
        17 | 20 if b[10] == b'T' && b[13] == b':' && b[b.len() - 1] == b'Z' => {
            civil.hour = field(11..13)?;
            civil.minute = field(14..16)?;
            if b.len() == 20 {
                if b[16] != b':' {
                    return None;
                }
                civil.second = field(17..19)?;
            }
        }
        _ => return None,
    }
    civil.to_unix()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_moments_format_both_ways() {
        let c = Civil::from_unix(1_549_011_600).unwrap();
        assert_eq!(c.basic(), "20190201T090000Z");
        assert_eq!(c.extended(), "2019-02-01T09:00:00Z");
        assert_eq!(parse_basic("20190201T090000Z"), Some(1_549_011_600));
        assert_eq!(parse_extended("2026-01-01T01:00:00Z"), Some(1_767_229_200));
        assert_eq!(parse_extended("2026-01-01T01:00Z"), Some(1_767_229_200));
        assert_eq!(parse_extended("2026-01-01"), Some(1_767_225_600));
        assert_eq!(
            Civil::from_unix(0).unwrap().extended(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Civil::from_unix(MAX_TIME).unwrap().extended(),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(Civil::from_unix(MAX_TIME + 1), None);
        // A leap day, and the day after the end of a century that is not a leap year.
        assert_eq!(parse_extended("2024-02-29"), Some(1_709_164_800));
        assert_eq!(parse_extended("2100-02-29"), None);
    }

    #[test]
    fn malformed_times_are_refused() {
        for bad in [
            "2019020T090000Z",
            "20190201 090000Z",
            "20190201T090000",
            "20191301T090000Z",
            "20190201T240000Z",
            "2019-02-01T09:00:00",
            "2019-02-01T09:00:00.000Z",
            "+019-02-01",
        ] {
            assert_eq!(parse_basic(bad).or(parse_extended(bad)), None, "{bad}");
        }
    }

    #[test]
    fn every_day_round_trips() {
        for day in (0..=MAX_TIME / 86_400).step_by(997) {
            let t = day * 86_400 + 3_723;
            let c = Civil::from_unix(t).unwrap();
            assert_eq!(c.to_unix(), Some(t), "{c:?}");
            assert_eq!(parse_basic(&c.basic()), Some(t));
            assert_eq!(parse_extended(&c.extended()), Some(t));
        }
    }

    proptest::proptest! {
        /// The digit-by-digit writers spell every moment as `format!`'s zero-padded fields do.
        #[test]
        fn every_moment_is_spelled_as_format_spells_it(t in 0..=MAX_TIME) {
            let c = Civil::from_unix(t).unwrap();
            let (y, mo, d) = (c.year, c.month, c.day);
            let (h, mi, s) = (c.hour, c.minute, c.second);
            proptest::prop_assert_eq!(c.date(), format!("{y:04}-{mo:02}-{d:02}"));
            proptest::prop_assert_eq!(c.basic_date(), format!("{y:04}{mo:02}{d:02}"));
            proptest::prop_assert_eq!(c.basic(), format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"));
            proptest::prop_assert_eq!(
                c.extended(),
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
            );
        }
    }
}
