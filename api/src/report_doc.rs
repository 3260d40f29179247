//! A progress report as a document a clinic hands to a payer: HTML (to read or print,
//! charts inline as SVG) and PDF (drawn in-process with krilla; each goal's chart is
//! the same SVG from `chart.rs`, converted to vector drawing by krilla-svg). Both are
//! made from the report's JSON view, so the three forms state the same figures.

use std::{fmt::Write, sync::Arc, sync::OnceLock};

use domain::{measure::OutcomeMeasure, report::Report};
use krilla::{
    color::rgb,
    geom::{PathBuilder, Point, Size},
    num::NormalizedF32,
    page::PageSettings,
    paint::{Fill, Stroke},
    text::{Font, TextDirection},
    Document,
};
use krilla_svg::{SurfaceExt, SvgSettings};

use crate::{
    chart,
    error::ApiError,
    routes::reports::{ReportGoalView, ReportView},
};

static REGULAR: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A figure as shown: 2 decimals at most, trailing zeros dropped; a dash when absent.
fn num(v: Option<f64>) -> String {
    match v {
        Some(v) => {
            let s = format!("{v:.2}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s == "-0" {
                "0".into()
            } else {
                s.to_owned()
            }
        }
        None => "—".into(),
    }
}

fn signed(v: Option<f64>) -> String {
    match v {
        Some(v) if v > 0.0 => format!("+{}", num(Some(v))),
        other => num(other),
    }
}

