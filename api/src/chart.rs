//! An SVG chart of a goal's progress, so an app or an EHR can show a picture without
//! charting code, and a client can read it without help: one line per source
//! (therapist-assessed, client-reported, caregiver-reported, imported; never merged),
//! the baseline, the target or GAS expected level, the target date, the band within
//! which change is not yet meaningful, which way is better, and the trend of the
//! leading source projected to the target date. Every line, band and marker has a
//! legend entry; the title and description say the same in words.

use std::fmt::Write;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{
    goal::GasScale,
    measure::{Direction, Instrument, OutcomeMeasure, Source},
    progress::{projected_date, trend_per_week, trend_window, Point},
};

/// One source's values, oldest first.
pub struct Line {
    pub source: Source,
    pub points: Vec<Point>,
}

/// What one chart shows.
pub struct ChartInput<'a> {
    pub title: String,
    pub measure: &'a OutcomeMeasure,
    /// Whose values lead: the baseline and the trend follow them.
    pub primary_source: Source,
    /// The primary source's line first.
    pub lines: &'a [Line],
    /// The goal's target on this measure.
    pub target: Option<f64>,
    pub target_date: Option<NaiveDate>,
    /// The goal's GAS scale: level descriptions and the recorded baseline level.
    pub gas: Option<&'a GasScale>,
}

/// How a person reads a source.
pub fn source_label(source: Source) -> &'static str {
    match source {
        Source::Therapist => "Therapist-assessed",
        Source::ClientSelfReport => "Client-reported",
        Source::Caregiver => "Caregiver-reported",
        Source::Imported => "Imported",
    }
}

/// Colour, dash pattern and marker of a source's line: told apart by shape and dash
/// as well as colour.
fn style(source: Source) -> (&'static str, &'static str, Marker) {
    match source {
        Source::Therapist => ("#1565c0", "", Marker::Circle),
        Source::ClientSelfReport => ("#c62828", "7 4", Marker::Square),
        Source::Caregiver => ("#6a1b9a", "2 3", Marker::Diamond),
        Source::Imported => ("#4e6e58", "10 3 2 3", Marker::Triangle),
    }
}

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Diamond,
    Triangle,
}

fn marker(s: &mut String, m: Marker, class: &str, x: f64, y: f64, colour: &str, title: &str) {
    let shape = match m {
        Marker::Circle => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="4.5""#),
        Marker::Square => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="8" height="8""#,
            x - 4.0,
            y - 4.0
        ),
        Marker::Diamond => format!(
            r#"<polygon points="{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}""#,
            y - 5.5,
            x + 5.5,
            y + 5.5,
            x - 5.5
        ),
        Marker::Triangle => format!(
            r#"<polygon points="{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}""#,
            y - 5.5,
            x + 5.0,
            y + 4.0,
            x - 5.0,
            y + 4.0
        ),
    };
    let tag = if matches!(m, Marker::Circle) {
        "circle"
    } else if matches!(m, Marker::Square) {
        "rect"
    } else {
        "polygon"
    };
    let title = if title.is_empty() {
        String::new()
    } else {
        format!("<title>{}</title>", esc(title))
    };
    let _ = write!(
        s,
        r##"{shape} class="{class}" fill="{colour}" stroke="#ffffff" stroke-width="1">{title}</{tag}>"##
    );
}

const W: f64 = 760.0;
const RIGHT: f64 = 28.0;
const TOP: f64 = 76.0;
const PLOT_H: f64 = 250.0;
const BAND_FILL: &str = "#e3edf7";
const GOAL_GREEN: &str = "#2e7d32";
const TREND: &str = "#455a64";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: f64) -> String {
    let rounded = (v * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded}")
    }
}

fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

