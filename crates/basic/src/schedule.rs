//! The texts of time in scripts: `SET SCHEDULE` values (cron expressions and
//! phrases such as `"every 5 minutes"`) and `DELAY`/`WAIT` durations (`"2h"`).
//!
//! [`parse_schedule`] turns either form of schedule into one normalised
//! [`Schedule`]: the sets of seconds, minutes, hours, days, months and weekdays
//! at which it fires. The checker uses it to report E018; the runtime uses the
//! same value and [`Schedule::next_after`] to compute ticks, so what the checker
//! accepts is exactly what runs. Everything here is pure: no clock, no time zone
//! (the caller decides which civil time a schedule is read in).

/// When a schedule fires: every civil time whose fields are all in these sets.
///
/// Each set is a bit mask: bit `n` set means value `n` is allowed. Days of the
/// month use bits 1–31, months bits 1–12, weekdays bits 0–6 with Sunday = 0.
///
/// As in cron, when both the day of the month and the weekday are restricted,
/// a day matches when *either* matches (`0 9 1 * mon`: the 1st and every Monday).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub seconds: u64,
    pub minutes: u64,
    pub hours: u32,
    pub days: u32,
    pub months: u16,
    pub weekdays: u8,
    /// The day-of-month field was restricted (not `*` or `?`).
    pub days_restricted: bool,
    /// The weekday field was restricted (not `*` or `?`).
    pub weekdays_restricted: bool,
}

/// A civil (wall-clock) date and time, without a time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CivilTime {
    pub year: i32,
    /// 1–12
    pub month: u8,
    /// 1–31
    pub day: u8,
    /// 0–23
    pub hour: u8,
    /// 0–59
    pub minute: u8,
    /// 0–59
    pub second: u8,
}

/// How far [`Schedule::next_after`] looks ahead before deciding that a schedule
/// never fires (`0 0 31 2 *`). Nine years always contain every month/day/weekday
/// combination that can exist, including 29 February.
const SEARCH_DAYS: u32 = 9 * 366;

impl Schedule {
    /// Whether the schedule fires at exactly `time`.
    pub fn matches(&self, time: &CivilTime) -> bool {
        self.day_matches(time.year, time.month, time.day)
            && bit64(self.hours.into(), time.hour)
            && bit64(self.minutes, time.minute)
            && bit64(self.seconds, time.second)
    }

    /// The first time strictly after `after` at which the schedule fires, or
    /// `None` when it never does (for example on 31 February).
    pub fn next_after(&self, after: CivilTime) -> Option<CivilTime> {
        let mut date = (after.year, after.month, after.day);
        // The first candidate is one second later; carrying into the next day
        // happens through the day loop below.
        let mut from = Some((after.hour, after.minute, after.second.saturating_add(1)));
        for _ in 0..SEARCH_DAYS {
            let (year, month, day) = date;
            if self.day_matches(year, month, day)
                && let Some((hour, minute, second)) =
                    self.first_time_from(from.unwrap_or((0, 0, 0)))
            {
                return Some(CivilTime {
                    year,
                    month,
                    day,
                    hour,
                    minute,
                    second,
                });
            }
            from = None;
            date = next_day(year, month, day);
        }
        None
    }

    fn day_matches(&self, year: i32, month: u8, day: u8) -> bool {
        if !bit64(self.months.into(), month) {
            return false;
        }
        let by_day = bit64(self.days.into(), day);
        let by_weekday = bit64(self.weekdays.into(), weekday(year, month, day));
        if self.days_restricted && self.weekdays_restricted {
            by_day || by_weekday
        } else {
            by_day && by_weekday
        }
    }