fn level(v: Option<i32>) -> String {
    match v {
        Some(v) if v > 0 => format!("+{v}"),
        Some(v) => v.to_string(),
        None => "—".into(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "Yes"
    } else {
        "No"
    }
}

fn discipline(d: Option<&str>) -> &str {
    match d {
        Some("occupational-therapy") => "Occupational therapy",
        Some("physical-therapy") => "Physical therapy",
        Some("speech-language-pathology") => "Speech-language pathology",
        Some("psychology") => "Psychology",
        Some("nursing") => "Nursing",
        Some(_) => "Other",
        None => "Discipline not recorded",
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Each goal's chart (the progress chart of `chart.rs`, on the values of the period),
/// in goal order; `None` for a goal without a measure.
fn charts(report: &Report, measures: &[OutcomeMeasure]) -> Vec<Option<String>> {
    report
        .figures
        .goals
        .iter()
        .map(|g| {
            let code = g.measure_code.as_deref()?;
            let measure = measures.iter().find(|m| m.code == code)?;
            let lines: Vec<chart::Line> = g
                .lines
                .iter()
                .map(|l| chart::Line {
                    source: l.source,
                    points: l.points.iter().map(|p| (*p).into()).collect(),
                })
                .collect();
            Some(chart::render(&chart::ChartInput {
                title: format!("Goal {}: {}", g.label, g.client_words),
                measure,
                primary_source: g.primary_source.unwrap_or(measure.primary_source()),
                lines: &lines,
                target: g.target,
                target_date: g.target_date,
                gas: g.gas.as_ref(),
            }))
        })
        .collect()
}

fn status_line(v: &ReportView) -> String {
    match &v.signature {
        Some(s) => format!("Signed {}", when(s.signed_at)),
        None => "DRAFT — not signed".into(),
    }
}

fn period_line(v: &ReportView) -> String {
    format!(
        "{} to {} · {} treatment day{} (reports are due at least every {})",
        v.period_start,
        v.period_end,
        v.treatment_days,
        if v.treatment_days == 1 { "" } else { "s" },
        v.treatment_days_per_report
    )
}

fn goal_rows(g: &ReportGoalView) -> [String; 8] {
    [
        g.label.clone(),
        g.measure_name.clone().unwrap_or_else(|| "—".into()),
        num(g.baseline),
        num(g.current),
        num(g.target),
        signed(g.change),
        yes_no(g.meaningful_change).into(),
        format!("{} → {}", level(g.gas_baseline), level(g.gas_level)),
    ]
}

const GOAL_HEADERS: [&str; 8] = [
    "Goal",
    "Measure",
    "Baseline",
    "Current",
    "Target",
    "Change",
    "Meaningful",
    "GAS",
];

/// The report as an HTML page, to read or print.
pub fn html(report: &Report, v: &ReportView, measures: &[OutcomeMeasure]) -> String {
    let charts = charts(report, measures);
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Progress report: {client}, {from} to {to}</title>
<style>
body{{font-family:"DejaVu Sans",Verdana,sans-serif;color:#1a1a1a;max-width:820px;margin:2em auto;padding:0 1em;font-size:14px}}
header{{border-bottom:2px solid #1565c0;margin-bottom:1em}} h1{{font-size:22px;margin:.2em 0}} h2{{font-size:17px;border-bottom:1px solid #ccc;margin-top:1.6em}}
table{{border-collapse:collapse;width:100%;margin:.5em 0}} th,td{{border:1px solid #bbb;padding:4px 6px;text-align:left;vertical-align:top}} th{{background:#eef3f9}}
td.n{{text-align:right}} .draft{{color:#b71c1c;font-weight:bold}} .muted{{color:#555}} svg{{max-width:100%;height:auto}}
.sig{{border:1px solid #888;padding:.6em 1em;margin-top:1em}} pre{{white-space:pre-wrap;font-family:inherit}}
</style></head><body>
<header><div class="muted">{clinic}</div><h1>Occupational therapy progress report</h1>
<p><strong>{client}</strong>{dob}{ids}</p><p>Period: {period}</p><p class="{cls}">{status}</p></header>
"#,
        client = esc(&v.client.name),
        from = v.period_start,
        to = v.period_end,
        clinic = esc(&v.clinic),
        dob = v
            .client
            .date_of_birth
            .map(|d| format!(" · born {d}"))
            .unwrap_or_default(),
        ids = v
            .client
            .identifiers
            .iter()
            .map(|i| format!(" · {}", esc(i)))
            .collect::<String>(),
        period = esc(&period_line(v)),
        cls = if v.signature.is_some() {
            "muted"
        } else {
            "draft"
        },
        status = esc(&status_line(v)),
    );
    let _ = write!(
        h,
        "<h2>Episode of care</h2><table><tr><th>Reason for referral</th><td>{}</td></tr><tr><th>Diagnoses</th><td>{}</td></tr><tr><th>Episode</th><td>from {}{} ({})</td></tr></table>",
        esc(&v.episode.reason_for_referral),
        if v.episode.diagnoses.is_empty() { "—".to_owned() } else { esc(&v.episode.diagnoses.join("; ")) },
        v.episode.start_date,
        v.episode.end_date.map(|d| format!(" to {d}")).unwrap_or_default(),
        esc(&v.episode.status),
    );
    h.push_str("<h2>Goals</h2><table><tr>");
    for head in GOAL_HEADERS {
        let _ = write!(h, "<th>{head}</th>");
    }
    h.push_str("</tr>");
    for g in &v.goals {
        h.push_str("<tr>");
        for (i, cell) in goal_rows(g).iter().enumerate() {
            let class = if (2..=5).contains(&i) {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(h, "<td{class}>{}</td>", esc(cell));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    if let Some(gas) = &v.gas {
        let _ = write!(
            h,
            "<p>GAS T-score ({} goals): baseline {}, now {}; weighted by importance: baseline {}, now {}.</p>",
            gas.goals,
            num(gas.baseline_t),
            num(gas.current_t),
            num(gas.weighted_baseline_t),
            num(gas.weighted_current_t)
        );
    }
    if let Some(c) = &v.copm {
        let _ = write!(
            h,
            "<h2>COPM</h2><table><tr><th></th><th>First</th><th>Latest</th><th>Change</th><th>Meaningful (≥ 2)</th></tr><tr><td>Performance</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr><tr><td>Satisfaction</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr></table>",
            num(Some(c.performance_first)), num(Some(c.performance_latest)), signed(Some(c.performance_change)), yes_no(c.performance_meaningful),
            num(Some(c.satisfaction_first)), num(Some(c.satisfaction_latest)), signed(Some(c.satisfaction_change)), yes_no(c.satisfaction_meaningful),
        );
    }
    for (g, svg) in v.goals.iter().zip(&charts) {
        let _ = write!(
            h,
            "<section class=\"goal\"><h2>Goal {}: {}</h2><p>{}</p><p class=\"muted\">Status {} · {} · {} values in the period · percent to target {}</p>",
            esc(&g.label),
            esc(&g.client_words),
            esc(&g.statement),
            esc(&g.status),
            esc(&g.achievement_status),
            g.values_in_period,
            num(g.percent_to_target),
        );
        if let Some(svg) = svg {
            h.push_str(svg);
        }
        h.push_str("</section>");
    }
    h.push_str("<h2>Home programme adherence</h2><table><tr><th>Goal</th><th>Adherence</th></tr>");
    for g in &v.goals {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&g.label),
            esc(&g.adherence.summary)
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<h2>Assessment</h2><pre>{}</pre><h2>Plan</h2><pre>{}</pre>",
        esc(or_dash(&v.assessment)),
        esc(or_dash(&v.plan))
    );
    match &v.signature {
        Some(s) => {
            let _ = write!(
                h,
                "<div class=\"sig\"><strong>Signed by</strong> {} · {} · {}</div>",
                esc(&s.name),
                discipline(s.discipline.as_deref()),
                when(s.signed_at)
            );
        }
        None => h.push_str("<div class=\"sig draft\">Not signed: this is a draft.</div>"),
    }
    if !v.addenda.is_empty() {
        h.push_str("<h2>Addenda</h2>");
        for a in &v.addenda {
            let _ = write!(
                h,
                "<div class=\"sig\"><pre>{}</pre><strong>Signed by</strong> {} · {} · {}</div>",
                esc(&a.body),
                esc(&a.signature.name),
                discipline(a.signature.discipline.as_deref()),
                when(a.signature.signed_at)
            );
        }
    }
    h.push_str("</body></html>");
    h
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "—"
    } else {
        s
    }
}

// --- PDF ----------------------------------------------------------------------------

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BOTTOM: f32 = PAGE_H - 60.0;

/// One thing drawn on a page.
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        grey: u8,
        text: String,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
        grey: u8,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        colour: (u8, u8, u8),
    },
    Svg {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        tree: usize,
    },
}

/// Lays the report out on pages, top to bottom; page numbers are added at the end,
/// when the count is known.
struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
}

/// About how wide a text is in DejaVu Sans (its average advance), to wrap lines.
fn width_of(text: &str, size: f32, bold: bool) -> f32 {
    let per = if bold { 0.62 } else { 0.56 };
    text.chars().count() as f32 * size * per
}

fn wrap(text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if width_of(&candidate, size, bold) > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line = word.to_owned();
            } else {
                line = candidate;
            }
        }
        lines.push(line);
    }
    lines
}

impl Layout {
    fn new() -> Self {
        Layout {
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page unless `height` more fits on this one.
    fn room(&mut self, height: f32) {
        if self.y + height > BOTTOM {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn text_at(&mut self, x: f32, y: f32, size: f32, bold: bool, grey: u8, text: &str) {
        self.ops().push(Op::Text {
            x,
            y,
            size,
            bold,
            grey,
            text: text.to_owned(),
        });
    }

    fn paragraph(&mut self, text: &str, size: f32, bold: bool, grey: u8) {
        for line in wrap(text, size, bold, CONTENT_W) {
            self.room(size * 1.45);
            self.y += size * 1.2;
            self.text_at(MARGIN, self.y, size, bold, grey, &line);
            self.y += size * 0.25;
        }
    }

    fn heading(&mut self, text: &str) {
        self.room(40.0);
        self.y += 14.0;
        self.paragraph(text, 12.5, true, 20);
        self.y += 3.0;
        let y = self.y;
        self.ops().push(Op::Line {
            x1: MARGIN,
            y1: y,
            x2: PAGE_W - MARGIN,
            y2: y,
            width: 0.6,
            grey: 160,
        });
        self.y += 6.0;
    }

    /// A table with a shaded header row; columns as fractions of the width.
    fn table(&mut self, headers: &[&str], widths: &[f32], rows: &[Vec<String>]) {
        let size = 9.0;
        let xs: Vec<f32> = widths
            .iter()
            .scan(MARGIN, |x, w| {
                let at = *x;
                *x += w * CONTENT_W;
                Some(at)
            })
            .collect();
        let draw_row = |me: &mut Layout, cells: &[String], header: bool| {
            let wrapped: Vec<Vec<String>> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| wrap(c, size, header, w * CONTENT_W - 8.0))
                .collect();
            let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let h = lines as f32 * size * 1.3 + 6.0;
            me.room(h);
            let top = me.y;
            if header {
                me.ops().push(Op::Rect {
                    x: MARGIN,
                    y: top,
                    w: CONTENT_W,
                    h,
                    colour: (232, 239, 248),
                });
            }
            for (i, cell) in wrapped.iter().enumerate() {
                for (j, line) in cell.iter().enumerate() {
                    let y = top + 3.0 + size * 1.05 + j as f32 * size * 1.3;
                    me.text_at(xs[i] + 4.0, y, size, header, 25, line);
                }
            }
            let bottom = top + h;
            me.ops().push(Op::Line {
                x1: MARGIN,
                y1: bottom,
                x2: PAGE_W - MARGIN,
                y2: bottom,
                width: 0.4,
                grey: 170,
            });
            me.y = bottom;
        };
        let head: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        // A table of labelled rows has no header row.
        let headed = headers.iter().any(|h| !h.is_empty());
        if headed {
            draw_row(self, &head, true);
        }
        for row in rows {
            if self.y + 30.0 > BOTTOM {
                self.room(1000.0);
                if headed {
                    draw_row(self, &head, true);
                }
            }
            draw_row(self, row, false);
        }
        self.y += 4.0;
    }
}

fn font(data: &'static [u8]) -> Option<Font> {
    Font::new(data.to_vec().into(), 0)
}

/// The fonts charts are drawn with (the charts name DejaVu Sans).
fn chart_fonts() -> Arc<usvg::fontdb::Database> {
    static DB: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(REGULAR.to_vec());
        db.load_font_data(BOLD.to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        Arc::new(db)
    })
    .clone()
}

fn failed(what: &str) -> ApiError {
    ApiError::Internal(format!("report PDF: {what}"))
}

/// The report as a PDF: A4, header with clinic and client, period, tables, charts as
/// vector drawings, the signature block, and page numbers.
pub fn pdf(
    report: &Report,
    v: &ReportView,
    measures: &[OutcomeMeasure],
) -> Result<Vec<u8>, ApiError> {
    let regular = font(REGULAR).ok_or_else(|| failed("font"))?;
    let bold = font(BOLD).ok_or_else(|| failed("font"))?;
    let options = usvg::Options {
        fontdb: chart_fonts(),
        ..usvg::Options::default()
    };
    let mut trees = Vec::new();
    let mut l = Layout::new();

    // Header.
    l.text_at(MARGIN, l.y + 10.0, 9.5, false, 80, &v.clinic);
    l.y += 16.0;
    l.paragraph("Occupational therapy progress report", 17.0, true, 15);
    l.y += 2.0;
    let mut who = v.client.name.clone();
    if let Some(d) = v.client.date_of_birth {
        let _ = write!(who, " · born {d}");
    }
    for i in &v.client.identifiers {
        let _ = write!(who, " · {i}");
    }
    l.paragraph(&who, 11.0, true, 20);
    l.paragraph(&format!("Period: {}", period_line(v)), 9.5, false, 40);
    let status = status_line(v);
    l.paragraph(
        &status,
        9.5,
        v.signature.is_none(),
        if v.signature.is_none() { 0 } else { 60 },
    );
    l.y += 4.0;
    let y = l.y;
    l.ops().push(Op::Rect {
        x: MARGIN,
        y,
        w: CONTENT_W,
        h: 2.0,
        colour: (21, 101, 192),
    });
    l.y += 6.0;

    l.heading("Episode of care");
    l.table(
        &["", ""],
        &[0.25, 0.75],
        &[
            vec![
                "Reason for referral".into(),
                v.episode.reason_for_referral.clone(),
            ],
            vec![
                "Diagnoses".into(),
                if v.episode.diagnoses.is_empty() {
                    "—".into()
                } else {
                    v.episode.diagnoses.join("; ")
                },
            ],
            vec![
                "Episode".into(),
                format!(
                    "from {}{} ({})",
                    v.episode.start_date,
                    v.episode
                        .end_date
                        .map(|d| format!(" to {d}"))
                        .unwrap_or_default(),
                    v.episode.status
                ),
            ],
        ],
    );

    l.heading("Goals");
    let rows: Vec<Vec<String>> = v.goals.iter().map(|g| goal_rows(g).to_vec()).collect();
    l.table(
        &GOAL_HEADERS,
        &[0.07, 0.29, 0.10, 0.10, 0.09, 0.10, 0.12, 0.13],
        &rows,
    );
    let words: Vec<Vec<String>> = v
        .goals
        .iter()
        .map(|g| {
            vec![
                g.label.clone(),
                format!("“{}” — {}", g.client_words, or_dash(&g.statement)),
                format!("{} · {}", g.status, g.achievement_status),
            ]
        })
        .collect();
    l.table(
        &["Goal", "In the client's words, and as measured", "Status"],
        &[0.07, 0.68, 0.25],
        &words,
    );
    if let Some(gas) = &v.gas {
        l.paragraph(
            &format!(
                "GAS T-score ({} goals): baseline {}, now {}; weighted by importance: baseline {}, now {}.",
                gas.goals,
                num(gas.baseline_t),
                num(gas.current_t),
                num(gas.weighted_baseline_t),
                num(gas.weighted_current_t)
            ),
            9.5,
            false,
            25,
        );
    }
    if let Some(c) = &v.copm {
        l.heading("Canadian Occupational Performance Measure (COPM)");
        l.table(
            &["", "First", "Latest", "Change", "Meaningful (≥ 2)"],
            &[0.28, 0.18, 0.18, 0.18, 0.18],
            &[
                vec![
                    "Performance".into(),
                    num(Some(c.performance_first)),
                    num(Some(c.performance_latest)),
                    signed(Some(c.performance_change)),
                    yes_no(c.performance_meaningful).into(),
                ],
                vec![
                    "Satisfaction".into(),
                    num(Some(c.satisfaction_first)),
                    num(Some(c.satisfaction_latest)),
                    signed(Some(c.satisfaction_change)),
                    yes_no(c.satisfaction_meaningful).into(),
                ],
            ],
        );
    }

    // One chart per goal with a measure, scaled to the width.
    for (g, svg) in v.goals.iter().zip(charts(report, measures)) {
        let Some(svg) = svg else { continue };
        let tree = usvg::Tree::from_str(&svg, &options).map_err(|_| failed("chart"))?;
        let size = tree.size();
        let h = CONTENT_W * size.height() / size.width();
        l.room(h + 40.0);
        l.heading(&format!("Goal {}: {}", g.label, g.client_words));
        let y = l.y;
        trees.push(tree);
        l.ops().push(Op::Svg {
            x: MARGIN,
            y,
            w: CONTENT_W,
            h,
            tree: trees.len() - 1,
        });
        l.y += h + 4.0;
    }

    l.heading("Home programme adherence");
    let adherence: Vec<Vec<String>> = v
        .goals
        .iter()
        .map(|g| vec![g.label.clone(), g.adherence.summary.clone()])
        .collect();
    l.table(
        &["Goal", "Adherence in the period"],
        &[0.15, 0.85],
        &adherence,
    );

    l.heading("Assessment");
    l.paragraph(or_dash(&v.assessment), 10.0, false, 20);
    l.heading("Plan");
    l.paragraph(or_dash(&v.plan), 10.0, false, 20);

    l.heading("Signature");
    match &v.signature {
        Some(s) => {
            l.table(
                &["Signed by", "Discipline", "Date and time"],
                &[0.4, 0.3, 0.3],
                &[vec![
                    s.name.clone(),
                    discipline(s.discipline.as_deref()).into(),
                    when(s.signed_at),
                ]],
            );
        }
        None => l.paragraph("Not signed: this is a draft.", 10.0, true, 0),
    }
    if !v.addenda.is_empty() {
        l.heading("Addenda");
        for a in &v.addenda {
            l.paragraph(&a.body, 10.0, false, 20);
            l.paragraph(
                &format!(
                    "Signed by {} · {} · {}",
                    a.signature.name,
                    discipline(a.signature.discipline.as_deref()),
                    when(a.signature.signed_at)
                ),
                9.0,
                true,
                50,
            );
            l.y += 6.0;
        }
    }

    // Draw, with a footer on every page.
    let total = l.pages.len();
    let mut doc = Document::new();
    let footer = format!("{} · {} to {}", v.client.name, v.period_start, v.period_end);
    for (n, ops) in l.pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or_else(|| failed("page"))?;
        let mut page = doc.start_page_with(settings);
        let mut s = page.surface();
        let grey_fill = |g: u8| Fill {
            paint: rgb::Color::new(g, g, g).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        };
        let draw_text = |s: &mut krilla::surface::Surface<'_>,
                         x: f32,
                         y: f32,
                         size: f32,
                         b: bool,
                         g: u8,
                         t: &str| {
            s.set_fill(Some(grey_fill(g)));
            let f = if b { bold.clone() } else { regular.clone() };
            s.draw_text(Point::from_xy(x, y), f, size, t, false, TextDirection::Auto);
        };
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold: b,
                    grey,
                    text,
                } => draw_text(&mut s, *x, *y, *size, *b, *grey, text),
                Op::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    width,
                    grey,
                } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y1);
                    pb.line_to(*x2, *y2);
                    if let Some(path) = pb.finish() {
                        s.set_fill(None);
                        s.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(*grey, *grey, *grey).into(),
                            width: *width,
                            ..Default::default()
                        }));
                        s.draw_path(&path);
                        s.set_stroke(None);
                    }
                }
                Op::Rect { x, y, w, h, colour } => {
                    let mut pb = PathBuilder::new();
                    if let Some(rect) = krilla::geom::Rect::from_xywh(*x, *y, *w, *h) {
                        pb.push_rect(rect);
                    }
                    if let Some(path) = pb.finish() {
                        s.set_stroke(None);
                        s.set_fill(Some(Fill {
                            paint: rgb::Color::new(colour.0, colour.1, colour.2).into(),
                            opacity: NormalizedF32::ONE,
                            rule: Default::default(),
                        }));
                        s.draw_path(&path);
                    }
                }
                Op::Svg { x, y, w, h, tree } => {
                    let size = Size::from_wh(*w, *h).ok_or_else(|| failed("chart size"))?;
                    s.push_transform(&krilla::geom::Transform::from_translate(*x, *y));
                    s.draw_svg(&trees[*tree], size, SvgSettings::default());
                    s.pop();
                }
            }
        }
        let y = PAGE_H - 30.0;
        let mut pb = PathBuilder::new();
        pb.move_to(MARGIN, y - 12.0);
        pb.line_to(PAGE_W - MARGIN, y - 12.0);
        if let Some(path) = pb.finish() {
            s.set_fill(None);
            s.set_stroke(Some(Stroke {
                paint: rgb::Color::new(170, 170, 170).into(),
                width: 0.5,
                ..Default::default()
            }));
            s.draw_path(&path);
            s.set_stroke(None);
        }
        draw_text(&mut s, MARGIN, y, 8.0, false, 80, &footer);
        let label = format!("Page {} of {}", n + 1, total);
        let lw = width_of(&label, 8.0, false);
        draw_text(&mut s, PAGE_W - MARGIN - lw, y, 8.0, false, 80, &label);
        s.finish();
        page.finish();
    }
    doc.finish().map_err(|e| failed(&format!("{e:?}")))
}
