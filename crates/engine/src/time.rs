//! Dates for `NOW`, `TODAY`, `DATEADD`, `DATEDIFF` and `FORMAT`, without a clock.
//!
//! A date travels through a script as ISO 8601 text in UTC:
//! `2024-05-01T10:20:30Z` for a time, `2024-05-01` for a day. The engine
//! never reads a clock: `NOW()` is the time the runtime passes to
//! [`crate::advance`]. The calendar arithmetic is the proleptic Gregorian
//! days-from-civil conversion (Howard Hinnant's algorithm).

const MS_PER_DAY: i64 = 86_400_000;

/// A point in time in UTC, to the millisecond, and whether it was written as a day only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instant {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub ms: i64,
    /// Written as a day (`2024-05-01`): printed back the same way.
    pub date_only: bool,
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The parts of a time: `(year, month, day, hour, minute, second, millisecond)`.
pub fn parts(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let days = ms.div_euclid(MS_PER_DAY);
    let rest = ms.rem_euclid(MS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    let secs = rest / 1000;
    (
        y,
        mo,
        d,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
        (rest % 1000) as u32,
    )
}

/// ISO 8601 text of a time (`2024-05-01T10:20:30Z`, with `.123` when it has milliseconds)
/// or, for a day, `2024-05-01`.
pub fn format_iso(instant: Instant) -> String {
    let (y, mo, d, h, mi, s, ms) = parts(instant.ms);
    if instant.date_only {
        return format!("{y:04}-{mo:02}-{d:02}");
    }
    if ms == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }
}

/// Reads `YYYY-MM-DD`, optionally followed by `T` or a blank, `HH:MM[:SS[.fff]]`
/// and `Z` or an offset `±HH:MM`.
pub fn parse_iso(text: &str) -> Option<Instant> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (year, month, day) = (
        num(0..4)?,
        u32::try_from(num(5..7)?).ok()?,
        u32::try_from(num(8..10)?).ok()?,
    );
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * MS_PER_DAY;
    if bytes.len() == 10 {
        return Some(Instant {
            ms,
            date_only: true,
        });
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') || bytes.len() < 16 || bytes[13] != b':' {
        return None;
    }
    let (hour, minute) = (num(11..13)?, num(14..16)?);
    if hour > 23 || minute > 59 {
        return None;
    }
    ms += (hour * 3600 + minute * 60) * 1000;
    let mut at = 16;
    if bytes.get(at) == Some(&b':') {
        let second = num(at + 1..at + 3)?;
        if second > 59 {
            return None;
        }
        ms += second * 1000;
        at += 3;
        if bytes.get(at) == Some(&b'.') {
            let digits = text[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            if digits == 0 {
                return None;
            }
            let frac = &text[at + 1..at + 1 + digits.min(3)];
            ms += frac.parse::<i64>().ok()? * 10_i64.pow(3 - frac.len() as u32);
            at += 1 + digits;
        }
    }
    match &text[at..] {
        "" | "Z" | "z" => {}
        offset => {
            let sign = match offset.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let minutes =
                digits[..2].parse::<i64>().ok()? * 60 + digits[2..].parse::<i64>().ok()?;
            ms -= sign * minutes * 60_000;
        }
    }
    Some(Instant {
        ms,
        date_only: false,
    })
}

/// A time unit of `DATEADD` / `DATEDIFF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    /// Reads a unit name: `"day"`, `"days"`, `"d"`, `"hour"`, `"h"`, `"n"` (VB minutes) ...
    pub fn parse(text: &str) -> Option<Unit> {
        Some(match text.trim().to_lowercase().as_str() {
            "ms" | "millisecond" | "milliseconds" => Unit::Millisecond,
            "s" | "ss" | "sec" | "second" | "seconds" => Unit::Second,
            "n" | "mi" | "min" | "minute" | "minutes" => Unit::Minute,
            "h" | "hh" | "hour" | "hours" => Unit::Hour,
            "d" | "dd" | "day" | "days" => Unit::Day,
            "w" | "ww" | "week" | "weeks" => Unit::Week,
            "m" | "mm" | "month" | "months" => Unit::Month,
            "y" | "yy" | "yyyy" | "year" | "years" => Unit::Year,
            _ => return None,
        })
    }

    fn fixed_ms(self) -> Option<i64> {
        Some(match self {
            Unit::Millisecond => 1,
            Unit::Second => 1000,
            Unit::Minute => 60_000,
            Unit::Hour => 3_600_000,
            Unit::Day => MS_PER_DAY,
            Unit::Week => 7 * MS_PER_DAY,
            Unit::Month | Unit::Year => return None,
        })
    }
}