    /// The first allowed time of day at or after `(hour, minute, second)`;
    /// values past their range (second 60) simply carry.
    fn first_time_from(&self, (hour, minute, second): (u8, u8, u8)) -> Option<(u8, u8, u8)> {
        let mut h = next_bit(self.hours.into(), hour)?;
        loop {
            let m_from = if h == hour { minute } else { 0 };
            let mut m = next_bit(self.minutes, m_from);
            while let Some(mm) = m {
                let s_from = if h == hour && mm == minute { second } else { 0 };
                if let Some(s) = next_bit(self.seconds, s_from) {
                    return Some((h, mm, s));
                }
                m = next_bit(self.minutes, mm + 1);
            }
            h = next_bit(self.hours.into(), h + 1)?;
        }
    }
}

fn bit64(mask: u64, value: u8) -> bool {
    value < 64 && mask & (1 << value) != 0
}

/// The smallest set bit of `mask` at or above `from`.
fn next_bit(mask: u64, from: u8) -> Option<u8> {
    if from >= 64 {
        return None;
    }
    let rest = mask >> from;
    (rest != 0).then(|| from + rest.trailing_zeros() as u8)
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn next_day(year: i32, month: u8, day: u8) -> (i32, u8, u8) {
    if day < days_in_month(year, month) {
        (year, month, day + 1)
    } else if month < 12 {
        (year, month + 1, 1)
    } else {
        (year + 1, 1, 1)
    }
}

/// The weekday of a date, Sunday = 0 (Sakamoto's method, proleptic Gregorian).
fn weekday(year: i32, month: u8, day: u8) -> u8 {
    const OFFSETS: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if month < 3 { year - 1 } else { year };
    let index = usize::from(month.clamp(1, 12) - 1);
    let w = y + y.div_euclid(4) - y.div_euclid(100)
        + y.div_euclid(400)
        + OFFSETS[index]
        + i32::from(day);
    w.rem_euclid(7) as u8
}

/// The forms `SET SCHEDULE` accepts, for hints and documentation.
pub const ACCEPTED_FORMS: &str = "a cron expression with 5 fields (minute hour day month weekday, as in \
\"0 9 * * 1-5\") or 6 (seconds first), or a phrase: \"every 5 minutes\", \"every 2 hours\", \"every 3 days\", \
\"every minute\", \"every hour\", \"every day\", \"hourly\", \"daily\", \"daily at 17:30\", \
\"every monday at 9am\", \"weekdays at 8am\"";

/// Parses a `SET SCHEDULE` text: a 5- or 6-field cron expression or a phrase.
/// The error says what is wrong, without the list of accepted forms
/// ([`ACCEPTED_FORMS`] has it).
pub fn parse_schedule(text: &str) -> Result<Schedule, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Err("the schedule is empty".to_owned());
    }
    let looks_like_cron = words.iter().all(|w| {
        w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"*?,-/".contains(&b))
    }) && words.first().is_some_and(|w| {
        w.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'*' || b == b'?')
    });
    if looks_like_cron {
        parse_cron(&words)
    } else {
        parse_phrase(&words)
    }
}

// ---- Cron ------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    min: u8,
    max: u8,
    names: &'static [&'static str],
    /// Whether `?` (Quartz's "no specific value") may stand for `*`.
    question: bool,
}

const MONTH_NAMES: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const SECOND: Field = Field {
    name: "seconds",
    min: 0,
    max: 59,
    names: &[],
    question: false,
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    question: false,
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    question: false,
};
const DAY: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    question: true,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: MONTH_NAMES,
    question: false,
};
// 7 is Sunday too, as in most crons; it is folded into bit 0.
const WEEKDAY: Field = Field {
    name: "weekday",
    min: 0,
    max: 7,
    names: DAY_NAMES,
    question: true,
};

