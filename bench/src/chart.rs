//! Bar charts of a run, written as plain SVG beside its JSON results: one chart per workload
//! (`results.json` gives `results-kv.svg`, `results-typed.svg`, ...).
//!
//! Each phase is a group of horizontal bars, one per contender that finished it, in the order
//! the results list them. A bar's length is the contender's operations per second divided by
//! the fastest contender's in that phase (the same "fastest" as the table: references such as
//! the two fdatasyncs are drawn but never count as the fastest), so phases with different
//! units share one axis; the bar's end says the rate and that ratio. A contender whose row has
//! no rate (failed, timed out, not run) gets no bar but its status in its place; a rate whose
//! runs were partly lost keeps its bar and has the status appended.
//!
//! The axis is logarithmic when the bars of a chart spread by more than [`LOG_SPREAD`] (the
//! largest relative rate over the smallest), and linear from zero otherwise. Everything is
//! drawn from the JSON document alone, so `rivet-bench --chart FILE.json` redraws the charts
//! of a stored run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::report::display_name;

/// Above this spread between a chart's largest and smallest bar (both relative to their
/// phase's fastest) the axis is logarithmic: on a linear axis a bar under a tenth of the
/// longest is a sliver, and the differences among the slow contenders disappear.
pub const LOG_SPREAD: f64 = 10.0;

/// One (phase, contender) result as a chart sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The workload (`kv`, `typed`): one chart each.
    pub workload: String,
    /// The phase: one group of bars each.
    pub phase: String,
    /// The contender's label.
    pub contender: String,
    /// Operations per second at the median, when some run finished.
    pub ops_per_sec: Option<f64>,
    /// `ok`, or what went wrong (`timed out in 1/3 runs (cap 120 s)`, ...).
    pub status: String,
    /// A reference (two fdatasyncs), drawn but never the fastest.
    pub reference: bool,
}

impl Entry {
    /// The rate, when there is one that can be drawn.
    fn rate(&self) -> Option<f64> {
        self.ops_per_sec.filter(|r| r.is_finite() && *r > 0.0)
    }
}

/// The horizontal axis of a chart, over relative rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// From 0 to `max` (1, or more when a reference outran every contender).
    Linear {
        /// The right end of the axis.
        max: f64,
    },
    /// From 10^`lo` to 10^`hi`.
    Log {
        /// Decade at the left end.
        lo: i32,
        /// Decade at the right end.
        hi: i32,
    },
}

impl Scale {
    /// The scale for bars of these relative rates (each > 0).
    pub fn choose(rel: &[f64]) -> Scale {
        let max = rel.iter().copied().fold(1.0_f64, f64::max);
        let min = rel.iter().copied().fold(f64::INFINITY, f64::min);
        if rel.is_empty() || max / min <= LOG_SPREAD {
            let max = if max <= 1.0 { 1.0 } else { (max * 4.0).ceil() / 4.0 };
            Scale::Linear { max }
        } else {
            // The smallest bar keeps at least 0.15 of a decade, so it never vanishes.
            Scale::Log { lo: (min.log10() - 0.15).floor() as i32, hi: max.log10().ceil() as i32 }
        }
    }

    /// Where `v` falls along the axis, from 0 (left) to 1 (right).
    pub fn position(&self, v: f64) -> f64 {
        let p = match *self {
            Scale::Linear { max } => v / max,
            Scale::Log { lo, hi } => (v.log10() - lo as f64) / (hi - lo) as f64,
        };
        p.clamp(0.0, 1.0)
    }

    /// Ticks: (value, label).
    fn ticks(&self) -> Vec<(f64, String)> {
        match *self {
            Scale::Linear { max } => {
                let step = if max <= 2.0 {
                    0.25
                } else if max <= 5.0 {
                    0.5
                } else {
                    1.0
                };
                let n = (max / step).round() as i32;
                (0..=n).map(|i| i as f64 * step).map(|v| (v, format!("{v}"))).collect()
            }
            Scale::Log { lo, hi } => (lo..=hi)
                .map(|k| {
                    let v = 10f64.powi(k);
                    (v, if k >= 0 { format!("{v}") } else { format!("{v:.*}", (-k) as usize) })
                })
                .collect(),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Scale::Linear { .. } => "linear",
            Scale::Log { .. } => "log",
        }
    }
}

