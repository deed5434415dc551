//! OS command injection detection (Unix shells, cmd.exe, PowerShell).
//!
//! The value is first normalised ([`normalise`]) to undo quoting and variable tricks, then
//! every *command position* — the start of the value, and the point after each separator or
//! substitution (`;` `&&` `||` `|` `&` newline `` ` `` `$(` `<(` `>(` `(`) — is read as
//! `command argument…`. A detection needs a known command word *and* evidence from its
//! position and arguments; how much evidence depends on the word ([`commands::Tier`]): `whoami`
//! after `;` is enough, `cat` needs a system path, `watch` or `date` need a path plus a flag or
//! redirection. HL7 v2 delimiters (`|^~&`) and clinical prose therefore pass.

mod commands;
mod normalise;
mod syntax;

use crate::ascii::{byte_table, char_span, position_in, NextIn};
use crate::{Detection, DetectorKind};
use commands::Tier;
use normalise::{normalise, Normalised};

const COMMAND: &str = "shell:command";
const SUBSTITUTION: &str = "shell:substitution";
const DIRECT: &str = "shell:direct-command";
const SHELLSHOCK: &str = "shell:shellshock";

/// Every fingerprint [`shell`] can return.
pub const FINGERPRINTS: &[&str] = &[
    COMMAND,
    SUBSTITUTION,
    DIRECT,
    SHELLSHOCK,
    syntax::ARITHMETIC,
    syntax::EXEC_FUNCTION,
    syntax::SSI,
    syntax::CMD_BATCH,
];

/// Cheap pre-filter: `false` means [`shell`] cannot fire on this value.
///
/// Every command needs at least two ASCII letters and either a separator, a path, a flag or
/// a substitution character — except a short value that is a bare command (`ipconfig`).
pub fn shell_candidate(input: &[u8]) -> bool {
    // Stops at the first syntax byte (unlike [`Present::of`], which reads the whole value).
    two_letters(input)
        && (input.len() <= 24 || input.iter().any(|&b| CANDIDATE_SYNTAX[usize::from(b)]))
}

/// [`shell_candidate`] with the byte kinds of `input` already known.
fn candidate(input: &[u8], present: Present) -> bool {
    two_letters(input) && (input.len() <= 24 || present.has(Present::CANDIDATE_SYNTAX))
}

fn two_letters(input: &[u8]) -> bool {
    input
        .iter()
        .filter(|b| b.is_ascii_alphabetic())
        .take(2)
        .count()
        == 2
}

/// Which kinds of byte a value holds, found in one pass, so that [`shell`] skips the searches
/// and passes whose bytes are absent (most of them, on prose).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Present(u8);

impl Present {
    /// `$`: arithmetic probes.
    pub(crate) const DOLLAR: u8 = 1;
    /// `<`: server-side includes.
    pub(crate) const LT: u8 = 2;
    /// `(`: exec functions and Shellshock.
    pub(crate) const PAREN: u8 = 4;
    /// `& | ( ; \n \r`: what precedes a cmd.exe batch command position.
    pub(crate) const BATCH_SEPARATOR: u8 = 8;
    /// [`CANDIDATE_SYNTAX`].
    pub(crate) const CANDIDATE_SYNTAX: u8 = 16;
    /// A byte [`normalise`] rewrites or drops.
    pub(crate) const NORMALISED: u8 = 32;
    /// What [`looks_binary`] counts: a control character other than tab and line breaks, or
    /// 0xEF (the lead byte of U+FFFD).
    pub(crate) const ODD: u8 = 64;

    fn of(bytes: &[u8]) -> Present {
        // Sixteen bytes a step, without a branch per byte.
        Present(bytes.chunks(16).fold(0, |seen, chunk| {
            chunk
                .iter()
                .fold(seen, |seen, &b| seen | BYTE_KINDS[usize::from(b)])
        }))
    }

    pub(crate) fn has(self, kinds: u8) -> bool {
        self.0 & kinds != 0
    }
}