fn parse_cron(words: &[&str]) -> Result<Schedule, String> {
    let (seconds, rest) = match words.len() {
        5 => (1, words),
        6 => (parse_field(words[0], SECOND)?.0, &words[1..]),
        n => {
            return Err(format!(
                "a cron expression has 5 or 6 fields, this one has {n}"
            ));
        }
    };
    let (minutes, _) = parse_field(rest[0], MINUTE)?;
    let (hours, _) = parse_field(rest[1], HOUR)?;
    let (days, days_restricted) = parse_field(rest[2], DAY)?;
    let (months, _) = parse_field(rest[3], MONTH)?;
    let (weekdays, weekdays_restricted) = parse_field(rest[4], WEEKDAY)?;
    let weekdays = (weekdays & 0x7f) | u64::from(weekdays & 0x80 != 0);
    Ok(Schedule {
        seconds,
        minutes,
        hours: hours as u32,
        days: days as u32,
        months: months as u16,
        weekdays: weekdays as u8,
        days_restricted,
        weekdays_restricted,
    })
}

/// One cron field: its bit mask and whether it restricts anything (does not
/// start with `*` or `?`).
fn parse_field(text: &str, field: Field) -> Result<(u64, bool), String> {
    let mut mask = 0u64;
    for item in text.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: u8 = step.parse().ok().filter(|&s| s >= 1).ok_or_else(|| {
                    format!(
                        "the {} field: step \"{step}\" is not a positive number",
                        field.name
                    )
                })?;
                (base, Some(step))
            }
            None => (item, None),
        };
        let star = base == "*" || (base == "?" && field.question);
        let (low, high) = if star {
            // `*` of the weekday field is 0-6: 7 would only repeat Sunday.
            (field.min, if field.max == 7 { 6 } else { field.max })
        } else if let Some((a, b)) = base.split_once('-') {
            let (a, b) = (value(a, field)?, value(b, field)?);
            if a > b {
                return Err(format!(
                    "the {} field: the range {base} runs backwards",
                    field.name
                ));
            }
            (a, b)
        } else {
            let a = value(base, field)?;
            // `5/15` means from 5 to the end, every 15.
            (a, if step.is_some() { field.max } else { a })
        };
        let step = step.unwrap_or(1);
        let mut v = low;
        while v <= high {
            mask |= 1 << v;
            match v.checked_add(step) {
                Some(next) => v = next,
                None => break,
            }
        }
    }
    Ok((mask, !text.starts_with('*') && !text.starts_with('?')))
}

fn value(text: &str, field: Field) -> Result<u8, String> {
    if let Ok(n) = text.parse::<u8>() {
        if n < field.min || n > field.max {
            return Err(format!(
                "the {} field: {n} is out of range {}-{}",
                field.name, field.min, field.max
            ));
        }
        return Ok(n);
    }
    let lower = text.to_ascii_lowercase();
    match field.names.iter().position(|name| *name == lower) {
        // Month names start at 1, day names at 0 (Sunday).
        Some(i) => Ok(i as u8 + field.min),
        None if text.is_empty() => Err(format!("the {} field has an empty value", field.name)),
        None => Err(format!(
            "the {} field: \"{text}\" is not a value",
            field.name
        )),
    }
}

// ---- Phrases ---------------------------------------------------------------

/// Every second or every minute: bits 0-59.
const ALL_SIXTY: u64 = (1 << 60) - 1;
const ALL_HOURS: u32 = (1 << 24) - 1;
/// Days 1-31 (bit 0 is unused).
const ALL_DAYS: u32 = !1;
const ALL_MONTHS: u16 = ((1 << 13) - 1) & !1;
const ALL_WEEKDAYS: u8 = (1 << 7) - 1;

/// Once a day at `hour:minute`: the base the phrases narrow down.
fn daily_at(hour: u8, minute: u8) -> Schedule {
    Schedule {
        seconds: 1,
        minutes: 1 << minute,
        hours: 1 << hour,
        days: ALL_DAYS,
        months: ALL_MONTHS,
        weekdays: ALL_WEEKDAYS,
        days_restricted: false,
        weekdays_restricted: false,
    }
}