/// Text for SVG content and attribute values: `&`, `<`, `>` and both quotes escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Colours of the contenders after Rivet, in order of appearance (a colour-blind safe set).
const PALETTE: [&str; 8] = ["#0072b2", "#009e73", "#e69f00", "#56b4e9", "#cc79a7", "#8c6d1f", "#6a3d9a", "#4d4d4d"];
const RIVET: &str = "#d55e00";
const REFERENCE: &str = "#a6a6a6";

/// Layout, in pixels.
const WIDTH: f64 = 860.0;
const MARGIN: f64 = 16.0;
const CHAR_W: f64 = 6.6; // a generous width of an 11 px sans-serif character
const VALUE_W: f64 = 150.0; // room right of the plot for "2.13M/s · 0.97×"
const PITCH: f64 = 15.0; // one bar's row
const BAR_H: f64 = 11.0;
const HEADING: f64 = 19.0; // a phase's name above its bars
const GAP: f64 = 7.0; // after a phase's bars

/// A rate with three significant digits: `925K`, `2.13M`, `48.4K`, `25.0`.
pub fn rate_text(r: f64) -> String {
    let (v, unit) = match r {
        r if r >= 999.5e6 => (r / 1e9, "G"),
        r if r >= 999.5e3 => (r / 1e6, "M"),
        r if r >= 999.5 => (r / 1e3, "K"),
        r => (r, ""),
    };
    let decimals = if v >= 99.95 {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    };
    format!("{v:.decimals$}{unit}")
}

/// A ratio to the fastest: two decimals, or two significant digits under 0.1 (`0.0098`).
pub fn ratio_text(r: f64) -> String {
    let decimals = if r >= 0.1 || r <= 0.0 { 2 } else { (1.0 - r.log10().floor()) as usize };
    format!("{r:.decimals$}")
}

