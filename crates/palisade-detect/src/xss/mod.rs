//! Cross-site scripting detection.
//!
//! Markup is tokenised by a reduced HTML5 tokenizer ([`html`]) from the data state and, when
//! the value contains a quote, from the attribute-value states, so `"><svg onload=…>` and
//! `" autofocus onfocus="alert(1)` are both seen as markup. A detection needs something that
//! executes script: a script-capable element, an `on…=` event handler, a `javascript:`-style
//! URL (after character references and embedded tabs/newlines are undone), a style with
//! `expression(`, `srcdoc`, or a JavaScript breakout reaching a sink ([`js`]). Plain markup —
//! FHIR narrative XHTML with `xmlns` and `style`, C-CDA `<text>` sections — passes, as does a
//! `<` in prose.

mod entities;
mod html;
mod js;

use crate::ascii::char_span;
use crate::{Detection, DetectorKind};
use html::{tokenize, Attr, Event, Start};

/// Every fingerprint [`xss`] can return.
pub const FINGERPRINTS: &[&str] = &[
    DANGEROUS_TAG,
    EVENT_HANDLER,
    SCRIPT_URL,
    DATA_URL,
    STYLE_SCRIPT,
    SRCDOC,
    js::JS_BREAKOUT,
    js::JS_TEMPLATE,
    js::JS_CALL,
    js::JS_OBFUSCATION,
];

const DANGEROUS_TAG: &str = "xss:dangerous-tag";
const EVENT_HANDLER: &str = "xss:event-handler";
const SCRIPT_URL: &str = "xss:script-url";
const DATA_URL: &str = "xss:data-url";
const STYLE_SCRIPT: &str = "xss:style-script";
const SRCDOC: &str = "xss:srcdoc";

/// Cheap pre-filter: `false` means [`xss`] cannot fire on this value.
///
/// Markup needs `<`; attribute breakouts need a quote or `=`; script URLs need `:`; JavaScript
/// breakouts need `(`, `` ` `` or `[`.
pub fn xss_candidate(input: &[u8]) -> bool {
    // Two vectorised searches for three bytes each.
    memchr::memchr3(b'<', b'=', b':', input).is_some()
        || memchr::memchr3(b'(', b'`', b'[', input).is_some()
}

/// Detects cross-site scripting in one decoded value.
///
/// Fingerprints: `"xss:dangerous-tag"` (script, iframe, object, embed, base, link, meta,
/// style, frame…), `"xss:event-handler"` (`on…=` in a tag), `"xss:script-url"`
/// (`javascript:`/`vbscript:` in an attribute or as the whole value), `"xss:data-url"`
/// (`data:text/html` and friends), `"xss:style-script"` (`expression(`, `javascript:`,
/// `-moz-binding`, `behavior:` in a style), `"xss:srcdoc"`, and the JavaScript-context checks
/// `"xss:js-breakout"`, `"xss:js-template"`, `"xss:js-call"`, `"xss:js-obfuscation"`.
pub fn xss(input: &str) -> Option<Detection> {
    if !xss_candidate(input.as_bytes()) {
        return None;
    }
    // Every tokenizer finding needs a `<` (a tag) or, from the attribute-value and attribute
    // states, an `=` (an attribute with a value): without them the passes cannot find
    // anything, and skipping them is what keeps long prose cheap.
    let bytes = input.as_bytes();
    let has_lt = memchr::memchr(b'<', bytes).is_some();
    let attrs_possible = has_lt || memchr::memchr(b'=', bytes).is_some();
    let found = has_lt
        .then(|| markup(input, Start::Data))
        .flatten()
        .or_else(|| {
            [b'"', b'\'', b'`']
                .into_iter()
                .filter(|q| attrs_possible && bytes.contains(q))
                .find_map(|q| markup(input, Start::Quoted(q)))
        })
        .or_else(|| {
            attrs_possible
                .then(|| markup(input, Start::Unquoted))
                .flatten()
        })
        .or_else(|| {
            attrs_possible
                .then(|| markup(input, Start::Attrs))
                .flatten()
        })
        .or_else(|| whole_value_url(input))
        .or_else(|| js::check(input))
        .or_else(|| loose_style(input));
    found.map(|(fp, s, e)| Detection::new(DetectorKind::Xss, fp, char_span(input, s, e)))
}

type Hit = (&'static str, usize, usize);

fn markup(input: &str, start: Start) -> Option<Hit> {
    let implied = start != Start::Data;
    tokenize(input, start, |event| match event {
        Event::Tag { name, start, end } => {
            is_dangerous_tag(name).then_some((DANGEROUS_TAG, start, end))
        }
        Event::Attr { tag, attr } => check_attr(tag, &attr, implied),
    })
}

/// Local name of a possibly prefixed tag (`x:script` → `script`), lower-cased into `buf`.
fn local_name<'b>(name: &str, buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    let local = name.rsplit(':').next().unwrap_or(name);
    crate::ascii::lower_into(local.as_bytes(), buf)
}