fn parse_phrase(words: &[&str]) -> Result<Schedule, String> {
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let words: Vec<&str> = lower.iter().map(String::as_str).collect();
    let unknown = || {
        format!(
            "\"{}\" is neither a cron expression nor a schedule phrase",
            words.join(" ")
        )
    };
    // Split off an `at TIME` tail.
    let (head, at) = match words.iter().position(|w| *w == "at") {
        Some(i) => (
            &words[..i],
            Some(parse_time_of_day(&words[i + 1..].concat())?),
        ),
        None => (&words[..], None),
    };
    let (hour, minute) = at.unwrap_or((0, 0));
    let on_weekdays = |mask: u8| Schedule {
        weekdays: mask,
        weekdays_restricted: true,
        ..daily_at(hour, minute)
    };
    match head {
        ["hourly"] | ["every", "hour"] if at.is_none() => Ok(Schedule {
            hours: ALL_HOURS,
            ..daily_at(0, 0)
        }),
        ["daily"] | ["every", "day"] => Ok(daily_at(hour, minute)),
        ["every", "minute"] if at.is_none() => Ok(Schedule {
            minutes: ALL_SIXTY,
            hours: ALL_HOURS,
            ..daily_at(0, 0)
        }),
        ["weekdays"] | ["every", "weekday"] => Ok(on_weekdays(0b011_1110)),
        ["weekends"] | ["every", "weekend"] => Ok(on_weekdays(0b100_0001)),
        ["every", day] if weekday_name(day).is_some() => {
            Ok(on_weekdays(1 << weekday_name(day).unwrap_or_default()))
        }
        ["every", count, unit] if at.is_none() => {
            let n: u8 = count.parse().map_err(|_| unknown())?;
            let every = |max: u8, what: &str| -> Result<u64, String> {
                if n == 0 || n > max {
                    return Err(format!(
                        "\"every {n} {what}\": the count must be 1 to {max}"
                    ));
                }
                Ok((0..=max)
                    .step_by(n.into())
                    .fold(0u64, |mask, v| mask | 1 << v))
            };
            match *unit {
                "second" | "seconds" | "sec" | "secs" => Ok(Schedule {
                    seconds: every(59, "seconds")?,
                    minutes: ALL_SIXTY,
                    hours: ALL_HOURS,
                    ..daily_at(0, 0)
                }),
                "minute" | "minutes" | "min" | "mins" => Ok(Schedule {
                    minutes: every(59, "minutes")?,
                    hours: ALL_HOURS,
                    ..daily_at(0, 0)
                }),
                "hour" | "hours" | "hr" | "hrs" => Ok(Schedule {
                    hours: every(23, "hours")? as u32,
                    ..daily_at(0, 0)
                }),
                "day" | "days" => {
                    // Days count from the 1st, like cron's `*/n` in the day field.
                    every(31, "days")?;
                    let days = (1..=31)
                        .step_by(n.into())
                        .fold(0u32, |mask, v| mask | 1 << v);
                    Ok(Schedule {
                        days,
                        ..daily_at(0, 0)
                    })
                }
                _ => Err(unknown()),
            }
        }
        _ => Err(unknown()),
    }
}

/// `monday`, `mondays` or `mon` → 1 (Sunday = 0).
fn weekday_name(word: &str) -> Option<u8> {
    const FULL: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let word = word
        .strip_suffix('s')
        .filter(|w| FULL.contains(w))
        .unwrap_or(word);
    FULL.iter()
        .position(|d| *d == word)
        .or_else(|| DAY_NAMES.iter().position(|d| *d == word))
        .map(|i| i as u8)
}