/// Distinct values of `f` over `entries`, in order of first appearance.
fn distinct<'a>(entries: &'a [Entry], f: impl Fn(&'a Entry) -> &'a str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for e in entries {
        let v = f(e);
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The chart of one workload's entries (those of other workloads are ignored), as an SVG
/// document. `caption` says which run it shows.
pub fn svg(workload: &str, caption: &str, entries: &[Entry]) -> String {
    let entries: Vec<Entry> = entries.iter().filter(|e| e.workload == workload).cloned().collect();
    let phases = distinct(&entries, |e| &e.phase);
    let contenders = distinct(&entries, |e| &e.contender);
    let colour = |e: &Entry| {
        if e.reference {
            return REFERENCE;
        }
        if e.contender == "rivet" {
            return RIVET;
        }
        let i = contenders.iter().filter(|c| **c != "rivet").position(|c| *c == e.contender).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    };
    // Relative rates: each entry's rate over its phase's fastest non-reference rate.
    // A phase where only references have a rate is measured against the fastest of those.
    let fastest = |phase: &str| {
        let best = |refs: bool| {
            entries
                .iter()
                .filter(|e| e.phase == phase && (refs || !e.reference))
                .filter_map(Entry::rate)
                .max_by(f64::total_cmp)
        };
        best(false).or_else(|| best(true))
    };
    let relative = |e: &Entry| Some(e.rate()? / fastest(&e.phase)?);
    let rel: Vec<f64> = entries.iter().filter_map(relative).collect();
    let scale = Scale::choose(&rel);

    let label_w = entries
        .iter()
        .map(|e| display_name(&e.contender, e.reference).chars().count())
        .max()
        .map_or(80.0, |n| (n as f64 * CHAR_W + 12.0).clamp(80.0, 320.0));
    let x0 = MARGIN + label_w;
    let plot_w = (WIDTH - MARGIN - VALUE_W - x0).max(200.0);
    let x_at = |v: f64| x0 + scale.position(v) * plot_w;
    let top = 86.0; // below the title, the caption, the axis title and the top tick labels
    let body: f64 =
        phases.iter().map(|p| HEADING + PITCH * entries.iter().filter(|e| e.phase == *p).count() as f64 + GAP).sum();
    let bottom = top + body;
    let height = bottom + 44.0;

    let mut s = String::new();
    let title = format!("rivet-bench: {workload} workload, throughput relative to the fastest in each phase");
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="title desc" data-workload="{}" data-scale="{}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11" fill="#222">"##,
        escape(workload),
        scale.describe()
    );
    s.push('\n');
    let _ = writeln!(s, r#"<title id="title">{}</title>"#, escape(&title));
    let _ = writeln!(s, r#"<desc id="desc">{}</desc>"#, escape(caption));
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r#"<text class="title" x="{MARGIN}" y="24" font-size="15" font-weight="bold">{}</text>"#,
        escape(&title)
    );
    let _ = writeln!(s, r##"<text class="caption" x="{MARGIN}" y="42" fill="#555">{}</text>"##, escape(caption));
    let axis = match scale {
        Scale::Linear { .. } => "ops/s ÷ the fastest contender's ops/s in the phase (1 = fastest; linear scale)".into(),
        Scale::Log { .. } => format!(
            "ops/s ÷ the fastest contender's ops/s in the phase (1 = fastest; log scale: the bars spread by more than {LOG_SPREAD}×)"
        ),
    };
    let _ = writeln!(s, r#"<text class="axis-title" x="{x0:.1}" y="62">{}</text>"#, escape(&axis));

    // Grid and tick labels, above and below the bars.
    s.push_str("<g class=\"grid\">\n");
    for (v, label) in scale.ticks() {
        let x = x_at(v);
        let stroke = if (v - 1.0).abs() < 1e-9 { "#888" } else { "#ddd" };
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="1"/>"#,
            top - 6.0,
            bottom
        );
        for y in [top - 10.0, bottom + 14.0] {
            let _ = writeln!(
                s,
                r##"<text class="tick" x="{x:.1}" y="{y:.1}" text-anchor="middle" fill="#555">{}</text>"##,
                escape(&label)
            );
        }
    }
    s.push_str("</g>\n");

    let mut y = top;
    for phase in &phases {
        let _ = writeln!(s, r#"<g class="phase" data-phase="{}">"#, escape(phase));
        let _ = writeln!(
            s,
            r#"<text class="phase-name" x="{MARGIN}" y="{:.1}" font-size="12" font-weight="bold">{}</text>"#,
            y + 13.0,
            escape(phase)
        );
        y += HEADING;
        let best = fastest(phase);
        for e in entries.iter().filter(|e| e.phase == *phase) {
            let name = display_name(&e.contender, e.reference);
            let mid = y + PITCH / 2.0;
            let base = mid + 4.0; // the baseline that centres 11 px text on the bar's middle
            let _ = writeln!(
                s,
                r#"<text class="contender" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                x0 - 6.0,
                base,
                escape(&name)
            );
            let data = format!(r#"data-phase="{}" data-contender="{}""#, escape(phase), escape(&e.contender));
            let note = if e.status == "ok" { String::new() } else { format!(" ({})", e.status) };
            match (e.rate(), relative(e)) {
                (Some(rate), Some(r)) => {
                    let w = (x_at(r) - x0).max(1.0);
                    let alone = entries.iter().filter(|o| o.phase == *phase && o.rate().is_some()).count() == 1;
                    let ratio = if alone {
                        String::new()
                    } else if best == Some(rate) && !e.reference {
                        " · fastest".into()
                    } else {
                        format!(" · {}×", ratio_text(r))
                    };
                    let value = format!("{}/s{ratio}{note}", rate_text(rate));
                    let _ = writeln!(
                        s,
                        r#"<rect class="bar" {data} x="{x0:.1}" y="{:.1}" width="{w:.1}" height="{BAR_H}" fill="{}"><title>{}</title></rect>"#,
                        y + (PITCH - BAR_H) / 2.0,
                        colour(e),
                        escape(&format!("{phase}, {name}: {value}"))
                    );
                    let _ = writeln!(
                        s,
                        r#"<text class="value" {data} x="{:.1}" y="{base:.1}">{}</text>"#,
                        x0 + w + 4.0,
                        escape(&value)
                    );
                }
                _ => {
                    // No bar: say why where the bar would start.
                    let why = if e.status == "ok" { "no rate".to_string() } else { e.status.clone() };
                    let _ = writeln!(
                        s,
                        r##"<text class="missing" {data} x="{:.1}" y="{base:.1}" fill="#b00020" font-style="italic">✗ {}</text>"##,
                        x0 + 4.0,
                        escape(&why)
                    );
                }
            }
            y += PITCH;
        }
        y += GAP;
        s.push_str("</g>\n");
    }
    let mut foot = "Median ops/s of each (phase, contender); the fastest of a phase is 1. ✗: no completed run, no bar."
        .to_string();
    if entries.iter().any(|e| e.reference) {
        foot += " Grey: a reference, never the fastest.";
    }
    let _ = writeln!(
        s,
        r##"<text class="footnote" x="{MARGIN}" y="{:.1}" fill="#555">{}</text>"##,
        height - 10.0,
        escape(&foot)
    );
    s.push_str("</svg>\n");
    s
}

/// The entries of a results document as the driver writes it (`--json`). Rows without a
/// `workload` (older files) are put in one called `all`.
///
/// # Errors
/// When the document has no `results` list or a row lacks its phase or contender.
pub fn entries_from_json(doc: &serde_json::Value) -> Result<Vec<Entry>, String> {
    let rows = doc.get("results").and_then(|r| r.as_array()).ok_or("no `results` list")?;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let text = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_string);
            Ok(Entry {
                workload: text("workload").unwrap_or_else(|| "all".into()),
                phase: text("phase").ok_or(format!("result {i} has no phase"))?,
                contender: text("contender").ok_or(format!("result {i} has no contender"))?,
                ops_per_sec: r.get("ops_per_sec").and_then(|v| v.as_f64()),
                status: text("status").unwrap_or_else(|| "ok".into()),
                reference: r.get("reference").and_then(|v| v.as_bool()).unwrap_or(false),
            })
        })
        .collect()
}

/// One line on which run a document holds: N, runs, Rivet's commit, the date, the load.
pub fn caption_from_json(doc: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(n) = doc.get("n").and_then(|v| v.as_u64()) {
        parts.push(format!("N = {n}"));
    }
    if let Some(r) = doc.get("runs").and_then(|v| v.as_u64()) {
        parts.push(if r == 1 { "1 run per contender".to_string() } else { format!("median of {r} runs") });
    }
    let rivet = doc.pointer("/versions/rivet").and_then(|v| v.as_str()).unwrap_or_default();
    if let Some((_, c)) = rivet.split_once("at commit ") {
        parts.push(format!("Rivet at {}", c.trim_end_matches(')')));
    }
    if let Some(d) = doc.get("date").and_then(|v| v.as_str()) {
        parts.push(d.to_string());
    }
    let load = |k: &str| {
        doc.pointer(&format!("/load_average/{k}"))
            .and_then(|v| v.as_str())
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string)
    };
    if let (Some(a), Some(b)) = (load("before"), load("after")) {
        parts.push(format!("load average {a} before, {b} after"));
    }
    parts.join(" · ")
}

/// Where the chart of `workload` goes for the results in `json`: beside it, named after it.
pub fn chart_path(json: &Path, workload: &str) -> PathBuf {
    let stem = json.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "results".into());
    json.with_file_name(format!("{stem}-{workload}.svg"))
}

