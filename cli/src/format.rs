//! How keys and values are shown (`--format`) and how names and keys given on the command line
//! are read (`--parse-format`).
//!
//! - `auto`: text when the bytes are UTF-8 without control characters, else `0x` and hex;
//! - `hex`: lowercase hex;
//! - `bytes`: the raw bytes (for `get`, exactly the value, without a newline);
//! - `json`: a JSON string when the bytes are UTF-8, else `{"hex":"..."}`.

use std::io::Write;

use clap::ValueEnum;

use crate::error::CliError;

/// How bytes are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text when printable UTF-8, else 0x-prefixed hex.
    Auto,
    /// Lowercase hex.
    Hex,
    /// Raw bytes.
    Bytes,
    /// JSON: a string, or {"hex": ...} for bytes that are not UTF-8.
    Json,
}

/// How names and keys on the command line are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParseFormat {
    /// As typed (UTF-8).
    #[value(alias = "ascii-encoded")]
    Text,
    /// Hex digits (for binary keys), e.g. `00ff`.
    Hex,
}

/// Lowercase hex of `b`.
pub fn hex(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 15) as usize] as char);
    }
    s
}

/// Decodes hex digits (either case, even length, optional `0x` prefix).
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let t = s.strip_prefix("0x").unwrap_or(s);
    if !t.len().is_multiple_of(2) {
        return Err(format!("bad hex {s:?}: odd number of digits"));
    }
    let digit = |c: u8| -> Result<u8, String> {
        (c as char)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| format!("bad hex {s:?}: {:?} is not a hex digit", c as char))
    };
    t.as_bytes().chunks(2).map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

/// Reads a command-line name or key meant for `file`.
pub fn parse_arg(s: &str, pf: ParseFormat, file: &std::path::Path) -> Result<Vec<u8>, CliError> {
    match pf {
        ParseFormat::Text => Ok(s.as_bytes().to_vec()),
        ParseFormat::Hex => unhex(s).map_err(|e| CliError::file(file, e)),
    }
}

/// Whether `b` reads well as text.
fn printable(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok().filter(|s| !s.chars().any(char::is_control))
}

/// `b` as one line of text in format `f` (`bytes` is shown as `auto` here; use [`write_bytes`]
/// to emit raw bytes).
pub fn show(b: &[u8], f: Format) -> String {
    match f {
        Format::Auto | Format::Bytes => match printable(b) {
            Some(s) => s.to_string(),
            None => format!("0x{}", hex(b)),
        },
        Format::Hex => hex(b),
        Format::Json => json(b).to_string(),
    }
}

/// `b` shortened to about `max` bytes for tables, with its full length when shortened.
pub fn show_short(b: &[u8], f: Format, max: usize) -> String {
    if b.len() <= max {
        return show(b, f);
    }
    let cut = match std::str::from_utf8(b) {
        // Keep the cut on a character boundary so that text stays text.
        Ok(s) => (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0),
        Err(_) => max,
    };
    format!("{}... ({} bytes)", show(&b[..cut], f), b.len())
}

/// `b` as a JSON value.
pub fn json(b: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(b) {
        Ok(s) => serde_json::Value::String(s.to_string()),
        Err(_) => serde_json::json!({ "hex": hex(b) }),
    }
}

/// Writes `b` in format `f` followed by a newline (`bytes`: raw, newline only if `newline`).
pub fn write_bytes(out: &mut dyn Write, b: &[u8], f: Format, newline: bool) -> Result<(), CliError> {
    match f {
        Format::Bytes => {
            out.write_all(b).map_err(CliError::output)?;
            if newline {
                out.write_all(b"\n").map_err(CliError::output)?;
            }
            Ok(())
        }
        _ => writeln!(out, "{}", show(b, f)).map_err(CliError::output),
    }
}

/// Sorted page ids as ranges: `6-227,230-344,402`.
pub fn ranges(ids: &[u64]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1] == end + 1 {
            i += 1;
            end = ids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

/// `n` and `what`, with an `s` unless `n` is 1: `1 problem`, `2 problems`.
pub fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// A bucket path for messages: names in `auto` format joined by `/` (`(root)` when empty).
pub fn path(names: &[Vec<u8>]) -> String {
    if names.is_empty() {
        return "(root)".into();
    }
    names.iter().map(|n| show(n, Format::Auto)).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        assert_eq!(unhex("00ff10").unwrap(), vec![0, 255, 16]);
        assert_eq!(unhex("0xAB").unwrap(), vec![0xab]);
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
        assert_eq!(hex(&[0, 255]), "00ff");
    }

    #[test]
    fn auto_and_ranges() {
        assert_eq!(show(b"apple", Format::Auto), "apple");
        assert_eq!(show(&[0, 1], Format::Auto), "0x0001");
        assert_eq!(show(&[0xff], Format::Json), r#"{"hex":"ff"}"#);
        assert_eq!(ranges(&[2, 3, 4, 7, 9, 10]), "2-4,7,9-10");
        assert_eq!(show_short(b"abcdef", Format::Auto, 3), "abc... (6 bytes)");
    }
}
