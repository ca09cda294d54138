//! The history search's pull query: a stream pull query in the seed's form,
//! `SELECT *, ROWTIME FROM MOTION_STREAM WHERE time >= '…' AND time < '…' AND DEVICE_ID IN (…);`
//! (wire specification §7), and the wall-clock bounds it asks for.
//!
//! The statement only has to cover a search's range, not match it: its rows go into the
//! desktop app's cache, which then applies the search's exact bounds and its words. So the
//! bounds are widened (see [`ZONE_MARGIN_MS`]), and a condition that cannot be written safely
//! is left out rather than risked. Every value is a string literal and the stream a quoted
//! identifier. Whether to ask at all, and what to do with the rows, is the app's business.

use std::fmt::Display;

use chrono::TimeZone;
use motion_event::TIME_FORMAT;

use crate::query::{quote_identifier, StreamName};

/// How far each bound is widened. `time` is the camera's wall clock, compared as text, while
/// the search's bounds are this machine's: zones differ by up to 26 hours (UTC-12 to UTC+14),
/// and a DST change or a skewed camera clock moves an event by an hour or minutes. Reading a
/// day more is cheap, the cache filters exactly, and a narrower margin could lose events.
pub const ZONE_MARGIN_MS: i64 = 26 * 3_600_000;

/// The bounds to ask the server for, as camera wall-clock times in `zone`: the search's,
/// each widened by [`ZONE_MARGIN_MS`], the upper one no later than where what the cache holds
/// starts (the cache has the rest). `None` is an open bound.
pub fn server_bounds<Tz: TimeZone>(
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    covered_from: Option<i64>,
    zone: &Tz,
) -> (Option<String>, Option<String>)
where
    Tz::Offset: Display,
{
    let upper = match (to_ms, covered_from) {
        (Some(to), Some(covered)) => Some(to.min(covered)),
        (None, covered) => covered,
        (to, None) => to,
    };
    (
        from_ms.and_then(|ms| wall_clock(ms.saturating_sub(ZONE_MARGIN_MS), zone)),
        upper.and_then(|ms| wall_clock(ms.saturating_add(ZONE_MARGIN_MS), zone)),
    )
}

/// `ms` as the events' `time` field spells it, or `None` (an open bound) when it cannot be
/// spelled so that text order is time order (before year 0 or after 9999).
fn wall_clock<Tz: TimeZone>(ms: i64, zone: &Tz) -> Option<String>
where
    Tz::Offset: Display,
{
    let text = zone
        .timestamp_millis_opt(ms)
        .single()?
        .naive_local()
        .format(TIME_FORMAT)
        .to_string();
    (text.len() == TIME_FORMAT_LEN && text.starts_with(|c: char| c.is_ascii_digit()))
        .then_some(text)
}

/// `YYYY-MM-DD HH:MM:SS`.
const TIME_FORMAT_LEN: usize = 19;

/// The pull query for events with `from <= time < to` (wall-clock text, `None`: open) of any
/// of `devices` (empty: all). Every value is a string literal; the stream is a quoted
/// identifier. A device id holding `${` drops the camera condition altogether: ksqlDB would
/// read it as a session variable even inside a literal, and the cache filters by camera anyway.
pub fn statement(
    stream: &StreamName,
    from: Option<&str>,
    to: Option<&str>,
    devices: &[String],
) -> String {
    let mut conditions = Vec::new();
    if let Some(from) = from {
        conditions.push(format!("time >= {}", literal(from)));
    }
    if let Some(to) = to {
        conditions.push(format!("time < {}", literal(to)));
    }
    if !devices.is_empty() && !devices.iter().any(|d| d.contains("${")) {
        let list: Vec<String> = devices.iter().map(|d| literal(d)).collect();
        conditions.push(format!("DEVICE_ID IN ({})", list.join(", ")));
    }
    let mut sql = format!(
        "SELECT *, ROWTIME FROM {}",
        quote_identifier(stream.as_str())
    );
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push(';');
    sql
}

