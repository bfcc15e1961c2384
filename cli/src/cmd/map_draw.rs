//! Drawing `rivet map`: the page census of `map` as plain SVG (or an HTML page holding the same
//! picture, with a hover title on every cell).
//!
//! Layout: the map on the left, cells left to right and top to bottom in page order; the legend
//! and the figures on the right. A cell is one page, or a run of `per` pages when the file has
//! more than `max_cells` pages: the run takes the colour of its most common class, and red if
//! any page of it is damaged. In the plain SVG, neighbouring cells of one colour on a row are
//! one `<rect>` (so a large file stays small); each carries `data-p` (its first page) and
//! `data-n` (how many pages it covers), and its CSS class (`kN`) is the legend entry whose
//! swatch carries the same class with `data-owner`, `data-kind` and `data-pages`.

use std::fmt::Write as _;

use crate::cmd::map::{free_runs, Kind, Page, Walked};
use crate::format::{show_short, Format};
use crate::svg::{escape, Svg};

/// How to draw.
pub struct Options {
    /// An HTML page with a hover title on every cell, instead of plain SVG.
    pub html: bool,
    /// At most this many cells (pages are grouped into runs above it).
    pub max_cells: u64,
}

/// The longest line of the figures (longer texts are wrapped).
const WRAP: usize = 90;

/// Top-level buckets drawn in colours of their own (the rest share one).
const TOP: usize = 24;

const META: usize = 0;
const FREELIST: usize = 1;
const FREE: usize = 2;
const LEAKED: usize = 3;
const DAMAGED: usize = 4;
const UNKNOWN: usize = 5;
/// The first class of the tree owners: three each (branch, leaf, overflow).
const OWNERS: usize = 6;

/// A legend entry.
struct Class {
    owner: String,
    kind: &'static str,
    colour: String,
    pages: u64,
}

/// The classes, and which group of classes each owner of the census is drawn in.
struct Palette {
    classes: Vec<Class>,
    /// Owner number → group (0 the root bucket, then the top buckets, the last "other").
    group: Vec<usize>,
    /// Per group: its label and the owners in it.
    labels: Vec<String>,
}

fn fixed(owner: &str, colour: &str) -> Class {
    Class { owner: owner.to_string(), kind: "", colour: colour.to_string(), pages: 0 }
}

fn palette(w: &Walked<'_>) -> Palette {
    let owners = &w.census.owners;
    let mut classes = vec![
        fixed("meta", "#000000"),
        fixed("freelist", "#707070"),
        fixed("free", "#e4e4e4"),
        fixed("leaked", "#ff00ff"),
        fixed("damaged", "#e00000"),
        fixed("unknown", "#ffffff"),
    ];
    let mut ranked: Vec<usize> = (1..owners.len()).collect();
    ranked.sort_by_key(|&o| std::cmp::Reverse(owners[o].pages()));
    let mut group = vec![0; owners.len()];
    let mut labels = vec!["(root bucket)".to_string()];
    let mut keys = vec![("root".to_string(), 210.0, 40.0)];
    for (rank, &o) in ranked.iter().enumerate() {
        if rank < TOP {
            group[o] = rank + 1;
            labels.push(show_short(&owners[o].name, Format::Auto, 40));
            // Spread by the golden angle over 20..340, keeping pure red for damage.
            let hue = 20.0 + (rank as f64 * 137.508) % 320.0;
            keys.push((format!("bucket:{}", crate::format::hex(&owners[o].name)), hue, 65.0));
        } else {
            group[o] = TOP + 1;
        }
    }
    if ranked.len() > TOP {
        labels.push(format!("({} other buckets)", ranked.len() - TOP));
        keys.push(("other".to_string(), 30.0, 20.0));
    }
    for (key, hue, sat) in keys {
        for (kind, light) in [("branch", 30), ("leaf", 50), ("overflow", 72)] {
            let colour = format!("hsl({hue:.0},{sat:.0}%,{light}%)");
            classes.push(Class { owner: key.clone(), kind, colour, pages: 0 });
        }
    }
    Palette { classes, group, labels }
}