fn is_dangerous_tag(name: &str) -> bool {
    let mut buf = [0u8; 16];
    matches!(
        local_name(name, &mut buf),
        Some(
            b"script"
                | b"iframe"
                | b"frame"
                | b"frameset"
                | b"object"
                | b"embed"
                | b"applet"
                | b"style"
                | b"xml"
                | b"vmlframe"
                | b"import"
                | b"isindex"
                | b"bgsound"
                | b"layer"
                | b"ilayer"
                | b"portal"
                | b"xss"
                | b"handler"
                | b"listener"
        )
    )
}

fn check_attr(tag: &str, attr: &Attr, implied: bool) -> Option<Hit> {
    let mut buf = [0u8; 32];
    let name = crate::ascii::lower_into(attr.name.as_bytes(), &mut buf);
    let hit = |fp| Some((fp, attr.start, attr.end));
    if let Some(name) = name {
        // `<link href>`, `<meta http-equiv>`, `<base href>`: HTML elements that load or
        // redirect. FHIR XML has `<link>` and `<meta>` elements too, but without attributes.
        let mut tbuf = [0u8; 16];
        let loads = match local_name(tag, &mut tbuf) {
            Some(b"link") => matches!(name, b"href" | b"rel" | b"import"),
            Some(b"meta") => matches!(name, b"http-equiv" | b"content" | b"charset"),
            Some(b"base") => name == b"href",
            _ => false,
        };
        if loads && !implied {
            return hit(DANGEROUS_TAG);
        }
        if name.len() > 2
            && name.starts_with(b"on")
            && name[2..].iter().all(u8::is_ascii_alphabetic)
            && attr.value.is_some()
        {
            let value = attr.value.unwrap_or("");
            if !implied || (js::is_event_name(&name[2..]) && js::looks_like_code(value)) {
                return hit(EVENT_HANDLER);
            }
        }
        if !implied && name == b"srcdoc" && attr.value.is_some() {
            return hit(SRCDOC);
        }
        if name == b"style" {
            if let Some(v) = attr.value {
                if style_runs_script(v) {
                    return hit(STYLE_SCRIPT);
                }
            }
        }
    }
    // `<ahref="javascript:…">` leaves `="javascript:…"` where a name should be.
    if attr.name.starts_with('=')
        && url_scheme(attr.name.trim_start_matches(['=', '"', '\'', '`'])) == Scheme::Script
    {
        return hit(SCRIPT_URL);
    }
    let value = attr.value?;
    match url_scheme(value) {
        Scheme::Script => hit(SCRIPT_URL),
        Scheme::DataMarkup => {
            let mut tbuf = [0u8; 16];
            let is_img = local_name(tag, &mut tbuf) == Some(b"img");
            if is_img && data_is_svg(value) {
                None
            } else {
                hit(DATA_URL)
            }
        }
        Scheme::Other => None,
    }
}

/// The whole value is a script URL (it will be placed into an `href`/`src`).
fn whole_value_url(input: &str) -> Option<Hit> {
    match url_scheme(input) {
        // Prose starting "javascript: fix …" is a label, not a URL: a script URL has code
        // characters or is a single token.
        Scheme::Script
            if input
                .bytes()
                .any(|b| matches!(b, b'(' | b'`' | b'=' | b'['))
                || !input.trim().bytes().any(|b| b == b' ') =>
        {
            Some((SCRIPT_URL, 0, input.len().min(16)))
        }
        Scheme::Script => None,
        Scheme::DataMarkup => Some((DATA_URL, 0, input.len().min(16))),
        Scheme::Other => None,
    }
}

#[derive(Debug, PartialEq)]
enum Scheme {
    Script,
    DataMarkup,
    Other,
}

