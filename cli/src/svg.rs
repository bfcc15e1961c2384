//! A very small writer of plain SVG text: escaping, and the few elements the `map` command
//! draws (rectangles, text lines, groups, a style sheet). Everything goes into one `String`;
//! numbers are written as integers so that the output stays short and stable.

use std::fmt::Write as _;

/// `s` with the five XML special characters escaped, safe in text and in quoted attributes.
/// Control characters (not allowed in XML 1.0) become `?`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document being written.
pub struct Svg {
    buf: String,
}

impl Svg {
    /// Starts a document of `width` × `height` pixels.
    pub fn new(width: u64, height: u64) -> Self {
        let mut buf = String::with_capacity(64 * 1024);
        let _ = writeln!(
            buf,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"monospace\" font-size=\"12\">"
        );
        Svg { buf }
    }

    /// A `<style>` sheet (its text is escaped).
    pub fn style(&mut self, css: &str) {
        let _ = writeln!(self.buf, "<style>{}</style>", escape(css));
    }

    /// Opens a group with the given raw attributes (already escaped by the caller).
    pub fn open_group(&mut self, attrs: &str) {
        let _ = writeln!(self.buf, "<g {attrs}>");
    }

    /// Closes a group.
    pub fn close_group(&mut self) {
        self.buf.push_str("</g>\n");
    }

    /// A rectangle `[x, y, width, height]` with a CSS class, extra raw attributes and an
    /// optional hover title.
    pub fn rect(&mut self, class: &str, [x, y, w, h]: [u64; 4], attrs: &str, title: Option<&str>) {
        let _ = write!(self.buf, "<rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\"");
        if !attrs.is_empty() {
            self.buf.push(' ');
            self.buf.push_str(attrs);
        }
        match title {
            Some(t) => {
                let _ = writeln!(self.buf, "><title>{}</title></rect>", escape(t));
            }
            None => self.buf.push_str("/>\n"),
        }
    }

    /// A line of text at (`x`, `y`) (its baseline); `weight` is `bold` or empty.
    pub fn text(&mut self, x: u64, y: u64, s: &str, bold: bool) {
        let w = if bold { " font-weight=\"bold\"" } else { "" };
        let _ = writeln!(self.buf, "<text x=\"{x}\" y=\"{y}\"{w}>{}</text>", escape(s));
    }

    /// Ends the document and returns its text.
    pub fn finish(mut self) -> String {
        self.buf.push_str("</svg>\n");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;?");
    }

    #[test]
    fn writes_elements() {
        let mut s = Svg::new(10, 20);
        s.rect("k1", [1, 2, 3, 4], "data-p=\"5\"", Some("<x>"));
        s.text(0, 10, "a&b", true);
        let t = s.finish();
        assert!(t.contains("<title>&lt;x&gt;</title>"));
        assert!(t.contains(">a&amp;b</text>"));
        assert!(t.ends_with("</svg>\n"));
    }
}
