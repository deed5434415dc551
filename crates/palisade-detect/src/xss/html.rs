//! A reduced HTML5 tokenizer: start tags with attributes in every quoting style (double,
//! single, backtick, unquoted), end tags, comments, CDATA, doctype and processing
//! instructions. It reports each start tag and attribute to a callback, which decides what is
//! dangerous. It can start in the data state or inside an attribute value, to model a value
//! that the application writes into an attribute.

/// Where tokenising starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// Ordinary HTML text.
    Data,
    /// Inside an attribute value delimited by this quote; tokenising begins after the first
    /// occurrence of the quote in the input (where the value breaks out).
    Quoted(u8),
    /// Inside an unquoted attribute value; the first whitespace ends it.
    Unquoted,
    /// Inside a tag, before an attribute name: the value is written where attributes go.
    Attrs,
}

/// One attribute of a tag.
pub(crate) struct Attr<'a> {
    /// Name as written (not lower-cased).
    pub name: &'a str,
    /// Raw value (character references not decoded), `None` when there is no `=`.
    pub value: Option<&'a str>,
    /// Byte offset of the name in the input.
    pub start: usize,
    /// Byte offset just past the value (or name).
    pub end: usize,
}

/// What the tokenizer reports.
pub(crate) enum Event<'a> {
    /// `<name` — a start tag opened at `start`. `implied` tags come from attribute-value start
    /// states and have an empty name.
    Tag {
        name: &'a str,
        start: usize,
        end: usize,
    },
    /// An attribute of the current tag (`tag` is its name, empty for an implied tag).
    Attr { tag: &'a str, attr: Attr<'a> },
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Runs the tokenizer over `input`, calling `on` for each tag and attribute; stops early and
/// returns what `on` returns once it is `Some`.
pub(crate) fn tokenize<'a, T>(
    input: &'a str,
    start: Start,
    mut on: impl FnMut(Event<'a>) -> Option<T>,
) -> Option<T> {
    let b = input.as_bytes();
    let n = b.len();
    let mut i = 0;
    match start {
        Start::Data => {}
        Start::Quoted(q) => {
            let from = b.iter().position(|&c| c == q)? + 1;
            match attributes_checked(input, from, "", &mut on) {
                Flow::Hit(h) => return Some(h),
                Flow::Continue(k) => i = k,
                Flow::End => return None,
            }
        }
        Start::Attrs => match attributes_checked(input, 0, "", &mut on) {
            Flow::Hit(h) => return Some(h),
            Flow::Continue(k) => i = k,
            Flow::End => return None,
        },
        Start::Unquoted => {
            let from = b.iter().position(|&c| is_space(c) || c == b'>')?;
            match attributes_checked(input, from, "", &mut on) {
                Flow::Hit(h) => return Some(h),
                Flow::Continue(k) => i = k,
                Flow::End => return None,
            }
        }
    }
    loop {
        // Data state: find the next `<`.
        let lt = i + b.get(i..)?.iter().position(|&c| c == b'<')?;
        let next = b.get(lt + 1).copied();
        match next {
            Some(c) if c.is_ascii_alphabetic() => {
                let name_start = lt + 1;
                let mut j = name_start;
                while j < n
                    && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'-' | b':' | b'_' | b'.'))
                {
                    j += 1;
                }
                let name = input.get(name_start..j)?;
                if let Some(hit) = on(Event::Tag {
                    name,
                    start: lt,
                    end: j,
                }) {
                    return Some(hit);
                }
                let tag_end = match attributes_checked(input, j, name, &mut on) {
                    Flow::Hit(h) => return Some(h),
                    Flow::Continue(k) => k,
                    Flow::End => n,
                };
                // Tags hidden inside this tag's attributes (`<a href="about:<script>">`,
                // `<scr<script>ipt>`): a filter that strips the outer one leaves them.
                let mut k = j;
                while let Some(p) = b
                    .get(k..tag_end)
                    .and_then(|r| r.iter().position(|&c| c == b'<'))
                {
                    let s = k + p + 1;
                    let mut e = s;
                    while e < n && b[e].is_ascii_alphanumeric() {
                        e += 1;
                    }
                    if e > s {
                        if let Some(hit) = on(Event::Tag {
                            name: input.get(s..e).unwrap_or(""),
                            start: s - 1,
                            end: e,
                        }) {
                            return Some(hit);
                        }
                    }
                    k = e.max(s);
                }
                if tag_end >= n {
                    return None;
                }
                i = tag_end;
            }
            Some(b'!') => {
                if b.get(lt + 2..lt + 4) == Some(b"--") {
                    // Comment content is scanned as data: conditional comments run in old IE,
                    // and nothing benign hides tags in comments.
                    i = lt + 4;
                } else if b.get(lt + 2..lt + 9) == Some(b"[CDATA[") {
                    i = lt + 9;
                } else {
                    // Doctype / declaration: skip to `>`.
                    i = b
                        .get(lt..)?
                        .iter()
                        .position(|&c| c == b'>')
                        .map(|p| lt + p + 1)?;
                }
            }
            Some(b'/') => {
                // `</script>` closes a script block the value was written into.
                let s = lt + 2;
                let mut e = s;
                while e < n && b[e].is_ascii_alphabetic() {
                    e += 1;
                }
                if b[s.min(n)..e].eq_ignore_ascii_case(b"script") {
                    if let Some(hit) = on(Event::Tag {
                        name: "script",
                        start: lt,
                        end: e,
                    }) {
                        return Some(hit);
                    }
                }
                i = e.max(lt + 2);
            }
            Some(b'?') => {
                i = b
                    .get(lt..)?
                    .iter()
                    .position(|&c| c == b'>')
                    .map(|p| lt + p + 1)?;
            }
            _ => i = lt + 1,
        }
    }
}