/// The [`Present`] bits of each byte.
const BYTE_KINDS: [u8; 256] = {
    let mut kinds = [0u8; 256];
    kinds[b'$' as usize] |= Present::DOLLAR;
    kinds[b'<' as usize] |= Present::LT;
    kinds[b'(' as usize] |= Present::PAREN;
    let batch = b"&|(;\n\r";
    let mut k = 0;
    while k < batch.len() {
        kinds[batch[k] as usize] |= Present::BATCH_SEPARATOR;
        k += 1;
    }
    let mut b = 0;
    while b < 256 {
        if CANDIDATE_SYNTAX[b] {
            kinds[b] |= Present::CANDIDATE_SYNTAX;
        }
        if normalise::HANDLED[b] {
            kinds[b] |= Present::NORMALISED;
        }
        let control = b < 0x20 && b != b'\n' as usize && b != b'\r' as usize && b != b'\t' as usize;
        if control || b == 0xef {
            kinds[b] |= Present::ODD;
        }
        b += 1;
    }
    kinds
};

/// A separator, a path, a flag or a substitution character: what [`shell_candidate`] needs in
/// a value longer than a bare command.
const CANDIDATE_SYNTAX: [bool; 256] = byte_table(b";|&\n`$(/\\-{%<>");

/// Bytes that end a command's arguments ([`args`]).
const ARGS_END: [bool; 256] = byte_table(b";|&\n`)");

/// Bytes where [`scan`] may find a command position; every other byte is skipped.
const POSITION_START: [bool; 256] = byte_table(b"|&;\n({`$<>");

/// Detects OS command injection in one decoded value.
///
/// Fingerprints: `"shell:command"` (separator, command, argument), `"shell:substitution"`
/// (`` `…` ``, `$(…)`, `<(…)`), `"shell:direct-command"` (the whole value is a command line
/// that names a system path or runs an unmistakable program), `"shell:shellshock"`
/// (`() { :; };`), `"shell:arithmetic"` (`$((7+8))` probes), `"shell:exec-function"`
/// (`system('id')`, `passthru(`…)), `"shell:ssi"` (`<!--#exec cmd=…-->`) and
/// `"shell:cmd-batch"` (cmd.exe `FOR … IN (…) DO` / `IF EXIST|DEFINED|==` syntax).
pub fn shell(input: &str) -> Option<Detection> {
    let bytes = input.as_bytes();
    let present = Present::of(bytes);
    // Whole-value syntax (cmd.exe `IF EXIST x CMD` has no separator character at all).
    if let Some((fp, s, e)) = syntax::check(bytes, present) {
        return Some(Detection::new(
            DetectorKind::Shell,
            fp,
            char_span(input, s, e),
        ));
    }
    if !candidate(bytes, present) {
        return None;
    }
    if let Some(at) = present
        .has(Present::PAREN)
        .then(|| shellshock(bytes))
        .flatten()
    {
        return Some(Detection::new(
            DetectorKind::Shell,
            SHELLSHOCK,
            char_span(input, at, at + 4),
        ));
    }

    if present.has(Present::ODD) && looks_binary(bytes) {
        // Decoded file content (images, PDFs): random bytes form "commands" by chance.
        return None;
    }
    // Most values hold nothing to undo; they are scanned as they are, without copying them
    // and their offsets.
    let unchanged = !present.has(Present::NORMALISED);
    let mut norm = Normalised::default();
    let (text, brace): (&[u8], &[(usize, usize)]) = if unchanged {
        (bytes, &[])
    } else {
        normalise(bytes, &mut norm);
        (&norm.text, &norm.brace)
    };
    let (fp, s, e) = scan(text, brace)?;
    let origin_of = |i: usize| {
        if unchanged {
            i.min(bytes.len())
        } else {
            norm.origin_of(i, bytes.len())
        }
    };
    let start = origin_of(s);
    let end = if e == 0 { start } else { origin_of(e - 1) + 1 };
    Some(Detection::new(
        DetectorKind::Shell,
        fp,
        char_span(input, start, end),
    ))
}