/// Reads the URL scheme the way a browser does: character references decoded, leading
/// spaces and control characters skipped, tabs and newlines inside ignored, case folded.
fn url_scheme(value: &str) -> Scheme {
    // Every scheme ends at a `:`, written as such or as a character reference (`&colon;`,
    // `&#58;`): a value with neither byte has none.
    if memchr::memchr2(b':', b'&', value.as_bytes()).is_none() {
        return Scheme::Other;
    }
    let mut scheme = [0u8; 12];
    let mut len = 0;
    let mut rest = entities::decode(value).skip_while(|&c| c <= ' ' || c == '\u{a0}');
    loop {
        let Some(c) = rest.next() else {
            return Scheme::Other;
        };
        if c == ':' {
            break;
        }
        // Browsers drop tabs and newlines inside URLs; old ones also spaces (`jav ascript:`).
        if c.is_ascii_control() || c == ' ' {
            continue;
        }
        if !c.is_ascii_alphabetic() || len == scheme.len() {
            return Scheme::Other;
        }
        scheme[len] = c.to_ascii_lowercase() as u8;
        len += 1;
    }
    match &scheme[..len] {
        b"javascript" | b"vbscript" | b"livescript" | b"mocha" | b"jscript" => Scheme::Script,
        b"data" => {
            // Media type after `data:`, spaces and controls ignored.
            let mut mime = [0u8; 24];
            let mut m = 0;
            for c in rest {
                if c.is_ascii_control() || c == ' ' {
                    continue;
                }
                if matches!(c, ';' | ',') || m == mime.len() || !c.is_ascii() {
                    break;
                }
                mime[m] = c.to_ascii_lowercase() as u8;
                m += 1;
            }
            match &mime[..m] {
                b"text/html"
                | b"text/javascript"
                | b"application/javascript"
                | b"application/x-javascript"
                | b"application/ecmascript"
                | b"text/ecmascript"
                | b"application/xhtml+xml"
                | b"text/xml"
                | b"application/xml"
                | b"image/svg+xml"
                | b"text/vbscript" => Scheme::DataMarkup,
                _ => Scheme::Other,
            }
        }
        _ => Scheme::Other,
    }
}

fn data_is_svg(value: &str) -> bool {
    let lower: String = entities::decode(value)
        .take(40)
        .filter(|c| !c.is_ascii_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    lower.starts_with("data:image/svg+xml")
}

/// CSS that runs script: IE `expression()`, `behavior:` (HTC), Firefox `-moz-binding`,
/// `javascript:` URLs, `@import`. CSS escapes (`\65 xpression`) and comments are undone first.
fn style_runs_script(value: &str) -> bool {
    let mut css = String::with_capacity(value.len().min(512));
    let mut chars = entities::decode(value).peekable();
    let mut prev_slash = false;
    while let Some(c) = chars.next() {
        if css.len() > 4096 {
            break;
        }
        match c {
            '\\' => {
                // CSS escape: up to six hex digits and one optional space, or a literal char.
                let mut v = 0u32;
                let mut digits = 0;
                while let Some(&h) = chars.peek() {
                    if digits < 6 && h.is_ascii_hexdigit() {
                        v = v * 16 + h.to_digit(16).unwrap_or(0);
                        digits += 1;
                        chars.next();
                    } else {
                        break;
                    }
                }
                if digits > 0 {
                    if chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                    if let Some(ch) = char::from_u32(v) {
                        css.push(ch.to_ascii_lowercase());
                    }
                } else if let Some(ch) = chars.next() {
                    css.push(ch.to_ascii_lowercase());
                }
                prev_slash = false;
            }
            '*' if prev_slash => {
                // Comment: drop the `/` already pushed and skip to `*/`.
                css.pop();
                let mut star = false;
                for c in chars.by_ref() {
                    if star && c == '/' {
                        break;
                    }
                    star = c == '*';
                }
                prev_slash = false;
            }
            c if c.is_whitespace() || c.is_ascii_control() => prev_slash = false,
            c => {
                prev_slash = c == '/';
                css.push(c.to_ascii_lowercase());
            }
        }
    }
    [
        "expression(",
        "javascript:",
        "vbscript:",
        "behavior:",
        "-moz-binding",
        "@import",
        "behaviour:",
    ]
    .iter()
    .any(|needle| css.contains(needle))
}

/// CSS that runs script outside a `style` attribute (a value written into a stylesheet or a
/// `style` element): `-moz-binding`, or `expression(` around a script sink.
fn loose_style(input: &str) -> Option<Hit> {
    let b = input.as_bytes();
    if let Some(at) = crate::ascii::find_ci(b, b"-moz-binding") {
        return Some((STYLE_SCRIPT, at, at + 12));
    }
    // `e/**/xpression(` and `ex/*x*/pression(`: check the comment-free form.
    if crate::ascii::find_ci(b, b"pression").is_some() && style_runs_script(input) {
        let lower = input.to_ascii_lowercase();
        if let Some(at) = lower
            .find("expression(")
            .or_else(|| lower.find("pression("))
        {
            // The expression's argument itself is a sink (`expression(alert(1))`), not an
            // empty mention such as "expression(), eval() and".
            let open = at + lower[at..].find('(').unwrap_or(0) + 1;
            let arg = lower[open..].trim_start();
            if [
                "alert(",
                "prompt(",
                "confirm(",
                "eval(",
                "document.",
                "javascript:",
            ]
            .iter()
            .any(|s| arg.starts_with(s))
            {
                return Some((STYLE_SCRIPT, at, at + 10));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