/// Reads the results in `json` and writes one chart per workload beside it.
///
/// # Errors
/// A message when the file cannot be read or parsed, or a chart cannot be written.
pub fn write_charts(json: &Path) -> Result<Vec<PathBuf>, String> {
    let text = std::fs::read_to_string(json).map_err(|e| format!("cannot read {}: {e}", json.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", json.display()))?;
    let entries = entries_from_json(&doc).map_err(|e| format!("{}: {e}", json.display()))?;
    let caption = caption_from_json(&doc);
    let mut written = Vec::new();
    for workload in distinct(&entries, |e| &e.workload) {
        let path = chart_path(json, workload);
        std::fs::write(&path, svg(workload, &caption, &entries))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(workload: &str, phase: &str, contender: &str, rate: Option<f64>, status: &str) -> Entry {
        Entry {
            workload: workload.into(),
            phase: phase.into(),
            contender: contender.into(),
            ops_per_sec: rate,
            status: status.into(),
            reference: false,
        }
    }

    /// Two phases: in `load` bbolt is 100× slower than rivet (so the axis is logarithmic) and
    /// a reference runs beside them; in `reads` lmdb timed out and bbolt failed. A row of
    /// another workload must not show.
    fn sample() -> Vec<Entry> {
        let mut sync = entry("kv", "load", "fdatasync", Some(300.0), "ok");
        sync.reference = true;
        vec![
            entry("kv", "load", "rivet", Some(1000.0), "ok"),
            entry("kv", "load", "lmdb", Some(500.0), "ok"),
            entry("kv", "load", "bbolt", Some(10.0), "ok"),
            sync,
            entry("kv", "reads", "rivet", Some(200.0), "timed out in 1/3 runs (cap 120 s)"),
            entry("kv", "reads", "lmdb", None, "timed out in 3/3 runs (cap 120 s)"),
            entry("kv", "reads", "bbolt", None, "failed in 3/3 runs"),
            entry("typed", "insert", "native_db", Some(5.0), "ok"),
        ]
    }

    fn class<'a, 'i>(doc: &'a roxmltree::Document<'i>, c: &str) -> Vec<roxmltree::Node<'a, 'i>> {
        doc.descendants().filter(|n| n.attribute("class") == Some(c)).collect()
    }

    fn num(n: &roxmltree::Node, attr: &str) -> f64 {
        n.attribute(attr).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no numeric {attr}"))
    }

    #[test]
    fn a_bar_per_result_and_a_mark_per_missing_one() {
        let text = svg("kv", "N = 20 · 1 run", &sample());
        let doc = roxmltree::Document::parse(&text).expect("the chart is XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert_eq!(doc.root_element().attribute("data-scale"), Some("log"));

        let bars = class(&doc, "bar");
        let mut drawn: Vec<(&str, &str)> =
            bars.iter().map(|b| (b.attribute("data-phase").unwrap(), b.attribute("data-contender").unwrap())).collect();
        drawn.sort_unstable();
        let want = [("load", "bbolt"), ("load", "fdatasync"), ("load", "lmdb"), ("load", "rivet"), ("reads", "rivet")];
        assert_eq!(drawn, want, "one bar per (phase, contender) with a rate, none for the other workload");

        let missing: Vec<(String, String)> = class(&doc, "missing")
            .iter()
            .map(|n| (n.attribute("data-contender").unwrap().to_string(), n.text().unwrap().to_string()))
            .collect();
        assert_eq!(missing.len(), 2);
        assert!(missing.contains(&("lmdb".into(), "✗ timed out in 3/3 runs (cap 120 s)".into())), "{missing:?}");
        assert!(missing.contains(&("bbolt".into(), "✗ failed in 3/3 runs".into())), "{missing:?}");

        // Every contender is labelled in each phase it has a row in; the reference as one.
        let labels: Vec<&str> = class(&doc, "contender").iter().filter_map(|n| n.text()).collect();
        for c in ["rivet", "lmdb", "bbolt"] {
            assert_eq!(labels.iter().filter(|l| **l == c).count(), 2, "{c} in {labels:?}");
        }
        assert!(labels.contains(&"2× fdatasync (reference)"), "{labels:?}");
        assert!(!labels.contains(&"native_db"));

        // A partly lost rate keeps its bar and says what was lost.
        let values: Vec<&str> = class(&doc, "value").iter().filter_map(|n| n.text()).collect();
        assert!(values.contains(&"200/s (timed out in 1/3 runs (cap 120 s))"), "{values:?}");
        assert!(values.contains(&"500/s · 0.50×"), "{values:?}");
        assert!(values.contains(&"1.00K/s · fastest"), "{values:?}");
        assert!(values.contains(&"10.0/s · 0.010×"), "{values:?}");
        let phases: Vec<&str> = class(&doc, "phase-name").iter().filter_map(|n| n.text()).collect();
        assert_eq!(phases, ["load", "reads"]);
    }

    #[test]
    fn log_axis_positions_bars_by_decades() {
        let text = svg("kv", "", &sample());
        let doc = roxmltree::Document::parse(&text).unwrap();
        let bar = |c: &str| {
            class(&doc, "bar").into_iter().find(|b| b.attribute("data-contender") == Some(c)).map(|b| num(&b, "width"))
        };
        // Relative rates 1, 0.5, 0.01 (and the reference 0.3) on an axis from 0.001 to 1.
        let full = bar("rivet").unwrap();
        assert!((bar("bbolt").unwrap() - full / 3.0).abs() < 0.2);
        assert!((bar("lmdb").unwrap() - full * (1.0 - 2f64.log10() / 3.0)).abs() < 0.2);
        let ticks: Vec<&str> = class(&doc, "tick").iter().filter_map(|n| n.text()).collect();
        for t in ["0.001", "0.01", "0.1", "1"] {
            assert!(ticks.contains(&t), "{ticks:?}");
        }
    }

    #[test]
    fn linear_axis_when_the_spread_is_small() {
        let entries = vec![
            entry("typed", "get", "rivet", Some(800.0), "ok"),
            entry("typed", "get", "native_db", Some(400.0), "ok"),
            entry("typed", "remove", "rivet", Some(90.0), "ok"),
            entry("typed", "remove", "native_db", Some(300.0), "ok"),
        ];
        let text = svg("typed", "", &entries);
        let doc = roxmltree::Document::parse(&text).unwrap();
        assert_eq!(doc.root_element().attribute("data-scale"), Some("linear"));
        let bars = class(&doc, "bar");
        assert_eq!(bars.len(), 4);
        let w: Vec<f64> = bars.iter().map(|b| num(b, "width")).collect();
        // get: 1 and 0.5; remove: 0.3 and 1 (native_db is the fastest there).
        assert!((w[1] - w[0] / 2.0).abs() < 0.2 && (w[3] - w[0]).abs() < 0.1 && (w[2] - w[0] * 0.3).abs() < 0.2);
        assert!(bars.iter().all(|b| num(b, "x") == num(&bars[0], "x")), "bars start on the same axis");
    }

    #[test]
    fn the_threshold_between_linear_and_log() {
        assert_eq!(Scale::choose(&[1.0, 0.1]), Scale::Linear { max: 1.0 });
        assert_eq!(Scale::choose(&[1.0, 0.099]), Scale::Log { lo: -2, hi: 0 });
        assert_eq!(Scale::choose(&[1.0, 0.0098]), Scale::Log { lo: -3, hi: 0 });
        // A power of ten at the bottom still gets a visible bar.
        assert_eq!(Scale::choose(&[1.0, 0.01]), Scale::Log { lo: -3, hi: 0 });
        // A reference faster than every contender widens the axis.
        assert_eq!(Scale::choose(&[1.0, 1.6]), Scale::Linear { max: 1.75 });
        assert_eq!(Scale::choose(&[]), Scale::Linear { max: 1.0 });
        let log = Scale::Log { lo: -2, hi: 0 };
        assert!((log.position(0.1) - 0.5).abs() < 1e-12);
        assert_eq!(log.position(1e-5), 0.0);
    }

    #[test]
    fn numbers() {
        let r: Vec<String> = [925_400.0, 2_134_000.0, 48_420.0, 9_549.0, 25.0, 999.96, 1.5e9].map(rate_text).into();
        assert_eq!(r, ["925K", "2.13M", "48.4K", "9.55K", "25.0", "1.00K", "1.50G"]);
        let q: Vec<String> = [1.0, 0.904, 0.1, 0.0098, 0.024, 0.00012].map(ratio_text).into();
        assert_eq!(q, ["1.00", "0.90", "0.10", "0.0098", "0.024", "0.00012"]);
    }

    #[test]
    fn text_is_escaped() {
        let name = r#"<evil> & "quoted" 'too'"#;
        let entries = vec![
            entry("k&v", "a<b", name, Some(10.0), "ok"),
            entry("k&v", "a<b", "rivet", None, "failed: <stderr> & more"),
        ];
        let text = svg("k&v", "caption <with> & \"quotes\"", &entries);
        let doc = roxmltree::Document::parse(&text).expect("escaped text parses");
        let labels: Vec<&str> = class(&doc, "contender").iter().filter_map(|n| n.text()).collect();
        assert!(labels.contains(&name), "{labels:?}");
        assert_eq!(class(&doc, "bar")[0].attribute("data-contender"), Some(name));
        assert_eq!(class(&doc, "missing")[0].text(), Some("✗ failed: <stderr> & more"));
        assert_eq!(class(&doc, "caption")[0].text(), Some("caption <with> & \"quotes\""));
        assert_eq!(doc.root_element().attribute("data-workload"), Some("k&v"));
    }

    #[test]
    fn charts_from_a_results_file() {
        let doc = serde_json::json!({
            "n": 200000,
            "runs": 3,
            "date": "2026-01-02",
            "versions": {"rivet": "rivet-engine 0.1.0 and rivet 0.1.0 (this tree, at commit abc1234)"},
            "load_average": {"before": "1.20 1.00 0.90 1/100 5", "after": "1.50 1.10 0.90 1/100 6"},
            "results": [
                {"workload": "kv", "phase": "bulk_load", "contender": "rivet", "ops_per_sec": 9.0e5, "status": "ok", "reference": false},
                {"workload": "kv", "phase": "bulk_load", "contender": "sled", "ops_per_sec": null, "status": "failed in 3/3 runs", "reference": false},
                {"workload": "typed", "phase": "typed_get", "contender": "rivet", "ops_per_sec": 7.0e5, "status": "ok", "reference": false},
            ],
        });
        let entries = entries_from_json(&doc).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].ops_per_sec, None);
        assert_eq!(
            caption_from_json(&doc),
            "N = 200000 · median of 3 runs · Rivet at abc1234 · 2026-01-02 · load average 1.20 before, 1.50 after"
        );
        let old = serde_json::json!({"results": [{"phase": "p", "contender": "c", "ops_per_sec": 1.0}]});
        assert_eq!(entries_from_json(&old).unwrap()[0].workload, "all");
        assert!(entries_from_json(&serde_json::json!({})).is_err());

        let dir = std::env::temp_dir().join(format!("rivet-bench-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("run.json");
        std::fs::write(&json, doc.to_string()).unwrap();
        let written = write_charts(&json).unwrap();
        assert_eq!(written, [dir.join("run-kv.svg"), dir.join("run-typed.svg")]);
        for p in &written {
            let text = std::fs::read_to_string(p).unwrap();
            roxmltree::Document::parse(&text).unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