/// More than 5% control characters or U+FFFD replacement characters: not text.
fn looks_binary(b: &[u8]) -> bool {
    if b.len() < 64 {
        return false;
    }
    // Two simple counts (the first vectorises, the second visits only 0xEF lead bytes).
    let controls = b
        .iter()
        .filter(|&&c| c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t'))
        .count();
    let replacements = memchr::memchr_iter(0xef, b)
        .filter(|&i| b.get(i + 1..i + 3) == Some(&[0xbf, 0xbd][..]))
        .count();
    (controls + replacements) * 20 > b.len()
}

/// `() {` function-definition prefix used by Shellshock (CVE-2014-6271).
fn shellshock(b: &[u8]) -> Option<usize> {
    // A value that *is* a function definition: `() {`.
    let lead = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let rest = &b[lead..];
    if rest.starts_with(b"()") {
        let k = 2 + rest[2..]
            .iter()
            .take_while(|c| c.is_ascii_whitespace())
            .count();
        if rest.get(k) == Some(&b'{') {
            return Some(lead);
        }
    }
    for i in memchr::memchr_iter(b'(', b) {
        if b.get(i + 1) == Some(&b')') {
            let mut j = i + 2;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if b.get(j) == Some(&b'{') {
                let body = &b[j + 1..b.len().min(j + 16)];
                if body.contains(&b';') || body.contains(&b':') {
                    return Some(i);
                }
            }
        }
    }
    None
}

/// What precedes a command position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// Start of the value.
    Start,
    /// `|`, `&` or newline: also common in data (HL7, prose, lists).
    Weak,
    /// `(` or `{` grouping: prose puts words in parentheses ("(id)", "(rpm)").
    Paren,
    /// `;`, `&&`, `||`.
    Strong,
    /// `` ` ``, `$(`, `<(`, `>(`.
    Subst,
}

