//! JavaScript-context injection: a value that closes a string literal (or opens a template
//! substitution) and reaches a script sink — `";alert(1)//`, `'-alert(1)-'`,
//! `${alert(document.domain)}` — or that is itself a bare call such as `alert(1)`.
//! Sinks are matched case-sensitively, as JavaScript itself is.

pub(crate) const JS_BREAKOUT: &str = "xss:js-breakout";
pub(crate) const JS_TEMPLATE: &str = "xss:js-template";
pub(crate) const JS_CALL: &str = "xss:js-call";
pub(crate) const JS_OBFUSCATION: &str = "xss:js-obfuscation";
/// Same tag as the markup check: an `on…=` handler, here found outside a parsed tag.
const HANDLER_LOOSE: &str = "xss:event-handler";
/// Same tag as the markup check: a `javascript:` URL running a sink.
const SCRIPT_SCHEME: &str = "xss:script-url";

use crate::ascii::byte_table;

type Hit = (&'static str, usize, usize);

/// Functions whose call runs or exfiltrates script.
const CALL_SINKS: &[&[u8]] = &[
    b"alert",
    b"prompt",
    b"confirm",
    b"eval",
    b"setTimeout",
    b"setInterval",
    b"Function",
    b"execScript",
    b"fetch",
    b"atob",
    b"fromCharCode",
    b"write",
    b"writeln",
    b"constructor",
    b"import",
    b"print",
    b"sendBeacon",
    b"getScript",
    b"globalEval",
    b"unescape",
    b"open",
    b"XMLHttpRequest",
];

/// Call sinks that are not English words.
const STRONG_SINKS: &[&[u8]] = &[
    b"alert",
    b"prompt",
    b"confirm",
    b"eval",
    b"setTimeout",
    b"setInterval",
    b"Function",
    b"execScript",
    b"atob",
    b"fromCharCode",
    b"constructor",
    b"writeln",
    b"sendBeacon",
    b"getScript",
    b"globalEval",
    b"unescape",
    b"XMLHttpRequest",
];

/// Properties whose mere mention after a breakout is an attack.
const PROPERTY_SINKS: &[&[u8]] = &[
    b"document.cookie",
    b"document.domain",
    b"document.location",
    b"window.location",
    b"location.href",
    b"location.hash",
    b"innerHTML",
    b"outerHTML",
    b"localStorage",
    b"sessionStorage",
];

/// Global objects indexed by a string to hide a call: `top['al'+'ert'](1)`.
const INDEXED_GLOBALS: &[&[u8]] = &[
    b"top",
    b"window",
    b"self",
    b"parent",
    b"this",
    b"globalThis",
    b"frames",
    b"content",
];

/// JavaScript identifier bytes (ASCII).
const IDENT: [bool; 256] =
    byte_table(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$");

/// What every check but the `javascript:` one needs, see [`check`].
const CODE_SYNTAX: [bool; 256] = byte_table(b"(`['\"{=");

fn is_ident(b: u8) -> bool {
    IDENT[usize::from(b)]
}

fn is_js_op(b: u8) -> bool {
    matches!(
        b,
        b';' | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'|'
            | b'&'
            | b'^'
            | b'!'
            | b'~'
            | b'?'
            | b':'
            | b','
            | b'='
            | b'('
            | b')'
            | b'{'
            | b'}'
            | b'['
            | b']'
            | b'<'
            | b'>'
            | b'\\'
    )
}

pub(crate) fn check(input: &str) -> Option<Hit> {
    let b = input.as_bytes();
    // Every check below but the `javascript:` one needs one of these: a call or tagged template
    // (`(` `` ` ``), an index (`[`), a string to break out of (`'` `"`), a template
    // substitution (`{`) or a handler (`=`). URLs, dates and codes have none of them.
    if !b.iter().any(|&c| CODE_SYNTAX[usize::from(c)]) {
        return script_scheme_call(b);
    }
    if let Some(h) = jsfuck(b) {
        return Some(h);
    }
    if let Some(h) = loose_handler(b) {
        return Some(h);
    }
    if let Some(h) = script_scheme_call(b) {
        return Some(h);
    }
    let n = b.len();
    let mut i = 0;
    while i < n {
        if !b[i].is_ascii_alphabetic() || (i > 0 && is_ident(b[i - 1])) {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < n && is_ident(b[end]) {
            end += 1;
        }
        let word = &b[i..end];
        if let Some(h) = sink_at(b, i, end, word) {
            return Some(h);
        }
        i = end.max(i + 1);
    }
    None
}

fn sink_at(b: &[u8], start: usize, end: usize, word: &[u8]) -> Option<Hit> {
    let next = b.get(end).copied();
    // Generic names (`write`, `open`, `fetch`, `setTimeout`…) appear in documentation as
    // `x.write()` or `` `open` ``: they need a real argument; only the unmistakable sinks
    // count when called empty or as a tagged template (`` alert`1` ``).
    // The cheap tests on the next byte come first: most words are followed by neither.
    let call = match next {
        Some(b'(') => {
            CALL_SINKS.contains(&word)
                && args_are_code(b, end + 1)
                && (STRONG_SINKS.contains(&word) || b.get(end + 1) != Some(&b')'))
        }
        Some(b'`') => CALL_SINKS.contains(&word) && STRONG_SINKS.contains(&word),
        _ => false,
    };
    // Every property sink starts with a word of six or more bytes (`window`), so shorter
    // words, most of any text, skip the comparisons.
    let property = word.len() >= 6
        && PROPERTY_SINKS
            .iter()
            .any(|p| p.first() == b.get(start) && b.get(start..start + p.len()) == Some(*p));
    let indexed = next == Some(b'[')
        && INDEXED_GLOBALS.contains(&word)
        && matches!(b.get(end + 1), Some(b'\'' | b'"' | b'`' | b'/'));
    let gadget = word == b"constructor"
        && start > 0
        && b[start - 1] == b'.'
        && matches!(next, Some(b'(' | b'`'));
    if !(call || property || indexed || gadget) {
        return None;
    }
    let span_end = b[end..b.len().min(end + 256)]
        .iter()
        .position(|&c| c == b')')
        .map_or(end, |p| end + p + 1);
    match left_context(b, start) {
        Left::Quote => return Some((JS_BREAKOUT, start, span_end)),
        Left::Template => return Some((JS_TEMPLATE, start, span_end)),
        // A bare value that is a call: only sinks that are not also ordinary words
        // (`print(2 copies)`, `open(…)` are not code).
        Left::Start
            if (call && STRONG_SINKS.contains(&word) && b.get(end + 1) != Some(&b')'))
                || indexed =>
        {
            return Some((JS_CALL, start, span_end))
        }
        _ => {}
    }
    // An argument that only an attacker passes (`alert(document.cookie)`), or the
    // `constructor.constructor(…)` gadget, is an attack whatever precedes it.
    ((call && args_are_attack(b, end + 1)) || gadget).then_some((JS_CALL, start, span_end))
}

enum Left {
    /// A string literal is closed, then an operator, then the sink.
    Quote,
    /// `${` opens a template substitution.
    Template,
    /// Only operators or a member chain precede the sink: the value is code.
    Start,
    Prose,
}

fn left_context(b: &[u8], start: usize) -> Left {
    let mut k = start;
    // Member chain: `window.top.alert`, `document.write`.
    while k > 0 && (is_ident(b[k - 1]) || b[k - 1] == b'.') {
        k -= 1;
    }
    let mut ops = 0;
    while k > 0 {
        let c = b[k - 1];
        if c == b'{' && k >= 2 && b[k - 2] == b'$' {
            return Left::Template;
        }
        if is_js_op(c) {
            ops += 1;
        } else if !c.is_ascii_whitespace() {
            break;
        }
        k -= 1;
    }
    if k == 0 {
        return Left::Start;
    }
    let c = b[k - 1];
    if matches!(c, b'\'' | b'"' | b'`') && ops > 0 {
        return Left::Quote;
    }
    // `javascript:` and `-->` / `*/` before the sink are handled elsewhere; `void`, `new`,
    // `typeof`, `return` keywords are rare enough not to matter.
    Left::Prose
}

/// The argument list of a sink call looks like code, not prose: a literal, a member
/// expression, a nested call, or a well-known global.
fn args_are_code(b: &[u8], from: usize) -> bool {
    let mut i = from;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let Some(&c) = b.get(i) else {
        return false;
    };
    match c {
        b'0'..=b'9'
        | b'\''
        | b'"'
        | b'`'
        | b'/'
        | b')'
        | b'['
        | b'-'
        | b'+'
        | b'!'
        | b'{'
        | b'(' => true,
        _ if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
            let mut j = i;
            while j < b.len() && (is_ident(b[j]) || b[j] == b'.') {
                j += 1;
            }
            let ident = &b[i..j];
            ident.contains(&b'.')
                || matches!(b.get(j), Some(b'(' | b'['))
                || matches!(
                    ident,
                    b"document"
                        | b"window"
                        | b"origin"
                        | b"this"
                        | b"location"
                        | b"top"
                        | b"self"
                        | b"navigator"
                        | b"cookie"
                        | b"name"
                )
        }
        _ => false,
    }
}

/// Arguments that read browser secrets or decode hidden code.
fn args_are_attack(b: &[u8], from: usize) -> bool {
    let mut i = from;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let rest = b.get(i..).unwrap_or(&[]);
    [
        &b"document.cookie"[..],
        b"document.domain",
        b"document.location",
        b"window.location",
        b"top.location",
        b"location.href",
        b"window.name",
        b"String.fromCharCode",
        b"atob(",
        b"/xss/",
        b"'xss'",
        b"\"xss\"",
        b"'XSS'",
        b"\"XSS\"",
    ]
    .iter()
    .any(|p| rest.starts_with(p))
}

/// `onerror=alert(1)` outside any tag (written into a tag by the application, or probing a
/// filter): a known event name at a word start, `=`, and code or nothing after it.
fn loose_handler(b: &[u8]) -> Option<Hit> {
    // A handler needs its `=`; prose rarely has one.
    memchr::memchr(b'=', b)?;
    let n = b.len();
    let mut i = 0;
    while i + 2 < n {
        let at_start = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if !(at_start && b[i].eq_ignore_ascii_case(&b'o') && b[i + 1].eq_ignore_ascii_case(&b'n')) {
            i += 1;
            continue;
        }
        let mut e = i + 2;
        while e < n && b[e].is_ascii_alphabetic() {
            e += 1;
        }
        let mut name = [0u8; 48];
        let len = e - i - 2;
        if len == 0 || len > name.len() {
            i = e.max(i + 1);
            continue;
        }
        for (d, s) in name.iter_mut().zip(&b[i + 2..e]) {
            *d = s.to_ascii_lowercase();
        }
        let mut j = e;
        while j < n && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if is_event_name(&name[..len]) && b.get(j) == Some(&b'=') {
            j += 1;
            while j < n && (b[j].is_ascii_whitespace() || matches!(b[j], b'"' | b'\'' | b'`')) {
                j += 1;
            }
            let value = &b[j..n.min(j + 120)];
            let end_of_value = value.is_empty();
            let code = value_starts_with_code(value);
            if end_of_value || code {
                return Some((HANDLER_LOOSE, i, j));
            }
        }
        i = e.max(i + 1);
    }
    None
}

/// Value text that begins with a script call (`alert(1)`, `top.alert(1)`, `javascript:…`).
fn value_starts_with_code(v: &[u8]) -> bool {
    if crate::ascii::starts_with_ci(v, 0, b"javascript:") {
        return true;
    }
    let mut k = 0;
    while k < v.len() && (is_ident(v[k]) || v[k] == b'.') {
        k += 1;
    }
    let chain = &v[..k];
    let last = chain.rsplit(|&c| c == b'.').next().unwrap_or(chain);
    (CALL_SINKS.contains(&last) && matches!(v.get(k), Some(b'(' | b'`')))
        || PROPERTY_SINKS.iter().any(|p| v.starts_with(p))
}

/// `javascript:` followed by a sink call anywhere in the value (`getURL("javascript:alert(1)")`,
/// `<script>javascript:confirm(1)</script>`).
fn script_scheme_call(b: &[u8]) -> Option<Hit> {
    let at = crate::ascii::find_ci(b, b"javascript:")?;
    let mut j = at + 11;
    // `javascript://%0aalert(1)`: skip a comment line start and blanks.
    while j < b.len() && (b[j].is_ascii_whitespace() || b[j] == b'/') {
        j += 1;
    }
    let tail = &b[j..b.len().min(j + 120)];
    let mut k = 0;
    while k < tail.len() {
        if tail[k].is_ascii_alphabetic()
            && (k == 0 || !is_ident(tail[k - 1]))
            && value_starts_with_code(&tail[k..])
        {
            return Some((SCRIPT_SCHEME, at, j + k));
        }
        k += 1;
    }
    None
}

/// JSFuck and similar: a long run drawn only from `[]()!+` that uses brackets, parentheses
/// and `!` (a diffstat's `+++++` or a row of `))))` is not code).
fn jsfuck(b: &[u8]) -> Option<Hit> {
    // The run must use `!`; prose rarely has one.
    memchr::memchr(b'!', b)?;
    let mut run = 0;
    let mut seen = 0u8;
    for (i, &c) in b.iter().enumerate() {
        let bit = match c {
            b'[' | b']' => 1,
            b'(' | b')' => 2,
            b'!' => 4,
            b'+' => 8,
            _ => {
                run = 0;
                seen = 0;
                continue;
            }
        };
        run += 1;
        seen |= bit;
        if run >= 24 && seen & 0b111 == 0b111 {
            return Some((JS_OBFUSCATION, i + 1 - run, i + 1));
        }
    }
    None
}

/// Whether `name` (without the `on` prefix, lower-case) is a DOM event name, including
/// legacy IE and SVG events.
pub(crate) fn is_event_name(name: &[u8]) -> bool {
    matches!(
        name,
        b"abort"
            | b"activate"
            | b"afterprint"
            | b"afterscriptexecute"
            | b"afterupdate"
            | b"animationcancel"
            | b"animationend"
            | b"animationiteration"
            | b"animationstart"
            | b"auxclick"
            | b"beforeactivate"
            | b"beforecopy"
            | b"beforecut"
            | b"beforedeactivate"
            | b"beforeeditfocus"
            | b"beforeinput"
            | b"beforepaste"
            | b"beforeprint"
            | b"beforescriptexecute"
            | b"beforetoggle"
            | b"beforeunload"
            | b"beforeupdate"
            | b"begin"
            | b"blur"
            | b"bounce"
            | b"canplay"
            | b"canplaythrough"
            | b"cellchange"
            | b"change"
            | b"click"
            | b"close"
            | b"contextmenu"
            | b"controlselect"
            | b"copy"
            | b"cuechange"
            | b"cut"
            | b"dataavailable"
            | b"datasetchanged"
            | b"datasetcomplete"
            | b"dblclick"
            | b"deactivate"
            | b"drag"
            | b"dragend"
            | b"dragenter"
            | b"dragexit"
            | b"dragleave"
            | b"dragover"
            | b"dragstart"
            | b"drop"
            | b"durationchange"
            | b"emptied"
            | b"end"
            | b"ended"
            | b"error"
            | b"errorupdate"
            | b"filterchange"
            | b"finish"
            | b"focus"
            | b"focusin"
            | b"focusout"
            | b"formdata"
            | b"fullscreenchange"
            | b"hashchange"
            | b"help"
            | b"input"
            | b"invalid"
            | b"keydown"
            | b"keypress"
            | b"keyup"
            | b"layoutcomplete"
            | b"load"
            | b"loadeddata"
            | b"loadedmetadata"
            | b"loadend"
            | b"loadstart"
            | b"losecapture"
            | b"message"
            | b"mousedown"
            | b"mouseenter"
            | b"mouseleave"
            | b"mousemove"
            | b"mouseout"
            | b"mouseover"
            | b"mouseup"
            | b"mousewheel"
            | b"move"
            | b"moveend"
            | b"movestart"
            | b"offline"
            | b"online"
            | b"pagehide"
            | b"pageshow"
            | b"paste"
            | b"pause"
            | b"play"
            | b"playing"
            | b"pointerdown"
            | b"pointerenter"
            | b"pointerleave"
            | b"pointermove"
            | b"pointerout"
            | b"pointerover"
            | b"pointerrawupdate"
            | b"pointerup"
            | b"popstate"
            | b"progress"
            | b"propertychange"
            | b"ratechange"
            | b"readystatechange"
            | b"repeat"
            | b"reset"
            | b"resize"
            | b"resizeend"
            | b"resizestart"
            | b"rowenter"
            | b"rowexit"
            | b"rowsdelete"
            | b"rowsinserted"
            | b"scroll"
            | b"scrollend"
            | b"search"
            | b"securitypolicyviolation"
            | b"seeked"
            | b"seeking"
            | b"select"
            | b"selectionchange"
            | b"selectstart"
            | b"show"
            | b"slotchange"
            | b"stalled"
            | b"start"
            | b"stop"
            | b"storage"
            | b"submit"
            | b"suspend"
            | b"timeupdate"
            | b"toggle"
            | b"touchcancel"
            | b"touchend"
            | b"touchmove"
            | b"touchstart"
            | b"transitioncancel"
            | b"transitionend"
            | b"transitionrun"
            | b"transitionstart"
            | b"unload"
            | b"volumechange"
            | b"waiting"
            | b"webkitplaybacktargetavailabilitychanged"
            | b"webkitmouseforcechanged"
            | b"webkitmouseforcedown"
            | b"webkitmouseforceup"
            | b"webkitmouseforcewillbegin"
            | b"webkitwillrevealbottom"
            | b"webkitanimationend"
            | b"webkitanimationiteration"
            | b"webkitanimationstart"
            | b"webkittransitionend"
            | b"wheel"
            | b"zoom"
    )
}

/// An attribute value that reads as script rather than a word or number.
pub(crate) fn looks_like_code(value: &str) -> bool {
    let v = value.as_bytes();
    let paren_call = v
        .iter()
        .position(|&c| c == b'(')
        .is_some_and(|p| p > 0 && is_ident(v[p - 1]) && v[p..].contains(&b')'));
    paren_call || v.contains(&b'`') || v.windows(2).any(|w| w[0] == b'=' && w[1] != b'=')
}
