//! Reading FHIR search parameters into typed queries. Each resource names the
//! parameters it serves; anything else is refused (400, naming it), or, when the
//! caller sends `Prefer: handling=lenient`, ignored and listed as ignored in the
//! searchset. Dates take the `eq`, `ge`, `gt`, `le` and `lt` prefixes over the
//! precision they are written in (a day, a month, a year, or an instant).

use actix_web::HttpRequest;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use persistence::ops::search::Bound;
use uuid::Uuid;

use crate::error::{ApiError, FieldProblem};

/// Parameters every FHIR search accepts, whatever the resource.
const COMMON: &[&str] = &[
    "_format", "_pretty", "_count", "_summary", "_total", "_cursor",
];

/// The largest page a search serves.
pub const MAX_COUNT: u32 = 1000;
pub const DEFAULT_COUNT: u32 = 50;

pub fn bad(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::Malformed(vec![FieldProblem::new(field, detail)])
}

/// A search's parameters, as sent (name, value), in order.
pub struct Params {
    pairs: Vec<(String, String)>,
    lenient: bool,
}

/// What was asked for, beside the resource's own parameters.
pub struct Common {
    pub count: u32,
    /// `_summary=count`: the total only.
    pub count_only: bool,
    /// `_total=accurate`, or `_summary=count`.
    pub total: bool,
    pub cursor: Option<String>,
    pub pretty: bool,
}

impl Params {
    /// The parameters of a query string (an If-None-Exist header's search).
    pub fn from_query(query: &str, lenient: bool) -> Self {
        let pairs = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Params { pairs, lenient }
    }

    pub fn of(req: &HttpRequest) -> Self {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let lenient = req
            .headers()
            .get_all("prefer")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim().eq_ignore_ascii_case("handling=lenient"));
        Params { pairs, lenient }
    }

    /// Every value of `name` (a repeated parameter ANDs; commas within one OR).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of `name`, refusing it repeated.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.all(name).as_slice() {
            [] => Ok(None),
            [v] => Ok(Some(v)),
            _ => Err(bad(name, "may be given once")),
        }
    }

    /// Checks that every parameter is one of `known` (or common); returns the ignored
    /// ones when lenient.
    pub fn check(&self, known: &[&str]) -> Result<Vec<String>, ApiError> {
        let mut ignored = Vec::new();
        for (name, _) in &self.pairs {
            if known.contains(&name.as_str()) || COMMON.contains(&name.as_str()) {
                continue;
            }
            if self.lenient {
                if !ignored.contains(name) {
                    ignored.push(name.clone());
                }
                continue;
            }
            let hint = if name.contains(':') {
                "modifiers are not supported here"
            } else {
                "is not a search parameter of this resource (send Prefer: handling=lenient to have unknown parameters ignored)"
            };
            return Err(bad(name, hint));
        }
        Ok(ignored)
    }

    /// The query as it was understood, without the paging cursor, for the
    /// searchset's `self` and `next` links (ignored parameters left out).
    pub fn understood(&self, ignored: &[String]) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| k != "_cursor" && !ignored.contains(k))
            .cloned()
            .collect()
    }

    pub fn common(&self) -> Result<Common, ApiError> {
        let summary = self.one("_summary")?;
        let count_only = match summary {
            None | Some("false") => false,
            Some("count") => true,
            Some(_) => return Err(bad("_summary", "only `count` and `false` are supported")),
        };
        let total = match self.one("_total")? {
            None | Some("none") => count_only,
            Some("accurate") | Some("estimate") => true,
            Some(_) => return Err(bad("_total", "must be none, estimate or accurate")),
        };
        let count = match self.one("_count")? {
            None => DEFAULT_COUNT,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n <= MAX_COUNT => n,
                _ => {
                    return Err(bad(
                        "_count",
                        format!("must be a whole number from 0 to {MAX_COUNT}"),
                    ))
                }
            },
        };
        let pretty = matches!(self.one("_pretty")?, Some("true"));
        Ok(Common {
            count: if count_only { 0 } else { count },
            count_only,
            total,
            cursor: self.one("_cursor")?.map(str::to_owned),
            pretty,
        })
    }
}