/// `9am`, `9:30pm`, `12am` (midnight), `17:30`, `9`, `noon`, `midnight`.
fn parse_time_of_day(text: &str) -> Result<(u8, u8), String> {
    let bad = || format!("\"{text}\" is not a time of day (write 9am, 9:30pm or 17:30)");
    match text {
        "noon" => return Ok((12, 0)),
        "midnight" => return Ok((0, 0)),
        "" => return Err("\"at\" needs a time of day (write 9am, 9:30pm or 17:30)".to_owned()),
        _ => {}
    }
    let (clock, meridiem) = if let Some(clock) = text.strip_suffix("am") {
        (clock, Some(false))
    } else if let Some(clock) = text.strip_suffix("pm") {
        (clock, Some(true))
    } else {
        (text, None)
    };
    let (hour, minute) = match clock.split_once(':') {
        Some((h, m)) if m.len() == 2 => (
            h.parse::<u8>().map_err(|_| bad())?,
            m.parse::<u8>().map_err(|_| bad())?,
        ),
        Some(_) => return Err(bad()),
        None => (clock.parse::<u8>().map_err(|_| bad())?, 0),
    };
    if minute > 59 {
        return Err(bad());
    }
    let hour = match meridiem {
        Some(pm) if (1..=12).contains(&hour) => hour % 12 + if pm { 12 } else { 0 },
        Some(_) => return Err(bad()),
        None if hour <= 23 => hour,
        None => return Err(bad()),
    };
    Ok((hour, minute))
}

// ---- Durations -------------------------------------------------------------