impl Palette {
    /// The class a page is counted in (damage apart).
    fn of(&self, p: &Page) -> usize {
        let tree = |shade: usize| OWNERS + 3 * self.group.get(p.owner as usize).copied().unwrap_or(0) + shade;
        match p.kind {
            Kind::Unknown => UNKNOWN,
            Kind::Meta => META,
            Kind::Freelist => FREELIST,
            Kind::Free => FREE,
            Kind::Leaked => LEAKED,
            Kind::Unread => DAMAGED,
            Kind::Branch => tree(0),
            Kind::Leaf => tree(1),
            Kind::Overflow => tree(2),
        }
    }

    fn name(&self, c: usize) -> String {
        let cl = &self.classes[c];
        if c < OWNERS {
            return cl.owner.clone();
        }
        format!("{} {}", self.labels[(c - OWNERS) / 3], cl.kind)
    }
}

/// One cell: its first page, pages, class drawn, and (HTML) what it holds.
struct Cell {
    first: u64,
    n: u64,
    class: usize,
    title: Option<String>,
}

fn cells(pages: &[Page], pal: &Palette, per: u64, titles: bool) -> Vec<Cell> {
    let mut out = Vec::with_capacity(pages.len() / per.max(1) as usize + 1);
    let mut counts = vec![0u64; pal.classes.len()];
    for (i, chunk) in pages.chunks(per as usize).enumerate() {
        let mut damaged = 0u64;
        for p in chunk {
            counts[pal.of(p)] += 1;
            damaged += u64::from(p.damaged());
        }
        let mut best = 0;
        for c in 0..counts.len() {
            if counts[c] > counts[best] {
                best = c;
            }
        }
        let title = titles.then(|| {
            let first = i as u64 * per;
            let mut t = if chunk.len() == 1 {
                format!("page {first}:")
            } else {
                format!("pages {first}-{}:", first + chunk.len() as u64 - 1)
            };
            for (c, &k) in counts.iter().enumerate().filter(|(_, &k)| k > 0) {
                let _ = write!(t, " {k} {},", pal.name(c));
            }
            t.pop();
            if damaged > 0 {
                let _ = write!(t, "; {damaged} damaged");
            }
            t
        });
        let class = if damaged > 0 { DAMAGED } else { best };
        out.push(Cell { first: i as u64 * per, n: chunk.len() as u64, class, title });
        counts.iter_mut().for_each(|k| *k = 0);
    }
    out
}