enum Flow<T> {
    Hit(T),
    Continue(usize),
    End,
}

fn attributes_checked<'a, T>(
    input: &'a str,
    from: usize,
    tag: &'a str,
    on: &mut impl FnMut(Event<'a>) -> Option<T>,
) -> Flow<T> {
    let mut found = None;
    let end = attributes_inner(input, from, tag, &mut |e| {
        let r = on(e);
        if r.is_some() {
            found = r;
            true
        } else {
            false
        }
    });
    match (found, end) {
        (Some(h), _) => Flow::Hit(h),
        (None, Some(k)) => Flow::Continue(k),
        (None, None) => Flow::End,
    }
}

/// Parses attributes from `from` to the end of the tag. Returns the offset after `>` (or
/// `None` at end of input). `stop` returns `true` to abort.
fn attributes_inner<'a>(
    input: &'a str,
    from: usize,
    tag: &'a str,
    stop: &mut impl FnMut(Event<'a>) -> bool,
) -> Option<usize> {
    let b = input.as_bytes();
    let n = b.len();
    let mut i = from;
    loop {
        while i < n && (is_space(b[i]) || b[i] == b'/' || b[i] == 0) {
            i += 1;
        }
        if i >= n {
            return None;
        }
        if b[i] == b'>' {
            return Some(i + 1);
        }
        // Attribute name: up to whitespace, `/`, `>` or `=` (a leading `=` is part of it).
        let name_start = i;
        i += 1;
        while i < n && !is_space(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        let name = char_slice(input, name_start, i);
        let mut j = i;
        while j < n && is_space(b[j]) {
            j += 1;
        }
        let mut value = None;
        if j < n && b[j] == b'=' {
            j += 1;
            let before_ws = j;
            while j < n && is_space(b[j]) {
                j += 1;
            }
            if j > before_ws && starts_attribute(b, j) {
                // `<img src= onerror=alert(1)>`: read `onerror=…` as its own attribute, as
                // lenient parsers do, rather than as the value of `src`.
                let attr = Attr {
                    name,
                    value: Some(""),
                    start: name_start,
                    end: j,
                };
                if stop(Event::Attr { tag, attr }) {
                    return None;
                }
                i = j;
                continue;
            }
            let (v_start, v_end, after) = match b.get(j) {
                Some(&q @ (b'"' | b'\'' | b'`')) => match b[j + 1..].iter().position(|&c| c == q) {
                    Some(p) => (j + 1, j + 1 + p, j + 2 + p),
                    None => (j + 1, n, n),
                },
                _ => {
                    let mut k = j;
                    while k < n && !is_space(b[k]) && b[k] != b'>' {
                        k += 1;
                    }
                    (j, k, k)
                }
            };
            value = Some(char_slice(input, v_start, v_end));
            i = after;
        }
        let attr = Attr {
            name,
            value,
            start: name_start,
            end: i.max(name_start + 1),
        };
        if stop(Event::Attr { tag, attr }) {
            return None;
        }
        if i >= n {
            return None;
        }
    }
}

/// At `j`: `name=` with a letter-led name, i.e. the start of another attribute.
fn starts_attribute(b: &[u8], j: usize) -> bool {
    if !b.get(j).is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut k = j;
    while k < b.len() && (b[k].is_ascii_alphanumeric() || matches!(b[k], b'-' | b'_' | b':')) {
        k += 1;
    }
    b.get(k) == Some(&b'=')
}

/// `input[start..end]`, widened to char boundaries so it never panics.
fn char_slice(input: &str, start: usize, end: usize) -> &str {
    let r = crate::ascii::char_span(input, start, end);
    input.get(r).unwrap_or("")
}
