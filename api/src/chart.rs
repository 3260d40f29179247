//! An SVG chart of a goal's progress, so an app or an EHR can show a picture without
//! charting code: values over time, baseline, target and target date, and the band
//! within which change is not yet meaningful. Accessible: a title, a description
//! that says the same in words, labelled axes, and a title on every point.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};
use domain::measure::{Direction, OutcomeMeasure};

/// What one chart shows.
pub struct ChartInput<'a> {
    pub title: String,
    pub measure: &'a OutcomeMeasure,
    pub points: &'a [(DateTime<Utc>, f64)],
    pub target: Option<f64>,
    pub target_date: Option<NaiveDate>,
}

const W: f64 = 640.0;
const H: f64 = 360.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 56.0;

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

/// Renders the chart as a standalone SVG document.
pub fn render(input: &ChartInput<'_>) -> String {
    let m = input.measure;
    let baseline = input.points.first().map(|p| p.1);
    let latest = input.points.last();
    // Time axis: from the first value (or today) to the later of the last value and the target date.
    let start = input.points.first().map_or_else(Utc::now, |p| p.0);
    let mut end = latest.map_or(start, |p| p.0);
    if let Some(due) = input
        .target_date
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
    {
        end = end.max(due);
    }
    if end <= start {
        end = start + chrono::Duration::days(7);
    }
    let span = (end - start).num_seconds() as f64;
    let x = |t: DateTime<Utc>| LEFT + (t - start).num_seconds() as f64 / span * (W - LEFT - RIGHT);
    let (lo, hi) = (m.min, m.max);
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM);

    let mut desc = format!("{} on {}", input.title, m.name);
    match (baseline, latest) {
        (Some(b), Some((at, l))) => {
            let _ = write!(
                desc,
                ": {} values; baseline {}, latest {} on {}",
                input.points.len(),
                num(b),
                num(*l),
                at.date_naive()
            );
        }
        _ => desc.push_str(": no values yet"),
    }
    if let Some(t) = input.target {
        let _ = write!(desc, "; target {}", num(t));
    }
    if let Some(d) = input.target_date {
        let _ = write!(desc, " by {d}");
    }
    let _ = write!(
        desc,
        ". {} is better; a change of {} is meaningful.",
        if m.direction == Direction::HigherIsBetter {
            "Higher"
        } else {
            "Lower"
        },
        num(m.meaningful_change)
    );

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-labelledby="chart-title chart-desc" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<title id="chart-title">{}</title><desc id="chart-desc">{}</desc>"#,
        esc(&input.title),
        esc(&desc)
    );
    let _ = write!(s, r##"<rect width="{W}" height="{H}" fill="#ffffff"/>"##);
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="24" font-size="15" font-weight="bold" fill="#1a1a1a">{}</text>"##,
        esc(&input.title)
    );
    // Meaningful-change band: from baseline to baseline + threshold in the improving direction.
    if let Some(b) = baseline {
        let edge = if m.direction == Direction::HigherIsBetter {
            b + m.meaningful_change
        } else {
            b - m.meaningful_change
        };
        let (top, bottom) = (y(b.max(edge).min(hi)), y(b.min(edge).max(lo)));
        let _ = write!(
            s,
            r##"<rect class="meaningful-band" x="{LEFT}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#e8f1fb"><title>Change within {} of baseline is not yet meaningful</title></rect>"##,
            W - LEFT - RIGHT,
            (bottom - top).max(0.0),
            num(m.meaningful_change)
        );
    }
    // Axes with labels and ticks.
    let _ = write!(
        s,
        r##"<g class="axes" stroke="#555"><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/></g>"##,
        H - BOTTOM,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM
    );
    for i in 0..=4 {
        let v = lo + (hi - lo) * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<text class="y-tick" x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
            LEFT - 6.0,
            y(v) + 4.0,
            num(v)
        );
    }
    for (t, anchor) in [(start, "start"), (end, "end")] {
        let _ = write!(
            s,
            r##"<text class="x-tick" x="{:.1}" y="{:.1}" text-anchor="{anchor}" fill="#333">{}</text>"##,
            x(t),
            H - BOTTOM + 16.0,
            t.date_naive()
        );
    }
    let unit = m
        .unit
        .as_deref()
        .map(|u| format!(" ({u})"))
        .unwrap_or_default();
    let _ = write!(
        s,
        r##"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1a1a1a">Date</text>"##,
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0
    );
    let _ = write!(
        s,
        r##"<text class="axis-label" x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})" fill="#1a1a1a">{}{}</text>"##,
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0,
        esc(&m.name),
        esc(&unit)
    );
    if let Some(b) = baseline {
        let _ = write!(
            s,
            r##"<line class="baseline" x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#888" stroke-dasharray="4 4"><title>Baseline {2}</title></line><text class="label" x="{3:.1}" y="{4:.1}" text-anchor="end" fill="#666">Baseline {2}</text>"##,
            y(b),
            W - RIGHT,
            num(b),
            W - RIGHT - 4.0,
            y(b) + 14.0
        );
    }
    if let Some(t) = input.target.filter(|t| (lo..=hi).contains(t)) {
        let _ = write!(
            s,
            r##"<line class="target" x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#2e7d32" stroke-dasharray="8 4"><title>Target {2}</title></line><text class="label" x="{3:.1}" y="{4:.1}" text-anchor="start" fill="#2e7d32">Target {2}</text>"##,
            y(t),
            W - RIGHT,
            num(t),
            LEFT + 4.0,
            y(t) - 5.0
        );
    }
    if let Some(d) = input
        .target_date
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
    {
        let _ = write!(
            s,
            r##"<line class="target-date" x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#2e7d32"><title>Target date {2}</title></line><text class="label" x="{3:.1}" y="{4:.1}" text-anchor="end" fill="#2e7d32">Target date {2}</text>"##,
            x(d),
            H - BOTTOM,
            d.date_naive(),
            x(d) - 4.0,
            H - BOTTOM - 6.0
        );
    }
    if !input.points.is_empty() {
        let path: Vec<String> = input
            .points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let _ = write!(
            s,
            r##"<polyline class="values" points="{}" fill="none" stroke="#1565c0" stroke-width="2"/>"##,
            path.join(" ")
        );
        for (t, v) in input.points {
            let _ = write!(
                s,
                r##"<circle class="point" cx="{:.1}" cy="{:.1}" r="4" fill="#1565c0"><title>{}: {}</title></circle>"##,
                x(*t),
                y(*v),
                t.date_naive(),
                num(*v)
            );
        }
    }
    s.push_str("</svg>");
    s
}
