//! A small JSON5 parser that remembers where each key is.
//!
//! The config pipeline needs positions twice: a syntax error names its line and column, and a
//! validation issue names the line of the offending key. [`parse`] yields the value plus a
//! [`Spans`] table from dotted key path (`gateway.auth.mode`, arrays as `list[2]`) to the key's
//! position and the byte range of its value (used to redact secrets in the raw text).
//!
//! Accepted: `//` and `/* */` comments, trailing commas, unquoted (identifier) keys, single- or
//! double-quoted strings with JSON5 escapes and line continuations, hex numbers, leading/trailing
//! decimal points, explicit `+`. `Infinity`/`NaN` are refused: a config never needs them and JSON
//! (the write format) cannot hold them.

// Catch-all arms over `serde_json::Value` are deliberate: each walk cares about one or two shapes.
#![allow(clippy::wildcard_enum_match_arm)]

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

/// A 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// Where a key sits and where its value lies in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The key's first character (for the root and array items: the value's).
    pub key: Pos,
    /// Byte range of the value.
    pub value: (usize, usize),
}

/// Dotted path → span, for every key and array item of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spans(pub BTreeMap<String, Span>);

impl Spans {
    /// The span of `path`, or of its nearest ancestor that has one.
    pub fn nearest(&self, path: &str) -> Option<&Span> {
        let mut p = path;
        loop {
            if let Some(span) = self.0.get(p) {
                return Some(span);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

/// A JSON5 syntax error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("JSON5 parse failed at line {}, column {}: {message}", pos.line, pos.column)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// A parsed document.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub value: Value,
    pub spans: Spans,
}

/// Parses one JSON5 document.
pub fn parse(text: &str) -> Result<Parsed, SyntaxError> {
    let mut p = Parser { text, i: 0, spans: BTreeMap::new() };
    p.skip_ws()?;
    let value = p.value(String::new(), None, 0)?;
    p.skip_ws()?;
    if p.i < text.len() {
        return Err(p.err_here("unexpected content after the end of the document"));
    }
    Ok(Parsed { value, spans: Spans(p.spans) })
}

/// Deeper nesting is refused rather than risking the stack.
const MAX_DEPTH: usize = 128;

struct Parser<'a> {
    text: &'a str,
    i: usize,
    spans: BTreeMap<String, Span>,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn is_id_start(c: char) -> bool {
    c == '$' || c == '_' || c.is_alphabetic()
}

fn is_id_continue(c: char) -> bool {
    is_id_start(c) || c.is_alphanumeric() || c == '\u{200C}' || c == '\u{200D}'
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.i..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn pos_at(&self, at: usize) -> Pos {
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |n| n + 1);
        let column = before[start..].chars().count() + 1;
        Pos { line: u32::try_from(line).unwrap_or(u32::MAX), column: u32::try_from(column).unwrap_or(u32::MAX) }
    }

    fn err_at(&self, at: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError { pos: self.pos_at(at), message: message.into() }
    }

    fn err_here(&self, message: impl Into<String>) -> SyntaxError {
        self.err_at(self.i, message)
    }

    fn unexpected(&self) -> SyntaxError {
        match self.peek() {
            Some(c) => self.err_here(format!("invalid character {c:?}")),
            None => self.err_here("unexpected end of input"),
        }
    }

    fn skip_ws(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() || c == '\u{FEFF}' => {
                    self.bump();
                }
                Some('/') => {
                    let start = self.i;
                    match self.text[self.i..].chars().nth(1) {
                        Some('/') => {
                            while let Some(c) = self.peek() {
                                if c == '\n' || c == '\r' || c == '\u{2028}' || c == '\u{2029}' {
                                    break;
                                }
                                self.bump();
                            }
                        }
                        Some('*') => {
                            self.i += 2;
                            match self.text[self.i..].find("*/") {
                                Some(end) => self.i += end + 2,
                                None => return Err(self.err_at(start, "unterminated block comment")),
                            }
                        }
                        _ => return Err(self.unexpected()),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, path: String, key: Option<Pos>, depth: usize) -> Result<Value, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.err_here("nested too deeply"));
        }
        let start = self.i;
        let value = match self.peek() {
            Some('{') => self.object(&path, depth)?,
            Some('[') => self.array(&path, depth)?,
            Some('"' | '\'') => Value::String(self.string()?),
            Some(c) if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => self.number()?,
            Some(c) if is_id_start(c) => {
                let word = self.identifier();
                match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    "Infinity" | "NaN" => return Err(self.err_at(start, format!("{word} is not supported in a config"))),
                    _ => return Err(self.err_at(start, format!("invalid value {word:?} (strings need quotes)"))),
                }
            }
            _ => return Err(self.unexpected()),
        };
        let key = key.unwrap_or_else(|| self.pos_at(start));
        self.spans.insert(path, Span { key, value: (start, self.i) });
        Ok(value)
    }

