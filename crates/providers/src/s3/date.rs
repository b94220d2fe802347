//! `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`, UTC) from and to Unix seconds, with the proleptic Gregorian
//! calendar (days from civil dates and back, as in H. Hinnant's `chrono`-compatible algorithms).

/// Latest moment `X-Amz-Date` can write (9999-12-31T23:59:59Z): its year has four digits.
pub const MAX_UNIX: u64 = 253_402_300_799;

/// `YYYYMMDDTHHMMSSZ` for `unix`; `None` past [`MAX_UNIX`].
pub fn format(unix: u64) -> Option<String> {
    if unix > MAX_UNIX {
        return None;
    }
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    Some(format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

/// Unix seconds of a strict `YYYYMMDDTHHMMSSZ` (a real calendar date, no leap second, year ≥ 1970).
pub fn parse(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = &b[range];
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if y < 1970 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = u64::try_from(days_from_civil(y as i64, m as i64, d as i64)).ok()?;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (month 1-12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_moments() {
        assert_eq!(format(0).unwrap(), "19700101T000000Z");
        assert_eq!(format(1_369_353_600).unwrap(), "20130524T000000Z");
        assert_eq!(format(951_782_400).unwrap(), "20000229T000000Z");
        assert_eq!(format(MAX_UNIX).unwrap(), "99991231T235959Z");
        assert_eq!(format(MAX_UNIX + 1), None);
        assert_eq!(parse("20130524T000000Z"), Some(1_369_353_600));
        assert_eq!(parse("20261231T235959Z"), Some(1_798_761_599));
    }

    #[test]
    fn refuses_what_is_not_a_moment() {
        for bad in [
            "20130524T000000",
            "2013-05-24T000000Z",
            "20130230T000000Z",
            "21000229T000000Z",
            "20130524T240000Z",
            "20130524T235960Z",
            "19691231T235959Z",
            "2013052AT000000Z",
            "+0130524T000000Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert!(parse("20000229T000000Z").is_some());
    }

    #[test]
    fn format_and_parse_agree_everywhere() {
        // Every day of 400 years (a whole Gregorian cycle) and a few times of day.
        for day in 0..146_097u64 {
            let unix = day * 86_400 + (day * 7919) % 86_400;
            assert_eq!(parse(&format(unix).unwrap()), Some(unix), "day {day}");
        }
    }
}