/// A ksqlDB string literal: `'…'` with a quote inside doubled, the only escape there is.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn stream() -> StreamName {
        StreamName::default()
    }

    /// Reads back one ksqlDB string literal at the start of `sql` the way its lexer does;
    /// returns the value and the rest of the statement.
    fn read_literal(sql: &str) -> (String, &str) {
        let rest = sql
            .strip_prefix('\'')
            .expect("a literal starts with a quote");
        let mut value = String::new();
        let mut chars = rest.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().map(|(_, c)| *c) == Some('\'') {
                    chars.next();
                    value.push('\'');
                } else {
                    return (value, &rest[i + 1..]);
                }
            } else {
                value.push(c);
            }
        }
        panic!("unterminated literal in {sql:?}");
    }

    #[test]
    fn the_statement_has_the_seeds_form() {
        let devices = ["garage".to_owned(), "porch".to_owned()];
        assert_eq!(
            statement(
                &stream(),
                Some("2026-11-01 00:00:00"),
                Some("2026-11-02 00:00:00"),
                &devices
            ),
            "SELECT *, ROWTIME FROM `MOTION_STREAM` WHERE time >= '2026-11-01 00:00:00' \
             AND time < '2026-11-02 00:00:00' AND DEVICE_ID IN ('garage', 'porch');"
        );
    }

    #[test]
    fn open_bounds_and_all_cameras_leave_their_conditions_out() {
        assert_eq!(
            statement(&stream(), None, None, &[]),
            "SELECT *, ROWTIME FROM `MOTION_STREAM`;"
        );
        assert_eq!(
            statement(&stream(), None, Some("2026-11-02 00:00:00"), &[]),
            "SELECT *, ROWTIME FROM `MOTION_STREAM` WHERE time < '2026-11-02 00:00:00';"
        );
        assert_eq!(
            statement(&stream(), Some("2026-11-01 00:00:00"), None, &["a".into()]),
            "SELECT *, ROWTIME FROM `MOTION_STREAM` WHERE time >= '2026-11-01 00:00:00' \
             AND DEVICE_ID IN ('a');"
        );
    }

    #[test]
    fn hostile_device_ids_stay_inside_their_literals() {
        let hostile = [
            "cam'); DROP STREAM MOTION_STREAM; --".to_owned(),
            "''".to_owned(),
            "a' OR '1' = '1".to_owned(),
            "back`tick\"quote\\slash\nline".to_owned(),
        ];
        let sql = statement(&stream(), None, None, &hostile);
        let mut rest = sql
            .strip_prefix("SELECT *, ROWTIME FROM `MOTION_STREAM` WHERE DEVICE_ID IN (")
            .expect("prefix");
        for (n, id) in hostile.iter().enumerate() {
            let (value, after) = read_literal(rest);
            assert_eq!(&value, id);
            rest = if n + 1 < hostile.len() {
                after.strip_prefix(", ").expect("separator")
            } else {
                after
            };
        }
        assert_eq!(rest, ");", "nothing but our own text after the values");
    }

    #[test]
    fn a_device_id_ksqldb_would_substitute_asks_for_all_cameras() {
        let devices = ["garage".to_owned(), "${var}".to_owned()];
        assert_eq!(
            statement(&stream(), None, None, &devices),
            "SELECT *, ROWTIME FROM `MOTION_STREAM`;"
        );
    }

    #[test]
    fn a_hostile_stream_name_stays_one_identifier() {
        let name = StreamName::parse("X` WHERE 1=1; --").expect("valid name");
        assert_eq!(
            statement(&name, None, None, &[]),
            "SELECT *, ROWTIME FROM `X`` WHERE 1=1; --`;"
        );
    }

    #[test]
    fn bounds_are_wall_clock_times_widened_and_cut_at_the_coverage() {
        let zone = FixedOffset::east_opt(3_600).expect("zone");
        let at = |text: &str| {
            chrono::NaiveDateTime::parse_from_str(text, TIME_FORMAT)
                .expect("time")
                .and_local_timezone(zone)
                .single()
                .expect("one")
                .timestamp_millis()
        };
        let from = at("2026-11-10 00:00:00");
        let to = at("2026-11-12 00:00:00");
        assert_eq!(
            server_bounds(Some(from), Some(to), None, &zone),
            (
                Some("2026-11-08 22:00:00".to_owned()),
                Some("2026-11-13 02:00:00".to_owned())
            )
        );
        // The cache holds everything from the 11th: only the days before are asked for.
        let covered = at("2026-11-11 00:00:00");
        assert_eq!(
            server_bounds(Some(from), Some(to), Some(covered), &zone).1,
            Some("2026-11-12 02:00:00".to_owned())
        );
        assert_eq!(
            server_bounds(None, None, Some(covered), &zone),
            (None, Some("2026-11-12 02:00:00".to_owned()))
        );
        assert_eq!(server_bounds(None, None, None, &zone), (None, None));
        // Times that text order cannot compare are left open rather than wrong.
        assert_eq!(
            server_bounds(Some(i64::MIN), Some(i64::MAX), None, &zone),
            (None, None)
        );
        assert_eq!(
            server_bounds(Some(at("9999-12-31 00:00:00")), None, None, &zone).0,
            Some("9999-12-29 22:00:00".to_owned())
        );
    }
}