/// Adds `text` to `lines`, cut at spaces into lines of at most [`WRAP`] characters, the
/// second and later indented (and the first too with `indent`).
fn wrap(lines: &mut Vec<String>, text: &str, indent: bool) {
    let mut line = String::from(if indent { "  " } else { "" });
    for word in text.split(' ') {
        if !line.trim().is_empty() && line.chars().count() + 1 + word.chars().count() > WRAP {
            lines.push(std::mem::replace(&mut line, "  ".to_string()));
        } else if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.trim().is_empty() {
        lines.push(line);
    }
}

/// `n` and `what`, plural when `n` is not 1.
fn count(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn mib(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{} KiB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

fn pct(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        (part as f64 * 100.0 / whole as f64).round() as u64
    }
}

/// The figures beside the map, as lines of text.
fn figures(w: &Walked<'_>, pal: &Palette, damaged: u64) -> Vec<String> {
    let c = &w.census;
    let ps = u64::from(w.page_size);
    let mut l = Vec::new();
    l.push("Figures".to_string());
    for (o, owner) in c.owners.iter().enumerate() {
        if o > 0 && pal.group[o] > TOP {
            continue;
        }
        let label = if o == 0 { "(root bucket)".to_string() } else { pal.labels[pal.group[o]].clone() };
        if owner.inline {
            l.push(format!("{label}: inline (in the root bucket's leaf, no pages of its own)"));
            continue;
        }
        l.push(format!(
            "{label}: {} ({} branch, {} leaf, {} overflow); leaves {}% full",
            count(owner.pages(), "page"),
            owner.branch,
            owner.leaf,
            owner.overflow,
            pct(owner.leaf_inuse, owner.leaf_alloc)
        ));
    }
    let others: Vec<_> = (1..c.owners.len()).filter(|&o| pal.group[o] > TOP).collect();
    if !others.is_empty() {
        let sum = |f: fn(&crate::cmd::map::Owner) -> u64| others.iter().map(|&o| f(&c.owners[o])).sum::<u64>();
        l.push(format!(
            "{}: {}; leaves {}% full",
            pal.labels[TOP + 1],
            count(sum(|o| o.pages()), "page"),
            pct(sum(|o| o.leaf_inuse), sum(|o| o.leaf_alloc))
        ));
    }
    let (runs, longest) = free_runs(&c.pages);
    let free = pal.classes[FREE].pages;
    l.push(format!(
        "free: {free} pages in {runs} runs, the longest {} pages (from page {})",
        longest.len, longest.first
    ));
    l.push("pending pages are stored with the free ones; the file".to_string());
    l.push("  cannot tell them apart, so they are drawn as free".to_string());
    if pal.classes[LEAKED].pages > 0 {
        l.push(format!("leaked (unreachable, not free): {}", count(pal.classes[LEAKED].pages, "page")));
    }
    if damaged > 0 || c.problems > 0 {
        let problems = count(c.problems, "problem");
        l.push(format!("damaged: {}; {problems}; run `rivet check`", count(damaged, "page")));
        if let Some(first) = &c.first_problem {
            wrap(&mut l, &format!("the first: {first}"), true);
        }
    }
    if let Some(t) = &w.truncated {
        wrap(&mut l, t, false);
    }
    let inuse: u64 = c.owners.iter().map(|o| o.leaf_inuse + o.branch_inuse).sum();
    let freelist = pal.classes[FREELIST].pages.max(1);
    let est = (2 + freelist + inuse.div_ceil(ps.max(1))).min(w.hwm);
    let saved = w.hwm - est;
    let compact = format!(
        "compact: about {} ({}) instead of {} ({}): saves about {} ({}%)",
        count(est, "page"),
        mib(est.saturating_mul(ps)),
        w.hwm,
        mib(w.hwm.saturating_mul(ps)),
        count(saved, "page"),
        pct(saved, w.hwm)
    );
    wrap(&mut l, &compact, false);
    l.push("  estimated from the bytes the branches and leaves use, packed".to_string());
    l.push("  into full pages, plus 2 metas and the freelist: a lower bound".to_string());
    l.push("  on the new file, so the saving is at most this".to_string());
    l
}

/// Draws the map of `w`, as SVG or (with `html`) an HTML page.
pub fn draw(file: &str, w: &Walked<'_>, opts: &Options) -> String {
    let mut pal = palette(w);
    let pages = &w.census.pages;
    let mut damaged = 0u64;
    for p in pages {
        let c = pal.of(p);
        pal.classes[c].pages += 1;
        if p.damaged() && c != DAMAGED {
            damaged += 1;
        }
    }
    damaged += pal.classes[DAMAGED].pages;
    let n = pages.len() as u64;
    let per = n.div_ceil(opts.max_cells).max(1);
    let cells = cells(pages, &pal, per, opts.html);
    let (cols, size) = match cells.len() {
        0..=256 => (32u64, 14u64),
        257..=4096 => (64, 10),
        _ => (128, 6),
    };
    let rows = (cells.len() as u64).div_ceil(cols);
    let (x0, y0) = (10u64, 56u64);
    let fx = x0 + cols * size + 24;
    let figs = figures(w, &pal, damaged);
    let legend: Vec<usize> = (0..pal.classes.len())
        .filter(|&c| pal.classes[c].pages > 0 || c == FREE || (c == DAMAGED && damaged > 0))
        .collect();
    let text_h = 16 * (legend.len() + figs.len() + 3) as u64;
    let height = y0 + (rows * size).max(text_h) + 16;
    // Monospace at 12 px is about 7.3 px a character.
    let widest = figs.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u64;
    let mut svg = Svg::new((fx + widest * 15 / 2 + 30).max(x0 + 700), height);
    let mut css = String::from("rect{shape-rendering:crispEdges}text{fill:#222}");
    for (i, c) in pal.classes.iter().enumerate() {
        let _ = write!(css, ".k{i}{{fill:{}}}", c.colour);
    }
    let _ =
        write!(css, ".k{UNKNOWN},.k{FREE}{{stroke:#c8c8c8;stroke-width:0.5}}.k{DAMAGED}{{stroke:#000;stroke-width:1}}");
    svg.style(&css);
    svg.text(x0, 20, &format!("rivet map {file}"), true);
    let cell_says = if per == 1 {
        "one cell = one page".to_string()
    } else {
        format!("one cell = {per} pages (the run's most common class; red if any page is damaged)")
    };
    svg.text(
        x0,
        40,
        &format!(
            "page size {}, {} pages below the high-water mark ({}), {}",
            w.page_size,
            w.hwm,
            mib(w.hwm.saturating_mul(u64::from(w.page_size))),
            cell_says
        ),
        false,
    );
    svg.open_group(&format!("id=\"map\" data-per-cell=\"{per}\" data-pages=\"{n}\""));
    for row in cells.chunks(cols as usize).enumerate() {
        let (r, row) = row;
        let y = y0 + r as u64 * size;
        let mut i = 0;
        while i < row.len() {
            let mut j = i + 1;
            if !opts.html {
                while j < row.len() && row[j].class == row[i].class {
                    j += 1;
                }
            }
            let n: u64 = row[i..j].iter().map(|c| c.n).sum();
            let attrs = format!("data-p=\"{}\" data-n=\"{n}\"", row[i].first);
            let x = x0 + i as u64 * size;
            let class = format!("k{}", row[i].class);
            svg.rect(&class, [x, y, (j - i) as u64 * size, size], &attrs, row[i].title.as_deref());
            i = j;
        }
    }
    svg.close_group();
    svg.open_group("id=\"legend\"");
    let mut y = y0 + 10;
    svg.text(fx, y, "Legend (pages)", true);
    for &c in &legend {
        y += 16;
        let cl = &pal.classes[c];
        let pages = if c == DAMAGED { damaged } else { cl.pages };
        let attrs = format!("data-owner=\"{}\" data-kind=\"{}\" data-pages=\"{pages}\"", escape(&cl.owner), cl.kind);
        svg.rect(&format!("k{c}"), [fx, y - 10, 12, 12], &attrs, None);
        let mut label = pal.name(c);
        if c == FREE {
            label.push_str(" (and pending)");
        }
        if c == DAMAGED {
            label.push_str(" (drawn over their owner)");
        }
        svg.text(fx + 18, y, &format!("{label}: {pages}"), false);
    }
    svg.close_group();
    svg.open_group("id=\"figures\"");
    y += 16;
    for (i, line) in figs.iter().enumerate() {
        y += 16;
        // Continuation lines are indented by position (SVG collapses leading spaces).
        match line.strip_prefix("  ") {
            Some(rest) => svg.text(fx + 16, y, rest, false),
            None => svg.text(fx, y, line, i == 0),
        }
    }
    svg.close_group();
    let out = svg.finish();
    if !opts.html {
        return out;
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rivet map {}</title></head>\n\
         <body style=\"margin:0\">\n<p style=\"font-family:monospace\">Hover over a cell for its pages.</p>\n{out}</body></html>\n",
        escape(file)
    )
}