/// A reference parameter's id: `Type/id`, or the bare id.
pub fn reference_id(field: &str, value: &str, kind: &str) -> Result<Uuid, ApiError> {
    let id = match value.split_once('/') {
        Some((k, id)) if k == kind => id,
        Some(_) => return Err(bad(field, format!("must reference a {kind}"))),
        None => value,
    };
    Uuid::parse_str(id).map_err(|_| bad(field, format!("must be a {kind} id")))
}

/// A token parameter's values: `system|code`, `|code` (no system) or `code` (any).
pub fn tokens(value: &str) -> Vec<(Option<&str>, &str)> {
    value
        .split(',')
        .map(|t| match t.split_once('|') {
            Some((system, code)) => (Some(system), code),
            None => (None, t),
        })
        .collect()
}

/// A time range from date parameters: the tightest lower and upper bounds of all.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Range {
    pub from: Option<Bound>,
    pub to: Option<Bound>,
}

/// The interval [start, end) a FHIR date, date-time or instant value covers.
fn interval(value: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let day = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?).into();
    let at = |d: NaiveDate| -> Option<DateTime<Utc>> { day(d) };
    match value.len() {
        4 => {
            let y: i32 = value.parse().ok()?;
            Some((
                at(NaiveDate::from_ymd_opt(y, 1, 1)?)?,
                at(NaiveDate::from_ymd_opt(y + 1, 1, 1)?)?,
            ))
        }
        7 => {
            let d = NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d").ok()?;
            let next = if d.month() == 12 {
                NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)?
            };
            Some((at(d)?, at(next)?))
        }
        10 => {
            let d = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
            Some((at(d)?, at(d.succ_opt()?)?))
        }
        _ => {
            let t = DateTime::parse_from_rfc3339(value)
                .ok()?
                .with_timezone(&Utc);
            // An instant covers its own precision; seconds are as fine as FHIR asks.
            let step = if value.contains('.') {
                Duration::microseconds(1)
            } else {
                Duration::seconds(1)
            };
            Some((t, t + step))
        }
    }
}

fn lower(a: Option<Bound>, b: Bound) -> Option<Bound> {
    Some(match a {
        Some(a) if a.at > b.at || (a.at == b.at && !a.inclusive) => a,
        _ => b,
    })
}

fn upper(a: Option<Bound>, b: Bound) -> Option<Bound> {
    Some(match a {
        Some(a) if a.at < b.at || (a.at == b.at && !a.inclusive) => a,
        _ => b,
    })
}

/// Reads every value of a date parameter into one range.
pub fn dates(field: &str, values: &[&str]) -> Result<Range, ApiError> {
    let mut range = Range::default();
    for value in values {
        let (prefix, rest) = match value.get(..2) {
            Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &value[2..]),
            Some("ne" | "sa" | "eb" | "ap") => {
                return Err(bad(
                    field,
                    "prefixes ne, sa, eb and ap are not supported; use eq, ge, gt, le or lt",
                ))
            }
            _ => ("eq", *value),
        };
        let Some((start, end)) = interval(rest) else {
            return Err(bad(
                field,
                "must be a date (YYYY, YYYY-MM, YYYY-MM-DD) or an instant with its time zone, after an optional prefix eq, ge, gt, le or lt",
            ));
        };
        let incl = |at| Bound {
            at,
            inclusive: true,
        };
        let excl = |at| Bound {
            at,
            inclusive: false,
        };
        match prefix {
            "eq" => {
                range.from = lower(range.from, incl(start));
                range.to = upper(range.to, excl(end));
            }
            "ge" => range.from = lower(range.from, incl(start)),
            "gt" => range.from = lower(range.from, incl(end)),
            "le" => range.to = upper(range.to, excl(end)),
            _ => range.to = upper(range.to, excl(start)),
        }
    }
    Ok(range)
}

/// Whether a calendar date lies in a range (for dates a search filters in memory).
pub fn date_in(range: &Range, d: NaiveDate) -> bool {
    let Some(at) = d
        .and_hms_opt(0, 0, 0)
        .map(|t: NaiveDateTime| Utc.from_utc_datetime(&t))
    else {
        return false;
    };
    let end = at + Duration::days(1);
    // The day [at, end) overlaps the range.
    let after_from = range.from.is_none_or(|b| end > b.at);
    let before_to = range
        .to
        .is_none_or(|b| if b.inclusive { at <= b.at } else { at < b.at });
    after_from && before_to
}