type Hit = (&'static str, usize, usize);

fn is_sep_byte(b: u8) -> bool {
    matches!(
        b,
        b';' | b'|' | b'&' | b'\n' | b'`' | b')' | b'(' | b'{' | b'}'
    )
}

/// An HL7 v2 (ER7) segment or message: `|`, `^`, `~`, `&` are delimiters there, not shell.
fn looks_like_hl7(b: &[u8]) -> bool {
    let segment = |s: &[u8]| {
        s.len() >= 4
            && s[0].is_ascii_uppercase()
            && s[1..3]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && s[3] == b'|'
    };
    segment(b)
        || memchr::memchr2_iter(b'\r', b'\n', b).any(|p| b.get(p + 1..p + 5).is_some_and(segment))
}

/// Reads the command at every command position of the (normalised) text `t`.
fn scan(t: &[u8], brace: &[(usize, usize)]) -> Option<Hit> {
    // Where the arguments from each command position end, remembered across positions.
    let mut ends = NextIn::new(&ARGS_END);
    if let Some(h) = command_at(t, 0, Sep::Start, brace, &mut ends) {
        return Some(h);
    }
    // Only `|` and `&` depend on it, so it is worked out at the first of those.
    let mut hl7: Option<bool> = None;
    let n = t.len();
    let mut i = 0;
    while i < n {
        // Jump to the next byte that can start a command position.
        match position_in(&t[i..], &POSITION_START) {
            Some(p) => i += p,
            None => break,
        }
        let (sep, len) = match (t[i], t.get(i + 1).copied()) {
            (b'|' | b'&', _) if *hl7.get_or_insert_with(|| looks_like_hl7(t)) => {
                i += 1;
                continue;
            }
            (b';', _) => (Sep::Strong, 1),
            (b'&', Some(b'&')) | (b'|', Some(b'|')) => (Sep::Strong, 2),
            (b'|' | b'&' | b'\n', _) => (Sep::Weak, 1),
            (b'(' | b'{', _) => (Sep::Paren, 1),
            (b'`', _) => (Sep::Subst, 1),
            (b'$' | b'<' | b'>', Some(b'(')) => (Sep::Subst, 2),
            // Here-string: `cat<<<"sh -c id"` feeds a command line to the first command.
            (b'<', Some(b'<')) if t.get(i + 2) == Some(&b'<') => (Sep::Weak, 3),
            _ => {
                i += 1;
                continue;
            }
        };
        if let Some(h) = command_at(t, i + len, sep, brace, &mut ends) {
            return Some((h.0, i, h.2));
        }
        i += len;
    }
    None
}

/// Facts about the arguments of one command.
#[derive(Debug, Default)]
struct Args {
    /// No argument before the next separator or the end.
    none: bool,
    /// The first argument is a plain word (letters only).
    plain_word_first: bool,
    /// The first argument is a number.
    number_first: bool,
    /// The command is followed only by its number argument (`sleep 5`).
    only_number: bool,
    flag: bool,
    sys_path: bool,
    sensitive: bool,
    url: bool,
    host: bool,
    redirect: bool,
    /// Output redirected into a file (`> x.php`, `>> /tmp/x`).
    redirect_file: bool,
}

fn command_at(
    t: &[u8],
    from: usize,
    sep: Sep,
    brace: &[(usize, usize)],
    ends: &mut NextIn,
) -> Option<Hit> {
    command_word(t, from, sep, brace, 0, ends)
}

/// Reads the command word at `from`; `depth` counts wrapper commands already skipped
/// (`time`, `nohup`, `sudo` … run their first argument as a command).
fn command_word(
    t: &[u8],
    from: usize,
    sep: Sep,
    brace: &[(usize, usize)],
    depth: usize,
    ends: &mut NextIn,
) -> Option<Hit> {
    let n = t.len();
    let mut i = from;
    // Skip blanks, grouping and negation, and `VAR=value` prefixes.
    loop {
        while i < n && i < from + 64 && matches!(t[i], b' ' | b'(' | b'{' | b'!' | b'@') {
            i += 1;
        }
        let ws = word_end(t, i);
        let word = &t[i..ws];
        if let Some(eq) = word.iter().position(|&c| c == b'=') {
            if eq > 0
                && t.get(ws) == Some(&b' ')
                && word[..eq]
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || c == b'_')
            {
                i = ws;
                continue;
            }
        }
        break;
    }
    let start = i;
    let end = word_end(t, i);
    if end == start {
        return None;
    }
    let raw = &t[start..end];
    let (prefix, name) = match raw.iter().rposition(|&c| c == b'/' || c == b'\\') {
        Some(p) => (&raw[..=p], &raw[p + 1..]),
        None => (&raw[..0], raw),
    };
    let mut lower_buf = [0u8; 32];
    let lower = crate::ascii::lower_into(name, &mut lower_buf)?;
    let lower = strip_exe(lower);
    let globbed = name.iter().any(|c| matches!(c, b'?' | b'*' | b'['));
    let bin_prefix = is_bin_prefix(prefix);
    let via_brace = brace.iter().any(|&(s, e)| start >= s && start < e);
    let known = if globbed {
        if prefix.is_empty() {
            return None;
        }
        glob_command(name).map(|c| (Tier::Unique, c))
    } else {
        match (commands::unix(name), commands::windows(lower)) {
            (Some(a), Some(b)) => Some((a.max(b), name)),
            (Some(a), None) | (None, Some(a)) => Some((a, name)),
            (None, None) => None,
        }
    };
    if !prefix.is_empty() && !bin_prefix && !globbed {
        // `patient/cat`: a path segment, not a command.
        return None;
    }
    if known.is_none() && !bin_prefix {
        return None;
    }
    let args = args(t, end, ends);
    let fire = match known {
        // `/bin/anything args`, `/usr/local/bin/x`: a program path is a command line whatever
        // the program.
        None => {
            bin_prefix
                && (prefix.first() == Some(&b'/')
                    || (sep == Sep::Start && (prefix == b"bin/" || prefix == b"sbin/")))
                && name.len() >= 2
        }
        Some((tier, cmd)) => {
            if depth < 2 && commands::is_wrapper(cmd) {
                // `time sh -c id`, `nohup ifconfig`: judge the wrapped command instead.
                let next_start = end;
                if let Some(h) = command_word(t, next_start, sep, brace, depth + 1, ends) {
                    return Some((h.0, start, h.2));
                }
            }
            let probe = commands::is_probe(cmd) || commands::is_probe(lower);
            let quiet_probe = commands::is_quiet_probe(cmd) || commands::is_quiet_probe(lower);
            // Inside a substitution the word must end like a command does (`\`id\``,
            // `$(ls -la)`), not run on into other bytes.
            let clean_end = matches!(
                t.get(end),
                None | Some(b' ' | b'`' | b')' | b';' | b'|' | b'&' | b'\n')
            );
            // A backtick pair is also Markdown code (`` `make` ``, `` `diff` ``): there the
            // command must be a probe, a program name, or take shell-only arguments.
            let backtick = sep == Sep::Subst && from > 0 && t[from - 1] == b'`';
            // Shell code puts backticks after `(`, `=`, `.`, `;`…; prose puts them after a
            // blank, and TeX-style prose closes them with `'`.
            let prose_backtick = backtick
                && (from < 2
                    || t[from - 2].is_ascii_whitespace()
                    || t[from - 2].is_ascii_alphanumeric());
            // (Only looked for after a backtick: every command position would otherwise read
            // the next 512 bytes.)
            let closed = || t[end..t.len().min(end + 512)].contains(&b'`');
            let markdown_word = prose_backtick
                && ((tier != Tier::Unique
                    && !probe
                    && args.plain_word_first
                    && !(args.flag || args.sys_path || args.sensitive || args.redirect)
                    && !args.none)
                    || (tier == Tier::Word && args.none && !probe));
            if (sep == Sep::Subst && !clean_end) || (backtick && !closed()) || markdown_word {
                false
            } else if bin_prefix || globbed || via_brace {
                !args.plain_word_first || sep != Sep::Start || via_brace
            } else {
                decide(sep, tier, probe, cmd, &args)
                    || (sep == Sep::Weak && quiet_probe && args.none)
            }
        }
    };
    if !fire {
        return None;
    }
    let fp = match sep {
        Sep::Start => DIRECT,
        Sep::Subst => SUBSTITUTION,
        _ => COMMAND,
    };
    let span_end = t[end..]
        .iter()
        .position(|&c| matches!(c, b';' | b'|' | b'&' | b'\n' | b'`'))
        .map_or(n, |p| end + p);
    Some((fp, start, span_end))
}