/// `instant` moved by `amount` units. Months and years keep the day of the
/// month, clamped to the month's length (Jan 31 + 1 month = Feb 28/29).
pub fn add(instant: Instant, amount: i64, unit: Unit) -> Option<Instant> {
    let ms = match unit.fixed_ms() {
        Some(step) => instant.ms.checked_add(amount.checked_mul(step)?)?,
        None => {
            let months = if unit == Unit::Year {
                amount.checked_mul(12)?
            } else {
                amount
            };
            let days = instant.ms.div_euclid(MS_PER_DAY);
            let time = instant.ms.rem_euclid(MS_PER_DAY);
            let (y, m, d) = civil_from_days(days);
            let total = y.checked_mul(12)? + i64::from(m) - 1 + months;
            let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
            days_from_civil(ny, nm, d.min(days_in_month(ny, nm))) * MS_PER_DAY + time
        }
    };
    let date_only =
        instant.date_only && matches!(unit, Unit::Day | Unit::Week | Unit::Month | Unit::Year);
    Some(Instant { ms, date_only })
}

/// Whole units from `from` to `to` (negative when `to` is earlier), truncated toward zero.
pub fn diff(from: Instant, to: Instant, unit: Unit) -> i64 {
    match unit.fixed_ms() {
        Some(step) => (to.ms - from.ms) / step,
        None => {
            let (fy, fm, ..) = parts(from.ms);
            let (ty, tm, ..) = parts(to.ms);
            let mut months = (ty - fy) * 12 + i64::from(tm) - i64::from(fm);
            // A month counts only once its day and time have been reached.
            if months > 0 && add(from, months, Unit::Month).is_some_and(|m| m.ms > to.ms) {
                months -= 1;
            } else if months < 0 && add(from, months, Unit::Month).is_some_and(|m| m.ms < to.ms) {
                months += 1;
            }
            if unit == Unit::Year {
                months / 12
            } else {
                months
            }
        }
    }
}

/// A time written with a pattern of `yyyy yy MM dd HH mm ss`; other characters are kept.
pub fn format_pattern(instant: Instant, pattern: &str) -> String {
    let (y, mo, d, h, mi, s, ms) = parts(instant.ms);
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let text = match (c, run) {
            ('y', 4..) => Some(format!("{y:04}")),
            ('y', 2) => Some(format!("{:02}", y.rem_euclid(100))),
            ('M', 2..) => Some(format!("{mo:02}")),
            ('M', 1) => Some(mo.to_string()),
            ('d', 2..) => Some(format!("{d:02}")),
            ('d', 1) => Some(d.to_string()),
            ('H' | 'h', 2..) => Some(format!("{h:02}")),
            ('H' | 'h', 1) => Some(h.to_string()),
            ('m', 2..) => Some(format!("{mi:02}")),
            ('s', 2..) => Some(format!("{s:02}")),
            ('f', _) => Some(format!("{ms:03}")),
            _ => None,
        };
        match text {
            Some(text) => {
                out.push_str(&text);
                i += run;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_conversion_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(19_844), (2024, 5, 1));
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn iso_text_parses_and_prints() {
        let t = parse_iso("2024-05-01T10:20:30Z").unwrap();
        assert_eq!(format_iso(t), "2024-05-01T10:20:30Z");
        assert_eq!(
            format_iso(parse_iso("2024-05-01 10:20:30.5+02:00").unwrap()),
            "2024-05-01T08:20:30.500Z"
        );
        assert_eq!(format_iso(parse_iso("2024-02-29").unwrap()), "2024-02-29");
        assert!(parse_iso("2023-02-29").is_none());
        assert!(parse_iso("2024-13-01").is_none());
        assert!(parse_iso("tomorrow").is_none());
    }

    #[test]
    fn adding_and_differences() {
        let jan31 = parse_iso("2024-01-31").unwrap();
        assert_eq!(
            format_iso(add(jan31, 1, Unit::Month).unwrap()),
            "2024-02-29"
        );
        assert_eq!(
            format_iso(add(jan31, -1, Unit::Year).unwrap()),
            "2023-01-31"
        );
        assert_eq!(
            format_iso(add(jan31, 2, Unit::Hour).unwrap()),
            "2024-01-31T02:00:00Z"
        );
        let later = parse_iso("2024-03-30").unwrap();
        assert_eq!(diff(jan31, later, Unit::Day), 59);
        assert_eq!(diff(jan31, later, Unit::Month), 1);
        assert_eq!(diff(later, jan31, Unit::Month), -1);
        assert_eq!(diff(jan31, later, Unit::Year), 0);
        assert_eq!(Unit::parse("Days"), Some(Unit::Day));
        let t = parse_iso("2024-05-01T09:05:03Z").unwrap();
        assert_eq!(
            format_pattern(t, "dd/MM/yyyy HH:mm:ss"),
            "01/05/2024 09:05:03"
        );
    }
}