/// Whether an instant lies in a range.
pub fn instant_in(range: &Range, t: DateTime<Utc>) -> bool {
    range
        .from
        .is_none_or(|b| if b.inclusive { t >= b.at } else { t > b.at })
        && range
            .to
            .is_none_or(|b| if b.inclusive { t <= b.at } else { t < b.at })
}

/// A keyset cursor over (time, id), opaque to the caller. Times keep every digit
/// stored (nanoseconds), or the next page would start inside this one.
pub fn cursor(at: DateTime<Utc>, id: Uuid) -> String {
    let nanos = at
        .timestamp_nanos_opt()
        .unwrap_or(at.timestamp_micros().saturating_mul(1000));
    format!("{nanos}.{}", id.simple())
}

pub fn read_cursor(value: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let refused = || {
        bad(
            "_cursor",
            "is not a cursor this server gave; follow the searchset's next link",
        )
    };
    let (micros, id) = value.split_once('.').ok_or_else(refused)?;
    let micros = micros.trim();
    let nanos: i64 = micros.parse().map_err(|_| refused())?;
    let at = DateTime::from_timestamp_nanos(nanos);
    Ok((at, Uuid::parse_str(id).map_err(|_| refused())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid in this test")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_day_with_each_prefix_covers_what_fhir_says() {
        let r = dates("date", &["2026-03-10"]).expect("valid in this test");
        assert!(instant_in(&r, at("2026-03-10T00:00:00Z")));
        assert!(instant_in(&r, at("2026-03-10T23:59:59Z")));
        assert!(!instant_in(&r, at("2026-03-11T00:00:00Z")));
        let gt = dates("date", &["gt2026-03-10"]).expect("valid in this test");
        assert!(!instant_in(&gt, at("2026-03-10T23:00:00Z")));
        assert!(instant_in(&gt, at("2026-03-11T00:00:00Z")));
        let lt = dates("date", &["lt2026-03-10"]).expect("valid in this test");
        assert!(instant_in(&lt, at("2026-03-09T23:59:59Z")));
        assert!(!instant_in(&lt, at("2026-03-10T00:00:00Z")));
        let le = dates("date", &["le2026-03"]).expect("valid in this test");
        assert!(instant_in(&le, at("2026-03-31T12:00:00Z")));
        assert!(!instant_in(&le, at("2026-04-01T00:00:00Z")));
    }

    #[test]
    fn repeated_dates_intersect() {
        let r = dates("date", &["ge2026-01-01", "lt2026-02-01", "ge2025-06-01"])
            .expect("valid in this test");
        assert!(!instant_in(&r, at("2025-12-31T23:00:00Z")));
        assert!(instant_in(&r, at("2026-01-15T00:00:00Z")));
        assert!(!instant_in(&r, at("2026-02-01T00:00:00Z")));
    }

    #[test]
    fn bad_dates_and_prefixes_name_the_parameter() {
        for v in [
            "ne2026-01-01",
            "2026-13-01",
            "yesterday",
            "2026-01-01T10:00:00",
        ] {
            match dates("date", &[v]) {
                Err(ApiError::Malformed(p)) => assert_eq!(p[0].field, "date", "{v}"),
                other => panic!("{v}: {other:?}"),
            }
        }
    }

    #[test]
    fn cursors_round_trip_to_the_nanosecond() {
        let t = at("2026-03-10T10:11:12.345678912Z");
        let id = domain::new_id();
        assert_eq!(
            read_cursor(&cursor(t, id)).expect("valid in this test"),
            (t, id)
        );
        assert!(read_cursor("x.y").is_err());
    }

    #[test]
    fn dates_in_memory_overlap_the_range() {
        let r =
            dates("target-date", &["ge2026-05-01", "le2026-05-31"]).expect("valid in this test");
        assert!(date_in(
            &r,
            NaiveDate::from_ymd_opt(2026, 5, 1).expect("valid in this test")
        ));
        assert!(date_in(
            &r,
            NaiveDate::from_ymd_opt(2026, 5, 31).expect("valid in this test")
        ));
        assert!(!date_in(
            &r,
            NaiveDate::from_ymd_opt(2026, 6, 1).expect("valid in this test")
        ));
        assert!(!date_in(
            &r,
            NaiveDate::from_ymd_opt(2026, 4, 30).expect("valid in this test")
        ));
    }
}