fn decide(sep: Sep, tier: Tier, probe: bool, cmd: &[u8], a: &Args) -> bool {
    let strong_arg = a.sys_path || a.sensitive || a.url || a.redirect_file;
    if sep == Sep::Subst {
        // `` `id` ``, `$(echo x)`: command substitution runs whatever it names.
        return true;
    }
    if sep == Sep::Paren {
        // A subshell `(cat /etc/passwd)` needs the same evidence as after `|`, and a bare
        // word in parentheses is prose.
        return match tier {
            Tier::Unique => strong_arg || a.flag || a.host,
            Tier::Tool => strong_arg || a.flag,
            Tier::Word => a.sensitive || (a.sys_path && (a.flag || a.redirect)),
        };
    }
    match (tier, sep) {
        (Tier::Unique, Sep::Start) => strong_arg || a.flag || a.host || (probe && a.none),
        (Tier::Unique, _) => {
            !a.plain_word_first || strong_arg || a.flag || !commands::is_everyday_word(cmd)
        }
        (Tier::Tool, Sep::Start) => a.sensitive || (a.flag && a.sys_path),
        (Tier::Tool, Sep::Weak | Sep::Paren) => strong_arg || a.flag,
        (Tier::Tool, Sep::Strong | Sep::Subst) => {
            strong_arg || a.flag || (a.none && (probe || sep == Sep::Subst))
        }
        (Tier::Word, Sep::Start) => a.sensitive,
        (Tier::Word, Sep::Weak | Sep::Paren) => {
            a.sensitive || (a.sys_path && (a.flag || a.redirect)) || (cmd == b"ping" && a.host)
        }
        (Tier::Word, Sep::Strong | Sep::Subst) => {
            a.sensitive
                || a.sys_path
                || a.url
                || a.redirect
                || (a.none && probe)
                || (a.none && sep == Sep::Subst)
                || (cmd == b"ping" && a.host)
                || (cmd == b"sleep" && a.only_number)
        }
    }
}

fn word_end(t: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < t.len() && !matches!(t[i], b' ' | b'<' | b'>') && !is_sep_byte(t[i]) {
        i += 1;
    }
    i
}

fn strip_exe(lower: &[u8]) -> &[u8] {
    for ext in [&b".exe"[..], b".com", b".bat", b".cmd"] {
        if let Some(stem) = lower.strip_suffix(ext) {
            return stem;
        }
    }
    lower
}

fn is_bin_prefix(prefix: &[u8]) -> bool {
    if prefix.is_empty() {
        return false;
    }
    let mut buf = [0u8; 64];
    let Some(p) = crate::ascii::lower_into(prefix, &mut buf) else {
        return false;
    };
    // A `bin` directory itself (`/bin/`, `/usr/local/sbin/`, `bin/`), not `/cgi-bin/`.
    let bin_dir = [&b"bin/"[..], b"sbin/"]
        .iter()
        .any(|d| p.ends_with(d) && (p.len() == d.len() || p[p.len() - d.len() - 1] == b'/'));
    bin_dir
        || p.ends_with(b"system32\\")
        || p.ends_with(b"system32/")
        || p.ends_with(b"windowspowershell\\v1.0\\")
        || p.iter().any(|c| matches!(c, b'?' | b'*'))
}