    fn object(&mut self, path: &str, depth: usize) -> Result<Value, SyntaxError> {
        self.bump();
        let mut map = Map::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some('}') {
                self.bump();
                return Ok(Value::Object(map));
            }
            let key_at = self.i;
            let key = match self.peek() {
                Some('"' | '\'') => self.string()?,
                Some(c) if is_id_start(c) || c == '\\' => self.identifier(),
                _ => return Err(self.unexpected()),
            };
            if key.is_empty() {
                return Err(self.unexpected());
            }
            self.skip_ws()?;
            if self.peek() != Some(':') {
                return Err(self.unexpected());
            }
            self.bump();
            self.skip_ws()?;
            let key_pos = self.pos_at(key_at);
            let value = self.value(join(path, &key), Some(key_pos), depth + 1)?;
            map.insert(key, value);
            self.skip_ws()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('}') => {}
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn array(&mut self, path: &str, depth: usize) -> Result<Value, SyntaxError> {
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(']') {
                self.bump();
                return Ok(Value::Array(items));
            }
            let item = self.value(format!("{path}[{}]", items.len()), None, depth + 1)?;
            items.push(item);
            self.skip_ws()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {}
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn identifier(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if is_id_continue(c) {
                out.push(c);
                self.bump();
            } else {
                break;
            }
        }
        out
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.i;
        let quote = self.bump().unwrap_or('"');
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.err_at(start, "unterminated string"));
            };
            match c {
                c if c == quote => return Ok(out),
                '\n' | '\r' => return Err(self.err_at(self.i - 1, "invalid line break in string")),
                '\\' => {
                    let esc_at = self.i - 1;
                    let Some(e) = self.bump() else {
                        return Err(self.err_at(start, "unterminated string"));
                    };
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        '0' if !self.peek().is_some_and(|d| d.is_ascii_digit()) => out.push('\0'),
                        'x' => {
                            let code = self.hex(2).ok_or_else(|| self.err_at(esc_at, "invalid \\x escape"))?;
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                        'u' => {
                            let hi = self.hex(4).ok_or_else(|| self.err_at(esc_at, "invalid \\u escape"))?;
                            let code = if (0xD800..0xDC00).contains(&hi) && self.text[self.i..].starts_with("\\u") {
                                self.i += 2;
                                let lo = self.hex(4).ok_or_else(|| self.err_at(esc_at, "invalid \\u escape"))?;
                                0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                        '\r' => {
                            if self.peek() == Some('\n') {
                                self.bump();
                            }
                        }
                        '\n' | '\u{2028}' | '\u{2029}' => {}
                        c if c.is_ascii_digit() => return Err(self.err_at(esc_at, "invalid escape")),
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
    }

    fn hex(&mut self, len: usize) -> Option<u32> {
        let digits = self.text.get(self.i..self.i + len)?;
        let code = u32::from_str_radix(digits, 16).ok()?;
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        self.i += len;
        Some(code)
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.i;
        let negative = match self.peek() {
            Some('-') => {
                self.bump();
                true
            }
            Some('+') => {
                self.bump();
                false
            }
            _ => false,
        };
        if self.text[self.i..].starts_with("0x") || self.text[self.i..].starts_with("0X") {
            self.i += 2;
            let digits_at = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.bump();
            }
            let n = u64::from_str_radix(&self.text[digits_at..self.i], 16)
                .map_err(|_| self.err_at(start, "invalid hex number"))?;
            return Ok(if negative {
                i64::try_from(n).map(|v| Value::Number((-v).into())).map_err(|_| self.err_at(start, "number out of range"))?
            } else {
                Value::Number(n.into())
            });
        }
        if self.peek().is_some_and(is_id_start) {
            let word = self.identifier();
            return Err(self.err_at(start, format!("{word} is not supported in a config")));
        }
        let body_at = self.i;
        let mut digits = 0;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            digits += 1;
        }
        let mut float = false;
        if self.peek() == Some('.') {
            self.bump();
            float = true;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
                digits += 1;
            }
        }
        if digits == 0 {
            return Err(self.err_at(start, "invalid number"));
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            float = true;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            let exp_at = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            if self.i == exp_at {
                return Err(self.err_at(start, "invalid number exponent"));
            }
        }
        let body = &self.text[body_at..self.i];
        let sign = if negative { "-" } else { "" };
        if !float {
            if let Ok(n) = format!("{sign}{body}").parse::<i64>() {
                return Ok(Value::Number(n.into()));
            }
            if let Ok(n) = body.parse::<u64>() {
                if !negative {
                    return Ok(Value::Number(n.into()));
                }
            }
        }
        let f: f64 = format!("{sign}0{body}").parse().map_err(|_| self.err_at(start, "invalid number"))?;
        Number::from_f64(f).map(Value::Number).ok_or_else(|| self.err_at(start, "number out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_json5_features() {
        let p = parse(
            "// c\n{\n  a: 1, 'b': \"x\\ty\", c: [1, 2,], /* d */ d: {e: null, f: true},\n  g: 0x1F, h: .5, i: +3, j: 5., k: -2e2,\n}\n",
        )
        .unwrap();
        assert_eq!(
            p.value,
            json!({"a":1,"b":"x\ty","c":[1,2],"d":{"e":null,"f":true},"g":31,"h":0.5,"i":3,"j":5.0,"k":-200.0})
        );
        assert_eq!(p.spans.0["a"].key, Pos { line: 3, column: 3 });
        assert_eq!(p.spans.0["d.f"].key, Pos { line: 3, column: 55 });
        assert_eq!(p.spans.0["c[1]"].key, Pos { line: 3, column: 29 });
        assert_eq!(p.spans.0["g"].key.line, 4);
        let (s, e) = p.spans.0["b"].value;
        assert_eq!(&"// c\n{\n  a: 1, 'b': \"x\\ty\", c"[s..e], "\"x\\ty\"");
        assert_eq!(p.spans.nearest("d.f.zz").unwrap().key, p.spans.0["d.f"].key);
    }

    #[test]
    fn errors_have_line_and_column() {
        let e = parse("{\n  gateway: { port: 1,, }\n}").unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (2, 22));
        assert_eq!(e.message, "invalid character ','");
        let e = parse("{\n a: 'x").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, column: 5 });
        assert_eq!(e.message, "unterminated string");
        assert_eq!(parse("{a: nope}").unwrap_err().message, "invalid value \"nope\" (strings need quotes)");
        assert!(parse("{a: Infinity}").is_err());
        assert!(parse("{} x").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(500);
        assert_eq!(parse(&text).unwrap_err().message, "nested too deeply");
    }

    proptest::proptest! {
        /// Any text: an answer, never a panic.
        #[test]
        fn never_panics(text in "\\PC{0,64}") {
            let _ = parse(&text);
        }

        /// JSON is JSON5: whatever serde_json writes parses back to the same value.
        #[test]
        fn json_round_trips(keys in proptest::collection::vec("[a-zA-Z_$][a-zA-Z0-9_ é\"\\\\]{0,8}", 0..6),
                            n in proptest::num::i64::ANY, f in -1.0e12f64..1.0e12, s in "\\PC{0,16}") {
            let mut map = serde_json::Map::new();
            for (i, k) in keys.iter().enumerate() {
                let v = match i % 4 { 0 => json!(n), 1 => json!(f), 2 => json!(s), _ => json!([n, {"x": s}, null, true]) };
                map.insert(k.clone(), v);
            }
            let value = Value::Object(map);
            let compact = serde_json::to_string(&value).unwrap();
            proptest::prop_assert_eq!(&parse(&compact).unwrap().value, &value);
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            proptest::prop_assert_eq!(&parse(&pretty).unwrap().value, &value);
        }
    }

    #[test]
    fn unicode_escapes() {
        assert_eq!(parse(r#""\u00e9\ud83d\ude00\x41""#).unwrap().value, json!("é😀A"));
    }
}