/// Parses a `DELAY`/`WAIT` duration text into seconds: one or more
/// `<number><unit>` pairs, such as `"45s"`, `"30m"`, `"2h"`, `"1d"`, `"1h30m"`,
/// `"1.5 hours"`. Units: `s`/`sec`/`second(s)`, `m`/`min`/`minute(s)`,
/// `h`/`hr`/`hour(s)`, `d`/`day(s)`, `w`/`week(s)`. Case and blanks between
/// the parts do not matter. A fractional total rounds to the nearest second.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let mut rest = text.as_str();
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "week" | "weeks" => 604_800.0,
            _ => return None,
        };
        total += number * scale;
        rest = rest[unit_len..].trim_start();
    }
    (total.is_finite() && total < u64::MAX as f64).then(|| total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> CivilTime {
        CivilTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    fn next(text: &str, after: CivilTime) -> Option<CivilTime> {
        parse_schedule(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .next_after(after)
    }

    #[test]
    fn cron_expressions_parse_into_sets() {
        let s = parse_schedule("0 9 * * 1-5").unwrap();
        assert_eq!(s.seconds, 1);
        assert_eq!(s.minutes, 1);
        assert_eq!(s.hours, 1 << 9);
        assert_eq!(s.weekdays, 0b011_1110);
        assert!(s.weekdays_restricted && !s.days_restricted);
        let s = parse_schedule("*/15 * * jan,JUL sun-tue").unwrap();
        assert_eq!(s.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(s.months, 1 << 1 | 1 << 7);
        assert_eq!(s.weekdays, 0b000_0111);
        assert_eq!(
            parse_schedule("0 0 * * 7").unwrap().weekdays,
            1,
            "7 is Sunday"
        );
        assert_eq!(parse_schedule("30 0 12 * * *").unwrap().seconds, 1 << 30);
        assert_eq!(
            parse_schedule("5/20 * * * *").unwrap().minutes,
            1 << 5 | 1 << 25 | 1 << 45
        );
    }

    #[test]
    fn bad_cron_expressions_say_what_is_wrong() {
        assert_eq!(
            parse_schedule("61 * * * *").unwrap_err(),
            "the minute field: 61 is out of range 0-59"
        );
        assert_eq!(
            parse_schedule("* * * *").unwrap_err(),
            "a cron expression has 5 or 6 fields, this one has 4"
        );
        assert_eq!(
            parse_schedule("0 9 * * fri-mon").unwrap_err(),
            "the weekday field: the range fri-mon runs backwards"
        );
        assert!(parse_schedule("*/0 * * * *").is_err());
        assert!(parse_schedule("0 24 * * *").is_err());
        assert!(parse_schedule("0 0 0 * *").is_err());
        assert!(parse_schedule("").is_err());
    }

    #[test]
    fn phrases_normalise_to_the_same_sets_as_cron() {
        let same = |phrase: &str, cron: &str| {
            assert_eq!(
                parse_schedule(phrase),
                parse_schedule(cron),
                "{phrase} vs {cron}"
            );
        };
        same("every 5 minutes", "*/5 * * * *");
        same("Every 2 Hours", "0 */2 * * *");
        same("every 3 days", "0 0 */3 * *");
        same("every minute", "* * * * *");
        same("every hour", "0 * * * *");
        same("hourly", "0 * * * *");
        same("daily", "0 0 * * *");
        same("every day", "0 0 * * *");
        same("daily at 17:30", "30 17 * * *");
        same("every day at 9am", "0 9 * * *");
        same("every monday at 9am", "0 9 * * mon");
        same("every Friday at 5:15 pm", "15 17 * * fri");
        same("weekdays at 8am", "0 8 * * 1-5");
        same("every weekday at 12am", "0 0 * * mon-fri");
        same("every 30 seconds", "*/30 * * * * *");
    }

    #[test]
    fn bad_phrases_say_what_is_wrong() {
        assert!(
            parse_schedule("every 0 minutes")
                .unwrap_err()
                .contains("1 to 59")
        );
        assert!(parse_schedule("every 90 minutes").is_err());
        assert!(
            parse_schedule("daily at 25:00")
                .unwrap_err()
                .contains("not a time of day")
        );
        assert!(parse_schedule("daily at 13pm").is_err());
        assert!(
            parse_schedule("sometimes")
                .unwrap_err()
                .contains("neither a cron expression")
        );
        assert!(parse_schedule("every 5 fortnights").is_err());
        assert!(parse_schedule("hourly at 9am").is_err());
    }

    #[test]
    fn next_tick_is_strictly_later_and_crosses_days_months_and_years() {
        assert_eq!(
            next("*/5 * * * *", at(2025, 3, 1, 10, 5, 0)),
            Some(at(2025, 3, 1, 10, 10, 0))
        );
        assert_eq!(
            next("*/5 * * * *", at(2025, 12, 31, 23, 59, 59)),
            Some(at(2026, 1, 1, 0, 0, 0))
        );
        // 2025-03-01 is a Saturday: weekdays at 8am skips to Monday the 3rd.
        assert_eq!(
            next("weekdays at 8am", at(2025, 3, 1, 7, 0, 0)),
            Some(at(2025, 3, 3, 8, 0, 0))
        );
        assert_eq!(
            next("0 0 29 2 *", at(2025, 1, 1, 0, 0, 0)),
            Some(at(2028, 2, 29, 0, 0, 0))
        );
        assert_eq!(next("0 0 31 2 *", at(2025, 1, 1, 0, 0, 0)), None);
        // Day and weekday both restricted: either matches (the 10th, or a Monday).
        assert_eq!(
            next("0 9 10 * mon", at(2025, 3, 4, 0, 0, 0)),
            Some(at(2025, 3, 10, 9, 0, 0))
        );
        assert_eq!(
            next("0 9 15 * mon", at(2025, 3, 4, 0, 0, 0)),
            Some(at(2025, 3, 10, 9, 0, 0))
        );
        assert_eq!(
            next("daily at 17:30", at(2025, 3, 4, 17, 30, 0)),
            Some(at(2025, 3, 5, 17, 30, 0))
        );
        assert_eq!(
            next("every 30 seconds", at(2025, 3, 4, 17, 30, 0)),
            Some(at(2025, 3, 4, 17, 30, 30))
        );
    }

    #[test]
    fn matches_checks_every_field() {
        let s = parse_schedule("every monday at 9am").unwrap();
        assert!(s.matches(&at(2025, 3, 3, 9, 0, 0)));
        assert!(!s.matches(&at(2025, 3, 3, 9, 0, 1)));
        assert!(!s.matches(&at(2025, 3, 4, 9, 0, 0)));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("45s"), Some(45));
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("1.5 Hours"), Some(5400));
        assert_eq!(parse_duration("2 weeks"), Some(1_209_600));
        for bad in ["", "2", "h", "soon", "-2h", "2x", "2h abc", "1..5h"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