/// Commands an attacker spells with globs (`/???/??t`, `/bin/c?t`, `/usr/bin/w*i`).
fn glob_command(pattern: &[u8]) -> Option<&'static [u8]> {
    const GLOBBABLE: &[&[u8]] = &[
        b"cat",
        b"nc",
        b"ncat",
        b"netcat",
        b"ls",
        b"id",
        b"sh",
        b"bash",
        b"wget",
        b"curl",
        b"whoami",
        b"uname",
        b"python",
        b"python3",
        b"perl",
        b"ping",
        b"nslookup",
        b"echo",
        b"head",
        b"tail",
        b"more",
        b"less",
        b"base64",
        b"chmod",
        b"rm",
        b"env",
    ];
    if pattern.iter().all(|&c| matches!(c, b'?' | b'*')) && pattern.len() < 2 {
        return None;
    }
    GLOBBABLE
        .iter()
        .copied()
        .find(|cmd| glob_match(pattern, cmd))
}

/// Shell glob match with `?`, `*` and `[…]` classes, iterative (linear in practice: one
/// backtrack point for `*`).
fn glob_match(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() {
            match pat[p] {
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                b'[' => {
                    if let Some(close) = pat[p..].iter().position(|&c| c == b']') {
                        let class = &pat[p + 1..p + close];
                        if class.contains(&text[t]) {
                            p += close + 1;
                            t += 1;
                            continue;
                        }
                    }
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

fn args(t: &[u8], from: usize, ends: &mut NextIn) -> Args {
    let mut a = Args::default();
    // Arguments are read up to the next separator, and at most 512 bytes: enough for any
    // command line, and it keeps the scan linear however many command positions there are.
    let stop = ends.next(t, from).min(from + 512);
    let seg = &t[from..stop];
    // Redirections: `>`/`<` attached to a file target or a descriptor (`> x.php`, `</etc/passwd`,
    // `2>&1`). A bare comparison in prose ("if < 2 voids", "BP > 140") is not one.
    let mut redirect = false;
    let mut redirect_file = false;
    for p in memchr::memchr2_iter(b'<', b'>', seg) {
        let descriptor_before = p > 0 && seg[p - 1].is_ascii_digit();
        let rest = &seg[p + 1..];
        let rest = rest
            .iter()
            .position(|&c| !matches!(c, b'>' | b'<' | b'&' | b' '))
            .map_or(&rest[rest.len()..], |k| &rest[k..]);
        let target_len = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
        let target = &rest[..target_len];
        let descriptor_after = target.first().is_some_and(u8::is_ascii_digit)
            && target.len() == 1
            && seg.get(p + 1) == Some(&b'&');
        let file = target.len() > 2
            && (target.starts_with(b"/") || target.starts_with(b"~") || target.starts_with(b"./"))
            || (target.len() > 2
                && target.contains(&b'.')
                && target.iter().any(u8::is_ascii_alphabetic)
                && !target.iter().all(|c| c.is_ascii_digit() || *c == b'.'));
        if file {
            redirect_file = true;
        }
        if file || descriptor_before || descriptor_after {
            redirect = true;
        }
    }
    a.redirect = redirect;
    a.redirect_file = redirect_file;
    let mut count = 0;
    for (k, arg) in seg
        .split(|&c| matches!(c, b' ' | b'<' | b'>'))
        .filter(|w| !w.is_empty())
        .take(8)
        .enumerate()
    {
        count += 1;
        if k == 0 {
            a.plain_word_first = arg.iter().all(|c| c.is_ascii_alphabetic());
            a.number_first = arg.iter().all(u8::is_ascii_digit);
        }
        if is_flag(arg) {
            a.flag = true;
        }
        if is_sys_path(arg) {
            a.sys_path = true;
        }
        // Long "arguments" are data, not file names; looking at a bounded prefix keeps the
        // dictionary checks cheap.
        let arg = &arg[..arg.len().min(128)];
        if is_sensitive(arg) {
            a.sensitive = true;
            a.sys_path = true;
        }
        if contains_ci(arg, b"://") {
            a.url = true;
        }
        if is_host(arg) {
            a.host = true;
        }
    }
    a.none = count == 0;
    a.only_number = count == 1 && a.number_first;
    a
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    crate::ascii::find_ci(hay, needle).is_some()
}

fn is_flag(arg: &[u8]) -> bool {
    match arg {
        [b'-', b'-', rest @ ..] => {
            rest.len() >= 2 && rest.iter().all(|c| c.is_ascii_lowercase() || *c == b'-')
        }
        // PowerShell parameters: `-Command`, `-EncodedCommand`, `-ExecutionPolicy`.
        [b'-', first, rest @ ..]
            if first.is_ascii_uppercase()
                && (2..=24).contains(&rest.len())
                && rest.iter().all(u8::is_ascii_alphabetic) =>
        {
            true
        }
        [b'-', rest @ ..] => {
            !rest.is_empty()
                && rest.len() <= 4
                && rest.iter().all(u8::is_ascii_alphabetic)
                && rest != b"ve"
        }
        [b'/', rest @ ..] => {
            (1..=3).contains(&rest.len())
                && rest.iter().all(|c| c.is_ascii_alphabetic() || *c == b'?')
        }
        _ => false,
    }
}

/// A path that names a real file system location rather than a fraction or a ratio.
fn is_sys_path(arg: &[u8]) -> bool {
    if arg.starts_with(b"~/")
        || arg.starts_with(b"./")
        || arg.starts_with(b"../")
        || arg.starts_with(b"\\\\")
    {
        return true;
    }
    if arg.len() >= 3 && arg[0].is_ascii_alphabetic() && arg[1] == b':' && arg[2] == b'\\' {
        return true;
    }
    if arg.first() != Some(&b'/') {
        return false;
    }
    const ROOTS: &[&[u8]] = &[
        b"/etc", b"/bin", b"/sbin", b"/usr", b"/tmp", b"/var", b"/proc", b"/dev", b"/home",
        b"/root", b"/opt", b"/sys", b"/boot", b"/lib", b"/srv", b"/mnt", b"/run",
    ];
    ROOTS
        .iter()
        .any(|r| arg.starts_with(r) && matches!(arg.get(r.len()), None | Some(b'/')))
        || arg.iter().any(|c| matches!(c, b'?' | b'*'))
            && arg.iter().filter(|&&c| c == b'/').count() >= 2
}

fn is_sensitive(arg: &[u8]) -> bool {
    const FILES: &[&[u8]] = &[
        b"/etc/passwd",
        b"/etc/shadow",
        b"/etc/hosts",
        b"/etc/group",
        b"/etc/issue",
        b"/bin/sh",
        b"/bin/bash",
        b"/dev/tcp/",
        b"/dev/udp/",
        b"/proc/self",
        b"/proc/version",
        b"win.ini",
        b"boot.ini",
        b"system32",
        b"id_rsa",
        b".htpasswd",
        b".bash_history",
        b"/etc/",
        b"/var/log",
        b"/tmp/",
        b"c:\\windows",
        b"\\windows\\",
    ];
    // Only two names lack a `/`, `.` or `\`: an argument without those (most words) is
    // checked for them alone instead of for all nineteen.
    let files: &[&[u8]] = if arg.iter().any(|c| matches!(c, b'/' | b'.' | b'\\')) {
        FILES
    } else {
        &[b"system32", b"id_rsa"]
    };
    arg == b"passwd"
        || arg == b"shadow"
        || files.iter().any(|f| contains_ci(arg, f))
        || (arg.iter().filter(|&&c| c == b'/').count() >= 2
            && arg.iter().any(|c| matches!(c, b'?' | b'*'))
            && arg.starts_with(b"/"))
}

/// An IPv4 address or a dotted host name (`127.0.0.1`, `evil.example.com`).
fn is_host(arg: &[u8]) -> bool {
    let parts: usize = arg.split(|&c| c == b'.').count();
    if parts < 2 || arg.starts_with(b".") || arg.ends_with(b".") {
        return false;
    }
    let all_digits = arg.iter().all(|c| c.is_ascii_digit() || *c == b'.');
    if all_digits {
        return parts == 4;
    }
    parts >= 2
        && arg
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
        && arg
            .rsplit(|&c| c == b'.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
}

#[cfg(test)]
mod tests;