/// Roughly how wide a text is, in pixels, at `size`: enough to lay out labels
/// without measuring fonts.
fn width_of(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.58
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

fn day(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

fn midnight(d: NaiveDate) -> Option<DateTime<Utc>> {
    d.and_hms_opt(0, 0, 0).map(|d| d.and_utc())
}

/// An amount of change in the measure's own words ("1 level", "14 points").
fn amount(m: &OutcomeMeasure, v: f64) -> String {
    if m.instrument == Instrument::Gas {
        format!("{} level{}", num(v), if v == 1.0 { "" } else { "s" })
    } else {
        format!("{} {}", num(v), m.unit.as_deref().unwrap_or("points"))
    }
}

/// What GAS levels -2..+2 mean when the goal has no scale of its own
/// (Kiresuk-Sherman's general descriptions).
const GAS_GENERAL: [&str; 5] = [
    "much less than expected",
    "less than expected",
    "expected outcome",
    "more than expected",
    "much more than expected",
];

/// The fitted trend of one source and where it leads.
struct Trend {
    source: Source,
    /// The values the trend used (the most recent, as `domain::progress` uses them).
    used: Vec<Point>,
    per_week: f64,
    mean_at: DateTime<Utc>,
    mean_value: f64,
    /// Where the dotted projection ends: the target date, or the projected date.
    until: Option<DateTime<Utc>>,
    /// When the trend reaches the target, if it heads there.
    reaches: Option<DateTime<Utc>>,
}

impl Trend {
    fn value_at(&self, t: DateTime<Utc>) -> f64 {
        let weeks = (t - self.mean_at).num_milliseconds() as f64 / (7.0 * 86_400_000.0);
        self.mean_value + self.per_week * weeks
    }
}

/// The trend of the leading line (the primary source's, else the first line with
/// enough values), over the values domain::progress uses for a goal's trend.
fn trend(input: &ChartInput<'_>) -> Option<Trend> {
    let line = input
        .lines
        .iter()
        .filter(|l| l.points.len() >= 3)
        .min_by_key(|l| l.source != input.primary_source)?;
    let used = trend_window(&line.points).to_vec();
    let per_week = trend_per_week(&used)?;
    let n = used.len() as f64;
    let origin = used[0].at;
    let mean_ms = used
        .iter()
        .map(|p| (p.at - origin).num_milliseconds() as f64)
        .sum::<f64>()
        / n;
    let reaches = input.target.and_then(|t| projected_date(&used, t));
    let last = used[used.len() - 1].at;
    let until = input
        .target_date
        .and_then(midnight)
        .or(reaches)
        .filter(|t| *t > last);
    Some(Trend {
        source: line.source,
        per_week,
        mean_at: origin + Duration::milliseconds(mean_ms as i64),
        mean_value: used.iter().map(|p| p.value).sum::<f64>() / n,
        until,
        reaches,
        used,
    })
}

/// One entry of the legend: what its sample looks like, and what it says.
enum Sample {
    Source(Source),
    Band,
    Rule {
        colour: &'static str,
        dash: &'static str,
        width: f64,
    },
    Upright,
}

/// The chart's layout: plot area and the scales into it.
struct Frame {
    left: f64,
    bottom: f64,
    start: DateTime<Utc>,
    span: f64,
    lo: f64,
    hi: f64,
}

impl Frame {
    fn x(&self, t: DateTime<Utc>) -> f64 {
        self.left + (t - self.start).num_seconds() as f64 / self.span * (W - self.left - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        TOP + (self.hi - v) / (self.hi - self.lo) * PLOT_H
    }
}

/// The y axis ticks: value and label. GAS shows each level with its description.
fn ticks(input: &ChartInput<'_>) -> Vec<(f64, String, String)> {
    let m = input.measure;
    if m.instrument == Instrument::Gas {
        return (0..5)
            .map(|i| {
                let level = f64::from(i) - 2.0;
                let described = input
                    .gas
                    .map_or(GAS_GENERAL[i as usize], |g| g.levels[i as usize].as_str());
                let full = format!("{} {described}", signed(level));
                (level, shorten(&full, 26), full)
            })
            .collect();
    }
    // Round steps (1, 2, 5 times a power of ten, a multiple of the measure's own
    // step), at most six ticks, always including the ends of the scale.
    let range = m.max - m.min;
    let every = (-3..6)
        .flat_map(|e| [1.0, 2.0, 5.0].map(|k| k * 10f64.powi(e)))
        .filter(|s| m.step <= 0.0 || ((s / m.step) - (s / m.step).round()).abs() < 1e-9)
        .find(|s| range / s <= 5.0 + 1e-9)
        .unwrap_or(range / 4.0);
    let mut values = vec![m.min];
    let mut v = (m.min / every).floor() * every + every;
    while v < m.max - every * 0.3 {
        if v > m.min + every * 0.3 {
            values.push(v);
        }
        v += every;
    }
    values.push(m.max);
    values.into_iter().map(|v| (v, num(v), num(v))).collect()
}

fn describe(input: &ChartInput<'_>, baseline: Option<f64>, trend: Option<&Trend>) -> String {
    let m = input.measure;
    let better = if m.direction == Direction::HigherIsBetter {
        "higher"
    } else {
        "lower"
    };
    let mut d = format!(
        "{} on {}, {} to {}; {better} is better.",
        input.title,
        m.name,
        num(m.min),
        num(m.max)
    );
    if input.lines.iter().all(|l| l.points.is_empty()) {
        d.push_str(" No values yet.");
    }
    for line in input.lines {
        let label = source_label(line.source);
        let lead = line.source == input.primary_source;
        match (line.points.first(), line.points.last()) {
            (Some(_), Some(last)) => {
                let _ = write!(
                    d,
                    " {label} values{}: ",
                    if lead { " (used for progress)" } else { "" }
                );
                if lead {
                    if let Some(b) = baseline {
                        let _ = write!(d, "baseline {}, ", num(b));
                    }
                }
                let _ = write!(
                    d,
                    "latest {} on {} ({} value{}).",
                    num(last.value),
                    last.at.date_naive(),
                    line.points.len(),
                    if line.points.len() == 1 { "" } else { "s" }
                );
            }
            _ if lead => {
                let _ = write!(d, " No {} values yet.", label.to_lowercase());
            }
            _ => {}
        }
    }
    if m.instrument == Instrument::Gas {
        let levels: Vec<String> = ticks(input).into_iter().map(|(_, _, full)| full).collect();
        let _ = write!(
            d,
            " Levels: {}; 0 is the expected outcome.",
            levels.join("; ")
        );
    }
    match (input.target, input.target_date) {
        (Some(t), Some(due)) => {
            let _ = write!(d, " Goal: target {} by {due}.", num(t));
        }
        (Some(t), None) => {
            let _ = write!(d, " Goal: target {}.", num(t));
        }
        (None, Some(due)) => {
            let _ = write!(d, " Target date {due}.");
        }
        (None, None) => {}
    }
    let _ = write!(
        d,
        " A change of {} from baseline is meaningful; the shaded band marks smaller changes.",
        amount(m, m.meaningful_change)
    );
    if let Some(t) = trend {
        let _ = write!(
            d,
            " Trend of {} values (last {}): {} a week",
            source_label(t.source).to_lowercase(),
            t.used.len(),
            signed((t.per_week * 100.0).round() / 100.0)
        );
        match (input.target, t.reaches) {
            (Some(_), Some(at)) => {
                let _ = write!(
                    d,
                    "; at this pace the target is reached around {}.",
                    at.date_naive()
                );
            }
            (Some(_), None) => d.push_str("; at this pace the target is not reached."),
            (None, _) => d.push('.'),
        }
    }
    d
}

/// Renders the chart as a standalone SVG document.
pub fn render(input: &ChartInput<'_>) -> String {
    let m = input.measure;
    let gas = m.instrument == Instrument::Gas;
    let lead = input
        .lines
        .iter()
        .find(|l| l.source == input.primary_source && !l.points.is_empty())
        .or_else(|| input.lines.iter().find(|l| !l.points.is_empty()));
    // GAS: the recorded baseline level; otherwise the leading source's first value.
    let baseline = input
        .gas
        .filter(|_| gas)
        .map(|g| f64::from(g.baseline))
        .or_else(|| lead.and_then(|l| l.points.first()).map(|p| p.value));
    let trend = trend(input);
    let all = || input.lines.iter().flat_map(|l| l.points.iter());

    // Time axis: from the first value (or today) to the last value, the target date
    // and the end of the projection, whichever is latest.
    let start = all()
        .map(|p| p.at)
        .min()
        .and_then(|t| midnight(t.date_naive()))
        .unwrap_or_else(Utc::now);
    let mut end = all().map(|p| p.at).max().unwrap_or(start);
    for t in [
        input.target_date.and_then(midnight),
        trend.as_ref().and_then(|t| t.until),
    ]
    .into_iter()
    .flatten()
    {
        end = end.max(t);
    }
    if end <= start + Duration::days(1) {
        end = start + Duration::days(7);
    }
    let y_ticks = ticks(input);
    let widest = y_ticks
        .iter()
        .map(|(_, label, _)| width_of(label, 11.0))
        .fold(0.0, f64::max);
    let f = Frame {
        left: (widest + 40.0).max(64.0),
        bottom: TOP + PLOT_H,
        start,
        span: (end - start).num_seconds() as f64,
        lo: m.min,
        hi: m.max,
    };

    let projected = trend.as_ref().and_then(|tr| projection(&f, m, tr));
    let mut body = String::new();
    let mut legend: Vec<(Sample, String, &'static str)> = Vec::new();

    // Horizontal grid and y ticks.
    for (v, label, full) in &y_ticks {
        let _ = write!(
            body,
            r##"<line class="grid" x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="#eeeeee"/><text class="y-tick" x="{3:.1}" y="{4:.1}" text-anchor="end" font-size="11" fill="#333333">{5}<title>{6}</title></text>"##,
            f.left,
            f.y(*v),
            W - RIGHT,
            f.left - 8.0,
            f.y(*v) + 4.0,
            esc(label),
            esc(full)
        );
    }
    // Meaningful-change band: from baseline to baseline + threshold in the improving direction.
    if let Some(b) = baseline {
        let edge = if m.direction == Direction::HigherIsBetter {
            b + m.meaningful_change
        } else {
            b - m.meaningful_change
        };
        let (top, bottom) = (f.y(b.max(edge).min(f.hi)), f.y(b.min(edge).max(f.lo)));
        let text = format!(
            "Change of less than {} from baseline: not yet meaningful",
            amount(m, m.meaningful_change)
        );
        let _ = write!(
            body,
            r##"<rect class="meaningful-band" x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{BAND_FILL}"><title>{}</title></rect>"##,
            f.left,
            W - RIGHT - f.left,
            (bottom - top).max(0.0),
            esc(&text)
        );
        legend.push((Sample::Band, text, "meaningful-band"));
    }
    // GAS: the expected outcome, level 0.
    if gas {
        let _ = write!(
            body,
            r##"<line class="expected-level" x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="{GOAL_GREEN}" stroke-width="1.5"><title>Expected outcome: level 0</title></line><text class="label" x="{3:.1}" y="{4:.1}" text-anchor="start" fill="{GOAL_GREEN}">Expected outcome (0)</text>"##,
            f.left,
            f.y(0.0),
            W - RIGHT,
            f.left + 6.0,
            f.y(0.0) - 6.0
        );
        legend.push((
            Sample::Rule {
                colour: GOAL_GREEN,
                dash: "",
                width: 1.5,
            },
            "Expected outcome (level 0)".to_owned(),
            "expected-level",
        ));
    }
    // Axes.
    let _ = write!(
        body,
        r##"<g class="axes" stroke="#555555"><line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}"/><line x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}"/></g>"##,
        f.left,
        f.bottom,
        W - RIGHT
    );
    let x_ticks = 4;
    for i in 0..=x_ticks {
        let t = if i == x_ticks {
            end
        } else {
            start + Duration::seconds((f.span * f64::from(i) / f64::from(x_ticks)) as i64)
        };
        let anchor = match i {
            0 => "start",
            i if i == x_ticks => "end",
            _ => "middle",
        };
        let _ = write!(
            body,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#555555"/><text class="x-tick" x="{0:.1}" y="{3:.1}" text-anchor="{anchor}" font-size="11" fill="#333333">{4}</text>"##,
            f.x(t),
            f.bottom,
            f.bottom + 4.0,
            f.bottom + 17.0,
            day(t.date_naive())
        );
    }
    let unit = m
        .unit
        .as_deref()
        .filter(|_| !gas)
        .map(|u| format!(" ({u})"))
        .unwrap_or_default();
    let mid = TOP + PLOT_H / 2.0;
    let _ = write!(
        body,
        r##"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1a1a1a">Date</text><text class="axis-label" x="14" y="{mid:.1}" text-anchor="middle" transform="rotate(-90 14 {mid:.1})" fill="#1a1a1a">{}{}</text>"##,
        (f.left + W - RIGHT) / 2.0,
        f.bottom + 36.0,
        esc(if gas { "GAS level" } else { &m.name }),
        esc(&unit)
    );
    // Which way is better, at the head of the y axis: an arrow and words.
    let (better, arrow) = if m.direction == Direction::HigherIsBetter {
        (
            "Higher is better",
            format!(
                "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                f.left,
                TOP - 22.0,
                f.left - 6.0,
                TOP - 12.0,
                f.left + 6.0,
                TOP - 12.0
            ),
        )
    } else {
        (
            "Lower is better",
            format!(
                "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                f.left,
                TOP - 10.0,
                f.left - 6.0,
                TOP - 20.0,
                f.left + 6.0,
                TOP - 20.0
            ),
        )
    };
    let _ = write!(
        body,
        r##"<g class="direction-cue"><polygon points="{arrow}" fill="#1a1a1a"/><text x="{:.1}" y="{:.1}" font-weight="bold" fill="#1a1a1a">{better}</text></g>"##,
        f.left + 10.0,
        TOP - 12.0
    );
    // Baseline: its label below the line, or above it when below would reach the axis.
    if let Some(b) = baseline {
        let below = f.y(b) + 15.0;
        let label_y = if below > f.bottom - 4.0 {
            f.y(b) - 6.0
        } else {
            below
        };
        let _ = write!(
            body,
            r##"<line class="baseline" x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="#757575" stroke-width="1.5" stroke-dasharray="5 4"><title>Baseline {3}</title></line><text class="label baseline-label" x="{4:.1}" y="{label_y:.1}" text-anchor="end" fill="#555555">Baseline {3}</text>"##,
            f.left,
            f.y(b),
            W - RIGHT,
            signed_if_gas(gas, b),
            W - RIGHT - 4.0
        );
        legend.push((
            Sample::Rule {
                colour: "#757575",
                dash: "5 4",
                width: 1.5,
            },
            format!("Baseline: the starting point ({})", signed_if_gas(gas, b)),
            "baseline",
        ));
    }
    if let Some(t) = input
        .target
        .filter(|t| (f.lo..=f.hi).contains(t) && !(gas && *t == 0.0))
    {
        let label_y = if f.y(t) - 6.0 < TOP + 10.0 {
            f.y(t) + 15.0
        } else {
            f.y(t) - 6.0
        };
        let _ = write!(
            body,
            r##"<line class="target" x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="{GOAL_GREEN}" stroke-width="1.5" stroke-dasharray="9 4"><title>Target {3}</title></line><text class="label" x="{4:.1}" y="{label_y:.1}" text-anchor="start" fill="{GOAL_GREEN}">Target {3}</text>"##,
            f.left,
            f.y(t),
            W - RIGHT,
            num(t),
            f.left + 6.0,
        );
        legend.push((
            Sample::Rule {
                colour: GOAL_GREEN,
                dash: "9 4",
                width: 1.5,
            },
            format!("Target ({})", num(t)),
            "target",
        ));
    }
    // The target date: a line across the plot, its date above the plot.
    if let Some(due) = input.target_date {
        if let Some(t) = midnight(due) {
            let x = f.x(t);
            let text = format!("Target date {}", day(due));
            let anchor = if x - width_of(&text, 12.0) < f.left + 150.0 {
                "start"
            } else {
                "end"
            };
            let _ = write!(
                body,
                r##"<line class="target-date" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{0:.1}" stroke="{GOAL_GREEN}" stroke-width="1.5"><title>{1}</title></line><text class="label" x="{x:.1}" y="{2:.1}" text-anchor="{anchor}" fill="{GOAL_GREEN}">{1}</text>"##,
                f.bottom,
                esc(&text),
                TOP - 12.0,
            );
            legend.push((
                Sample::Upright,
                format!("Target date ({})", day(due)),
                "target-date",
            ));
        }
    }
    // The trend of the leading source, and its projection.
    if let Some(tr) = &trend {
        let (a, b) = (tr.used[0].at, tr.used[tr.used.len() - 1].at);
        if let Some(seg) = clip(&f, tr, a, b) {
            let _ = write!(
                body,
                r##"<line class="trend" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{TREND}" stroke-width="2" stroke-opacity="0.85"><title>Trend: {} a week</title></line>"##,
                seg.0,
                seg.1,
                seg.2,
                seg.3,
                signed((tr.per_week * 100.0).round() / 100.0)
            );
        }
        let label = format!(
            "Trend of {} values ({} a week)",
            source_label(tr.source).to_lowercase(),
            signed((tr.per_week * 100.0).round() / 100.0)
        );
        legend.push((
            Sample::Rule {
                colour: TREND,
                dash: "",
                width: 2.0,
            },
            label,
            "trend",
        ));
        if let Some((seg, text)) = &projected {
            let _ = write!(
                body,
                r##"<line class="projection" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{TREND}" stroke-width="2" stroke-dasharray="2 4" stroke-linecap="round"><title>{}</title></line>"##,
                seg.0,
                seg.1,
                seg.2,
                seg.3,
                esc(text)
            );
            legend.push((
                Sample::Rule {
                    colour: TREND,
                    dash: "2 4",
                    width: 2.0,
                },
                text.clone(),
                "projection",
            ));
        }
    }
    // One line per source, the leading source drawn last (on top).
    for line in input.lines.iter().rev() {
        let (colour, dash, shape) = style(line.source);
        let label = source_label(line.source);
        if line.points.len() > 1 {
            let path: Vec<String> = line
                .points
                .iter()
                .map(|p| format!("{:.1},{:.1}", f.x(p.at), f.y(p.value)))
                .collect();
            let _ = write!(
                body,
                r##"<polyline class="values" data-source="{}" points="{}" fill="none" stroke="{colour}" stroke-width="2.5" stroke-dasharray="{dash}" stroke-linejoin="round"/>"##,
                line.source.as_str(),
                path.join(" ")
            );
        }
        for p in &line.points {
            marker(
                &mut body,
                shape,
                "point",
                f.x(p.at),
                f.y(p.value),
                colour,
                &format!("{label}, {}: {}", p.at.date_naive(), num(p.value)),
            );
        }
    }
    // Each line's latest value, written above its marker (below when that is taken).
    let mut placed: Vec<(f64, f64)> = Vec::new();
    for line in input.lines {
        let Some(last) = line.points.last() else {
            continue;
        };
        let (x, y) = (f.x(last.at), f.y(last.value));
        // Clear of other labels and of any marker.
        let free = |ly: f64, placed: &[(f64, f64)]| {
            ly > TOP + 10.0
                && ly < f.bottom - 2.0
                && placed
                    .iter()
                    .all(|(px, py)| (px - x).abs() > 30.0 || (py - ly).abs() > 13.0)
                && all().all(|p| {
                    (f.x(p.at) - x).abs() > 14.0 || (f.y(p.value) - (ly - 4.0)).abs() > 10.0
                })
        };
        let Some(ly) = [y - 9.0, y + 19.0]
            .into_iter()
            .find(|ly| free(*ly, &placed))
        else {
            continue;
        };
        placed.push((x, ly));
        let _ = write!(
            body,
            r##"<text class="latest-value" data-source="{}" x="{x:.1}" y="{ly:.1}" text-anchor="middle" font-weight="bold" fill="{}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
            line.source.as_str(),
            style(line.source).0,
            approx(m, last.value)
        );
    }
    for line in input.lines {
        let lead = line.source == input.primary_source;
        let text = format!(
            "{}{}",
            source_label(line.source),
            if lead { " (used for progress)" } else { "" }
        );
        let text = if line.points.is_empty() {
            format!("{text}: no values yet")
        } else {
            text
        };
        legend.insert(
            legend_sources(&legend),
            (Sample::Source(line.source), text, "source"),
        );
    }

    // The legend, in rows under the date axis.
    let legend_top = f.bottom + 58.0;
    let mut rows = 0.0;
    let mut lx = f.left;
    let mut legend_svg = String::new();
    for (sample, text, class) in &legend {
        let w = 34.0 + width_of(text, 12.0) + 18.0;
        if lx + w > W - RIGHT && lx > f.left {
            rows += 1.0;
            lx = f.left;
        }
        let ly = legend_top + rows * 22.0;
        let data = match sample {
            Sample::Source(s) => format!(r#" data-source="{}""#, s.as_str()),
            _ => String::new(),
        };
        let _ = write!(
            legend_svg,
            r#"<g class="legend-item" data-for="{class}"{data}>"#
        );
        match sample {
            Sample::Source(s) => {
                let (colour, dash, shape) = style(*s);
                let _ = write!(
                    legend_svg,
                    r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2.5" stroke-dasharray="{dash}"/>"##,
                    lx + 28.0
                );
                marker(
                    &mut legend_svg,
                    shape,
                    "legend-marker",
                    lx + 14.0,
                    ly,
                    colour,
                    "",
                );
            }
            Sample::Band => {
                let _ = write!(
                    legend_svg,
                    r##"<rect x="{lx:.1}" y="{:.1}" width="28" height="12" fill="{BAND_FILL}" stroke="#b0c4de"/>"##,
                    ly - 6.0
                );
            }
            Sample::Rule {
                colour,
                dash,
                width,
            } => {
                let _ = write!(
                    legend_svg,
                    r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="{width}" stroke-dasharray="{dash}" stroke-linecap="round"/>"##,
                    lx + 28.0
                );
            }
            Sample::Upright => {
                let _ = write!(
                    legend_svg,
                    r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="{GOAL_GREEN}" stroke-width="1.5"/>"##,
                    lx + 14.0,
                    ly - 7.0,
                    ly + 7.0
                );
            }
        }
        let _ = write!(
            legend_svg,
            r##"<text x="{:.1}" y="{:.1}" fill="#1a1a1a">{}</text></g>"##,
            lx + 34.0,
            ly + 4.0,
            esc(text)
        );
        lx += w;
    }
    let h = legend_top + (rows + 1.0) * 22.0;

    let mut desc = describe(input, baseline, trend.as_ref());
    if let Some((_, text)) = &projected {
        let _ = write!(desc, " {text} (dotted line).");
    }
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img" aria-labelledby="chart-title chart-desc" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<title id="chart-title">{}</title><desc id="chart-desc">{}</desc>"#,
        esc(&input.title),
        esc(&desc)
    );
    let _ = write!(
        s,
        r##"<rect width="{W}" height="{h}" fill="#ffffff"/><text class="chart-title" x="{RIGHT}" y="24" font-size="16" font-weight="bold" fill="#1a1a1a">{}</text><text class="chart-subtitle" x="{RIGHT}" y="44" fill="#444444">{}</text>"##,
        esc(&shorten(&input.title, 72)),
        esc(&shorten(
            &format!(
                "{}, from {} to {}. Progress follows the {} values.",
                m.name,
                signed_if_gas(gas, m.min),
                signed_if_gas(gas, m.max),
                source_label(input.primary_source).to_lowercase()
            ),
            104
        ))
    );
    s.push_str(&body);
    let _ = write!(s, r#"<g class="legend">{legend_svg}</g>"#);
    s.push_str("</svg>");
    s
}

/// Where the legend's source entries go: first, in the order of the lines.
fn legend_sources(legend: &[(Sample, String, &'static str)]) -> usize {
    legend
        .iter()
        .take_while(|(s, _, _)| matches!(s, Sample::Source(_)))
        .count()
}

fn signed_if_gas(gas: bool, v: f64) -> String {
    if gas {
        signed(v)
    } else {
        num(v)
    }
}

/// A value as a person reads it: to the measure's step, else to one decimal.
fn approx(m: &OutcomeMeasure, v: f64) -> String {
    let step = if m.step > 0.0 { m.step } else { 0.1 };
    signed_if_gas(m.instrument == Instrument::Gas, (v / step).round() * step)
}

/// The dotted projection from the last value the trend used to the target date (or
/// to when it reaches the target), cut where it leaves the scale, and what it says.
fn projection(f: &Frame, m: &OutcomeMeasure, tr: &Trend) -> Option<((f64, f64, f64, f64), String)> {
    let last = tr.used.last()?.at;
    let until = tr.until?;
    let (x0, y0, x1, y1, ends) = clip(f, tr, last, until)?;
    let text = if ends < until - Duration::hours(1) {
        let edge = tr.value_at(ends).clamp(f.lo, f.hi);
        let side = if (edge - f.hi).abs() < (edge - f.lo).abs() {
            "top"
        } else {
            "bottom"
        };
        format!(
            "At this pace: the {side} of the scale ({}) by {}",
            approx(m, edge),
            day(ends.date_naive())
        )
    } else {
        format!(
            "At this pace: {} by {}",
            approx(m, tr.value_at(until)),
            day(until.date_naive())
        )
    };
    Some(((x0, y0, x1, y1), text))
}

/// The trend between two times, cut to the plot's value range, and when it ends.
fn clip(
    f: &Frame,
    tr: &Trend,
    a: DateTime<Utc>,
    b: DateTime<Utc>,
) -> Option<(f64, f64, f64, f64, DateTime<Utc>)> {
    let (va, vb) = (tr.value_at(a), tr.value_at(b));
    let span = (b - a).num_milliseconds() as f64;
    if span <= 0.0 {
        return None;
    }
    // Fractions of the segment inside [lo, hi].
    let (mut s0, mut s1) = (0.0_f64, 1.0_f64);
    for edge in [f.lo, f.hi] {
        if (vb - va).abs() > 1e-12 {
            let s = (edge - va) / (vb - va);
            let inside_after = if edge == f.lo { vb > va } else { vb < va };
            if inside_after {
                s0 = s0.max(s);
            } else {
                s1 = s1.min(s);
            }
        } else if va < f.lo || va > f.hi {
            return None;
        }
    }
    if s0 >= s1 {
        return None;
    }
    let at = |s: f64| a + Duration::milliseconds((span * s) as i64);
    let (t0, t1) = (at(s0), at(s1));
    Some((
        f.x(t0),
        f.y(tr.value_at(t0)),
        f.x(t1),
        f.y(tr.value_at(t1)),
        t1,
    ))
}
