//! Grammar checks over a lexed token stream. Each check recognises one injection shape and
//! needs real SQL syntax around its keyword, so words that merely occur in prose never fire.

use super::keywords::{
    is_attack_function, is_catalog_name, is_delay_function, is_info_function, is_server_variable,
    is_sql_type, may_name_catalog, Kw,
};
use super::lexer::{Class, Lexed, Token, BREAKOUT, CLOSED, COMMENT_AFTER, TIGHT};

pub(crate) const UNION_SELECT: &str = "sqli:union-select";
pub(crate) const STACKED: &str = "sqli:stacked-query";
pub(crate) const TIME_DELAY: &str = "sqli:time-delay";
pub(crate) const TAUTOLOGY: &str = "sqli:tautology";
pub(crate) const BREAKOUT_COMMENT: &str = "sqli:breakout-comment";
pub(crate) const BREAKOUT_LOGIC: &str = "sqli:breakout-logic";
pub(crate) const ORDER_BY: &str = "sqli:order-by";
pub(crate) const SUBQUERY: &str = "sqli:subquery";
pub(crate) const STATEMENT: &str = "sqli:statement";
pub(crate) const DANGEROUS_FUNCTION: &str = "sqli:dangerous-function";
pub(crate) const CATALOG: &str = "sqli:catalog";
pub(crate) const SERVER_VARIABLE: &str = "sqli:server-variable";
pub(crate) const INTO_OUTFILE: &str = "sqli:into-outfile";
pub(crate) const MYSQL_COMMENT: &str = "sqli:mysql-comment";
pub(crate) const BOOLEAN_PROBE: &str = "sqli:boolean-probe";
pub(crate) const INFO_FUNCTION: &str = "sqli:info-function";
pub(crate) const PG_CAST: &str = "sqli:pg-cast";
pub(crate) const NUMERIC_BYPASS: &str = "sqli:numeric-bypass";
pub(crate) const FINGERPRINTS: &[&str] = &[
    UNION_SELECT,
    STACKED,
    TIME_DELAY,
    TAUTOLOGY,
    BREAKOUT_COMMENT,
    BREAKOUT_LOGIC,
    ORDER_BY,
    SUBQUERY,
    STATEMENT,
    DANGEROUS_FUNCTION,
    CATALOG,
    SERVER_VARIABLE,
    INTO_OUTFILE,
    MYSQL_COMMENT,
    BOOLEAN_PROBE,
    INFO_FUNCTION,
    PG_CAST,
    NUMERIC_BYPASS,
];

/// A finding: fingerprint and byte range.
type Hit = (&'static str, usize, usize);

struct Ctx<'a> {
    input: &'a [u8],
    t: &'a [Token],
    lexed: &'a Lexed,
    /// Lexed as if inside a quoted literal and the value closed it.
    breakout: bool,
    /// The value has a boolean operator, `;` or a clause keyword somewhere (computed once).
    sql_words: bool,
}

impl Ctx<'_> {
    fn get(&self, i: usize) -> Option<&Token> {
        self.t.get(i)
    }
    fn text(&self, tok: &Token) -> &[u8] {
        self.input.get(tok.start..tok.end).unwrap_or(&[])
    }
    fn class(&self, i: usize) -> Option<Class> {
        self.t.get(i).map(|t| t.class)
    }
    fn is_kw(&self, i: usize, kw: Kw) -> bool {
        self.t.get(i).is_some_and(|t| t.is_kw(kw))
    }
    fn is_op(&self, i: usize, op: &[u8]) -> bool {
        self.t
            .get(i)
            .is_some_and(|t| t.class == Class::Op && self.text(t) == op)
    }
    fn span(&self, from: usize, to: usize) -> (usize, usize) {
        let start = self.t.get(from).map_or(0, |t| t.start);
        let end = self
            .t
            .get(to.min(self.t.len().saturating_sub(1)))
            .map_or(self.input.len(), |t| t.end);
        (start, end.max(start))
    }
    fn hit(&self, fp: &'static str, from: usize, to: usize) -> Option<Hit> {
        let (s, e) = self.span(from, to);
        Some((fp, s, e))
    }
    /// The statement is cut off after token `i`: a comment follows, the input ends, a `;`
    /// follows, or only the dangling quote the application will close remains.
    fn terminated_after(&self, i: usize) -> bool {
        let Some(tok) = self.t.get(i) else {
            return true;
        };
        if tok.has(COMMENT_AFTER) {
            return true;
        }
        // `( 1 OR 1 ) --`: closing parentheses do not end the shape.
        let mut i = i;
        while self.t.get(i + 1).is_some_and(|t| t.class == Class::RParen) {
            i += 1;
            if self.t[i].has(COMMENT_AFTER) {
                return true;
            }
        }
        match self.t.get(i + 1) {
            None => true,
            Some(next) => next.class == Class::Semi || (self.breakout && self.dangling_quote(next)),
        }
    }
    /// The last token is an unclosed literal that only waits for the application's closing
    /// quote: short and without blanks (`'a`, `'1`), unlike prose that merely goes on.
    fn dangling_quote(&self, tok: &Token) -> bool {
        tok.class == Class::Str
            && !tok.has(CLOSED)
            && tok.end == self.input.len()
            && tok.end - tok.start <= 16
            && !self.text(tok).iter().any(u8::is_ascii_whitespace)
    }
    /// Whether the value is shaped like an injection at all: broke out of a literal, or ends
    /// by commenting out the rest of the query.
    fn injection_context(&self) -> bool {
        self.breakout || self.lexed.ends_with_comment
    }
}

pub(crate) fn analyse(input: &[u8], lexed: &Lexed, breakout: bool) -> Option<Hit> {
    let sql_words = lexed.tokens.iter().any(|x| {
        x.is_logic()
            || x.class == Class::Semi
            || (x.class == Class::Keyword
                && matches!(
                    x.kw,
                    Kw::Select | Kw::From | Kw::Union | Kw::Exec | Kw::Where | Kw::Join | Kw::Into
                ))
    });
    let ctx = Ctx {
        input,
        t: &lexed.tokens,
        lexed,
        breakout,
        sql_words,
    };
    // In a breakout context, only meaningful if the first token really is the breakout literal.
    if breakout
        && !ctx
            .t
            .first()
            .is_some_and(|t| t.has(BREAKOUT) && t.has(CLOSED))
    {
        return None;
    }
    if let Some(h) = leading_comparison(&ctx) {
        return Some(h);
    }
    for (i, tok) in ctx.t.iter().enumerate() {
        if starts_no_check(&ctx, tok) {
            continue;
        }
        if let Some(h) = checks_at(&ctx, i) {
            return Some(h);
        }
    }
    if breakout {
        if let Some(h) = breakout_checks(&ctx) {
            return Some(h);
        }
    }
    if lexed.mysql_exec_comment
        && ctx.t.iter().any(|t| {
            t.class == Class::Keyword
                && matches!(
                    t.kw,
                    Kw::Select | Kw::Union | Kw::And | Kw::Or | Kw::From | Kw::Where | Kw::Order
                )
        })
    {
        return ctx.hit(MYSQL_COMMENT, 0, ctx.t.len());
    }
    None
}

fn breakout_checks(c: &Ctx) -> Option<Hit> {
    let t = c.t;
    // Skip closing parentheses: `admin')--`, `x')) or ((`.
    let mut j = 1;
    while c.class(j) == Some(Class::RParen) {
        j += 1;
    }
    // `admin'--`, `admin'#`, `x')/*`: the broken-out value is short and plain (not code such
    // as FHIRPath `where((('#'…`, nor prose quoting a `"--flag"` or `"#define"`).
    let broken_out = c.text(&t[0]);
    let plain = broken_out.len() <= 32
        && broken_out
            .iter()
            .filter(|b| b.is_ascii_whitespace())
            .count()
            <= 2
        && !broken_out
            .iter()
            .any(|b| matches!(b, b'(' | b')' | b'[' | b'{' | b'=' | b':'));
    let bare_comment = |tok: &Token| {
        // The comment marker right after `tok` is followed by nothing, a blank or a symbol,
        // not a word (`--keep`, `#define`).
        let rest = c.input.get(tok.end..).unwrap_or(&[]);
        let rest = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(&rest[rest.len()..], |p| &rest[p..]);
        let marker = if rest.starts_with(b"--") || rest.starts_with(b"/*") {
            2
        } else {
            1
        };
        let body = rest.get(marker..).unwrap_or(&[]);
        let words = body.iter().filter(|b| !b.is_ascii_whitespace()).count();
        body.first().is_none_or(|b| !b.is_ascii_alphanumeric()) && words <= 2
    };
    if plain
        && j == t.len()
        && c.t
            .get(j - 1)
            .is_some_and(|tok| tok.has(COMMENT_AFTER) && bare_comment(tok))
    {
        return c.hit(BREAKOUT_COMMENT, 0, j);
    }
    if plain
        && j < t.len()
        && t[j].class == Class::Semi
        && j + 1 == t.len()
        && t[j].has(COMMENT_AFTER)
    {
        return c.hit(BREAKOUT_COMMENT, 0, j);
    }
    let next = t.get(j)?;
    // `A' = 'B`, `' && '`, `A' XOR 'B`: an operator between the broken-out literal and the
    // quote the application closes.
    let symbolic = next.class == Class::Cmp
        || next.class == Class::LogicOp
        || next.is_kw(Kw::Xor)
        || (next.class == Class::Op && matches!(c.text(next), b"&" | b"|" | b"^"));
    let dangling_word = |tok: &Token| {
        c.dangling_quote(tok)
            && c.text(tok)
                .get(1..)
                .is_some_and(|b| b.iter().all(u8::is_ascii_alphanumeric))
    };
    // Unary operators may sit between (`aa'=+'1`, `'<~'`).
    let mut d = j + 1;
    while d + 1 < t.len()
        && t[d].class == Class::Op
        && matches!(c.text(&t[d]), b"+" | b"-" | b"!" | b"~")
    {
        d += 1;
    }
    if symbolic && plain && d + 1 == t.len() && dangling_word(&t[d]) {
        return c.hit(BREAKOUT_LOGIC, 0, j + 1);
    }
    // `x'OR'a='a`: from the broken-out literal into a boolean and a literal that swallowed the
    // comparison (`'a='`); prose such as `software" and "commercial …"` has no `=` there.
    if next.is_logic()
        && t.get(j + 1).is_some_and(|s| {
            let text = c.text(s);
            s.class == Class::Str
                && s.has(CLOSED)
                && text.len() <= 12
                && text.len() >= 3
                && matches!(text[text.len() - 2], b'=' | b'<' | b'>')
        })
    {
        return c.hit(BREAKOUT_LOGIC, 0, j + 1);
    }
    if next.is_logic() {
        // `' and substring(@@version,1,1)=5 --`, `' or exists(select …) or '`
        let tail = &t[j + 1..];
        let syntax = tail.iter().any(|x| {
            x.class == Class::Cmp
                || (x.class == Class::Func && x.has(TIGHT))
                || x.class == Class::Var
                || x.is_kw(Kw::Select)
                || x.is_kw(Kw::Between)
        }) || tail.windows(2).any(|w| {
            (w[0].is_kw(Kw::Like) || w[0].is_kw(Kw::Rlike) || w[0].is_kw(Kw::Regexp))
                && w[1].class == Class::Str
        });
        let closed = c.lexed.ends_with_comment
            || t.last().is_some_and(|x| c.dangling_quote(x))
            || t.last().is_some_and(|x| x.class == Class::Semi);
        if syntax && closed {
            return c.hit(BREAKOUT_LOGIC, 0, t.len());
        }
    }
    if matches!(next.kw, Kw::Having | Kw::Group | Kw::Limit | Kw::Procedure)
        && next.class == Class::Keyword
        && c.lexed.ends_with_comment
    {
        return c.hit(BREAKOUT_LOGIC, 0, t.len());
    }
    None
}

/// Tokens at which [`checks_at`] finds nothing, whatever follows them, told apart without
/// its full dispatch: most tokens of prose are such words and punctuation. Keep in step with
/// the arms of [`checks_at`].
fn starts_no_check(c: &Ctx, tok: &Token) -> bool {
    match tok.class {
        Class::Str | Class::Cmp | Class::LParen | Class::RParen | Class::Comma | Class::Other => {
            true
        }
        // A word only matters to `catalog`, which needs SQL words in the value and a name of at
        // least 7 bytes.
        Class::Word => !c.sql_words || c.text(tok).len() < 7,
        _ => false,
    }
}

fn checks_at(c: &Ctx, i: usize) -> Option<Hit> {
    let tok = &c.t[i];
    match tok.class {
        Class::Keyword => match tok.kw {
            Kw::Union => union_select(c, i),
            Kw::And | Kw::Or | Kw::Xor | Kw::Having | Kw::Where | Kw::When => tautology(c, i),
            Kw::Order if c.is_kw(i + 1, Kw::By) => order_by(c, i),
            Kw::Waitfor => {
                let next = c.get(i + 1)?;
                let word = c.text(next).to_ascii_lowercase();
                if (next.is_kw(Kw::Delay) || word == b"time") && c.class(i + 2) == Some(Class::Str)
                {
                    return c.hit(TIME_DELAY, i, i + 2);
                }
                None
            }
            Kw::Into
                if matches!(
                    c.get(i + 1)
                        .map(|t| c.text(t).to_ascii_lowercase())
                        .as_deref(),
                    Some(b"outfile" | b"dumpfile")
                ) =>
            {
                c.hit(INTO_OUTFILE, i, i + 2)
            }
            Kw::Select => select_in_context(c, i),
            Kw::Procedure if c.is_kw(i + 1, Kw::Analyse) => c.hit(STATEMENT, i, i + 1),
            Kw::As => alias_from(c, i),
            Kw::Order if i == 0 && c.is_kw(i + 1, Kw::By) => order_by(c, i),
            Kw::Drop | Kw::Create | Kw::Alter | Kw::Truncate => {
                // `CREATE TABLE x (`, `DROP TABLE users;` anywhere in the value.
                let obj = c.get(i + 1)?;
                if obj.is_kw(Kw::Object)
                    && matches!(c.class(i + 2), Some(Class::Word | Class::Func))
                    && (c.terminated_after(i + 2) || c.class(i + 3) == Some(Class::LParen))
                {
                    return c.hit(STATEMENT, i, i + 2);
                }
                if statement_start(c, i) {
                    return statement(c, i).and_then(|end| c.hit(STATEMENT, i, end));
                }
                None
            }
            _ if statement_start(c, i) => statement(c, i).and_then(|end| c.hit(STATEMENT, i, end)),
            _ => None,
        },
        Class::LogicOp => tautology(c, i),
        Class::Semi => {
            let end = statement(c, i + 1)?;
            c.hit(STACKED, i, end)
        }
        Class::Func => {
            let name = c.text(tok);
            if is_delay_function(name) && (delay_call(c, i) || unambiguous_delay(c, i)) {
                return c.hit(TIME_DELAY, i, i + 3);
            }
            if is_attack_function(name) && attack_call_context(c, i) {
                return c.hit(DANGEROUS_FUNCTION, i, i + 1);
            }
            if let Some(h) = conditional_probe(c, i) {
                return Some(h);
            }
            if is_info_function(name) && info_call(c, i) {
                return c.hit(INFO_FUNCTION, i, i + 2);
            }
            catalog(c, i)
        }
        Class::Op if c.text(tok) == b"::" => {
            // PostgreSQL cast: `password::int`, `version()::text`, `'{…}'::jsonb`.
            let before = if i > 0 { c.get(i - 1) } else { None }?;
            let ty = c.get(i + 1)?;
            let operand = matches!(
                before.class,
                Class::Word | Class::RParen | Class::Str | Class::Num | Class::Func
            );
            // Not a C++/Perl path (`IO::Socket::INET`, `XML::Engine::Boolean`): no `::` before
            // the operand or after the type, and the type written in one case.
            let path = (i >= 2 && c.is_op(i - 2, b"::")) || c.is_op(i + 2, b"::");
            // Written tight (`x::int`), and not a CamelCase class (`GtkTextBuffer::text`).
            let tight = before.end == tok.start && tok.end == ty.start;
            let before_text = c.text(before);
            let camel = before_text.iter().skip(1).any(u8::is_ascii_uppercase)
                && before_text.iter().any(u8::is_ascii_lowercase);
            let ty_text = c.text(ty);
            let one_case = ty_text.iter().all(|b| !b.is_ascii_uppercase())
                || ty_text.iter().all(|b| !b.is_ascii_lowercase());
            if operand
                && !path
                && tight
                && !camel
                && one_case
                && matches!(ty.class, Class::Word | Class::Func)
                && is_sql_type(ty_text)
            {
                return c.hit(PG_CAST, i - 1, i + 1);
            }
            None
        }
        Class::Num => numeric_bypass(c, i),
        Class::Word => catalog(c, i),
        Class::Var if is_server_variable(c.text(tok)) => c.hit(SERVER_VARIABLE, i, i),
        _ => None,
    }
}

/// `UNION [ALL|DISTINCT] [(] SELECT <column>`
fn union_select(c: &Ctx, i: usize) -> Option<Hit> {
    let mut j = i + 1;
    while c.is_kw(j, Kw::All) || c.is_kw(j, Kw::Distinct) || c.class(j) == Some(Class::LParen) {
        j += 1;
    }
    if !c.is_kw(j, Kw::Select) {
        return None;
    }
    // `UNION SELECT` cut off (`… union select#`, or the whole value) is already SQL.
    if c.terminated_after(j) {
        return c.hit(UNION_SELECT, i, j);
    }
    if matches!(c.class(j + 1), Some(Class::Num | Class::Str))
        || (c.class(j + 1) == Some(Class::LParen)
            && matches!(c.class(j + 2), Some(Class::Num | Class::Str | Class::Var)))
    {
        return c.hit(UNION_SELECT, i, j + 1);
    }
    let end = select_columns(c, j + 1, false)?;
    c.hit(UNION_SELECT, i, end)
}

/// After `SELECT`: does a column list follow? Returns the index of the last token looked at.
/// `strict` demands something prose never has (a call, a variable, `*`, `NULL`, or a
/// `FROM <table>` clause that ends the statement).
fn select_columns(c: &Ctx, mut j: usize, strict: bool) -> Option<usize> {
    while c.is_kw(j, Kw::All) || c.is_kw(j, Kw::Distinct) {
        j += 1;
    }
    if c.is_kw(j, Kw::Top) && c.class(j + 1) == Some(Class::Num) {
        j += 2;
    }
    let first = c.get(j)?;
    let strong = match first.class {
        Class::Func => first.has(TIGHT),
        Class::Var => true,
        Class::Op => c.text(first) == b"*",
        Class::Keyword => matches!(first.kw, Kw::Null | Kw::Case),
        Class::LParen => c.is_kw(j + 1, Kw::Select),
        _ => false,
    };
    if strong {
        return Some(j);
    }
    if let Some(end) = from_clause(c, j) {
        return Some(end);
    }
    if strict {
        // `select session_user;`, `select password--`
        let cut = first.has(COMMENT_AFTER) || c.class(j + 1) == Some(Class::Semi);
        return (cut && matches!(first.class, Class::Word | Class::Num)).then_some(j);
    }
    let after = c.get(j + 1);
    let ends_column = after.is_none_or(|a| {
        matches!(a.class, Class::Comma | Class::RParen | Class::Semi)
            || (a.class == Class::Keyword
                && matches!(a.kw, Kw::Into | Kw::Union | Kw::Limit | Kw::Order))
            // `… select col from` cut off, or `from users`; not "select 'x' from the list".
            // A number after `from` is never a table ("select records from 2019-2022").
            || (a.is_kw(Kw::From)
                && c.get(j + 2).is_none_or(|t| {
                    !is_determiner(c.text(t)) && t.class != Class::Num
                }))
    }) || first.has(COMMENT_AFTER);
    match first.class {
        Class::Num | Class::Str | Class::Word => ends_column.then_some(j),
        Class::Keyword => matches!(first.kw, Kw::True | Kw::False).then_some(j),
        _ => None,
    }
}

/// English words that follow "from" in prose but never name a table.
fn is_determiner(word: &[u8]) -> bool {
    let mut buf = [0u8; 8];
    matches!(
        crate::ascii::lower_into(word, &mut buf),
        Some(
            b"the"
                | b"a"
                | b"an"
                | b"this"
                | b"that"
                | b"these"
                | b"those"
                | b"your"
                | b"my"
                | b"our"
                | b"his"
                | b"her"
                | b"their"
                | b"each"
                | b"any"
                | b"all"
                | b"every"
                | b"here"
                | b"there"
                | b"home"
                | b"below"
                | b"above"
        )
    )
}

/// Finds `FROM <name>` within a few tokens of `j` where the name ends the statement.
fn from_clause(c: &Ctx, j: usize) -> Option<usize> {
    for k in j..(j + 12).min(c.t.len()) {
        let tok = &c.t[k];
        // A column list, not prose: no two bare words in a row ("select a compiler from"),
        // and parentheses only for calls.
        if k > j {
            let prev = &c.t[k - 1];
            let bare_word =
                tok.class == Class::Word || (tok.class == Class::Func && !tok.has(TIGHT));
            if prev.class == Class::Word && (bare_word || tok.class == Class::LParen) {
                return None;
            }
        }
        if tok.class == Class::Semi || tok.is_kw(Kw::Union) {
            return None;
        }
        if tok.is_kw(Kw::From) {
            let table = c.get(k + 1)?;
            if !matches!(table.class, Class::Word | Class::Func | Class::LParen) {
                return None;
            }
            if table.class == Class::LParen {
                return c.is_kw(k + 2, Kw::Select).then_some(k + 2);
            }
            // "select one from the list": English determiners are not table names.
            if is_determiner(c.text(table)) {
                return None;
            }
            let ok = match c.get(k + 2) {
                None => true,
                Some(n) => {
                    table.has(COMMENT_AFTER)
                        || matches!(
                            n.class,
                            Class::Semi | Class::RParen | Class::Comma | Class::LParen
                        )
                        || (n.class == Class::Str && !n.has(CLOSED))
                        || (n.class == Class::Keyword
                            && matches!(
                                n.kw,
                                Kw::Where
                                    | Kw::Limit
                                    | Kw::Order
                                    | Kw::Group
                                    | Kw::Union
                                    | Kw::Join
                                    | Kw::Into
                                    | Kw::Having
                                    | Kw::Offset
                                    | Kw::And
                                    | Kw::Or
                            ))
                }
            };
            return ok.then_some(k + 1);
        }
    }
    None
}

/// `SELECT` that is not part of `UNION SELECT`: at the start of the value, after a breakout,
/// or as a subquery operand `(SELECT …)`.
fn select_in_context(c: &Ctx, i: usize) -> Option<Hit> {
    if i > 0 && c.is_kw(i - 1, Kw::Union) {
        return None;
    }
    let prev = if i == 0 { None } else { c.get(i - 1) };
    match prev {
        None => {
            let end = select_columns(c, i + 1, true)?;
            c.hit(STATEMENT, i, end)
        }
        Some(p) if p.class == Class::LParen => {
            let before = if i >= 2 { c.get(i - 2) } else { None };
            let operand = before.is_none_or(|b| {
                b.is_logic()
                    || b.is_cmp()
                    || matches!(
                        b.class,
                        Class::Op | Class::Comma | Class::LParen | Class::Func
                    )
                    || b.has(BREAKOUT)
                    || (b.class == Class::Keyword
                        && matches!(b.kw, Kw::Not | Kw::Select | Kw::When | Kw::Then | Kw::Else))
            });
            if !operand {
                return None;
            }
            let end = select_columns(c, i + 1, before.is_none())?;
            c.hit(SUBQUERY, i - 1, end)
        }
        Some(p) if p.has(BREAKOUT) || p.is_logic() || p.is_cmp() => {
            let end = select_columns(c, i + 1, p.has(BREAKOUT) || !c.breakout)?;
            c.hit(SUBQUERY, i - 1, end)
        }
        _ => None,
    }
}

/// A statement keyword at the very start of the value (or right after the breakout literal).
fn statement_start(c: &Ctx, i: usize) -> bool {
    i == 0 || (i == 1 && c.breakout)
}

/// Checks that a statement starts at `j` (after `;` or at the start) and returns the index of
/// the last token that proves it.
fn statement(c: &Ctx, j: usize) -> Option<usize> {
    let tok = c.get(j)?;
    match tok.class {
        Class::Keyword => match tok.kw {
            Kw::Select => select_columns(c, j + 1, j == 0),
            // `insert into users values (…)` / `(cols)` / `select …`, not "insert into chart".
            Kw::Insert => (c.is_kw(j + 1, Kw::Into)
                && matches!(c.class(j + 2), Some(Class::Word | Class::Func))
                && (c.class(j + 3) == Some(Class::LParen)
                    || c.is_kw(j + 3, Kw::Values)
                    || c.is_kw(j + 3, Kw::Select)
                    || c.is_kw(j + 3, Kw::Set)))
            .then_some(j + 3),
            // `update users set role=…`, not "update chart set to reflect".
            Kw::Update => (c.class(j + 1) == Some(Class::Word)
                && c.is_kw(j + 2, Kw::Set)
                && matches!(c.class(j + 3), Some(Class::Word | Class::Var))
                && c.class(j + 4) == Some(Class::Cmp))
            .then_some(j + 4),
            Kw::Delete => {
                if !c.is_kw(j + 1, Kw::From) {
                    return None;
                }
                let table = c.get(j + 2)?;
                (table.class == Class::Word && c.terminated_after(j + 2)
                    || c.is_kw(j + 3, Kw::Where))
                .then_some(j + 2)
            }
            Kw::Drop | Kw::Create | Kw::Alter | Kw::Truncate => {
                let obj = c.get(j + 1)?;
                if tok.kw == Kw::Truncate && obj.class == Class::Word && c.terminated_after(j + 1) {
                    return Some(j + 1);
                }
                // `DROP TABLE users`, `CREATE USER x IDENTIFIED`, not "create table of contents".
                let alter_action = tok.kw == Kw::Alter
                    && c.get(j + 3).is_some_and(|a| {
                        let w = c.text(a).to_ascii_lowercase();
                        matches!(
                            w.as_slice(),
                            b"add" | b"change" | b"modify" | b"rename" | b"drop" | b"alter"
                        )
                    });
                let named = matches!(c.class(j + 2), Some(Class::Word | Class::Func))
                    && (alter_action
                        || c.terminated_after(j + 2)
                        || matches!(c.class(j + 3), Some(Class::LParen | Class::Keyword)));
                (obj.is_kw(Kw::Object) && named).then_some(j + 2)
            }
            Kw::Exec => {
                let next = c.get(j + 1)?;
                let ok = match next.class {
                    Class::Word | Class::Func => {
                        let w = c.text(next).to_ascii_lowercase();
                        w.starts_with(b"xp_")
                            || w.starts_with(b"sp_")
                            || w == b"master"
                            || w.starts_with(b"master.")
                            || w.starts_with(b"dbo.")
                            || is_catalog_name(&w)
                            || c.class(j + 2) == Some(Class::Var)
                    }
                    Class::Var => true,
                    // `exec('…')`, `exec(@q)`
                    Class::LParen => matches!(c.class(j + 2), Some(Class::Str | Class::Var)),
                    _ => false,
                };
                ok.then_some(j + 1)
            }
            Kw::Declare => (c.class(j + 1) == Some(Class::Var)).then_some(j + 1),
            Kw::Set => (c.class(j + 1) == Some(Class::Var) && c.class(j + 2) == Some(Class::Cmp))
                .then_some(j + 2),
            Kw::Shutdown => c.terminated_after(j).then_some(j),
            Kw::Waitfor => {
                let next = c.get(j + 1)?;
                (next.is_kw(Kw::Delay) || c.text(next).eq_ignore_ascii_case(b"time"))
                    .then_some(j + 1)
            }
            _ => None,
        },
        // `;SELECT` is the common case, handled above; a `;` followed by a delay call is also
        // a stacked query (`;pg_sleep(5)--` is not valid, but `;sleep(5)` is in some stacks).
        Class::Func if is_delay_function(c.text(tok)) => Some(j),
        _ => None,
    }
}

/// `sleep(5)`, `pg_sleep(5)`, `benchmark(5000000,md5(1))` in an expression position.
fn delay_call(c: &Ctx, i: usize) -> bool {
    // The argument must be numeric or an expression, not prose (`sleep (8 hours)`).
    let mut j = i + 1;
    if c.class(j) != Some(Class::LParen) {
        return false;
    }
    j += 1;
    let arg_ok = match c.get(j) {
        Some(a) => match a.class {
            Class::Num => matches!(
                c.class(j + 1),
                Some(Class::RParen | Class::Comma | Class::Op)
            ),
            Class::LParen | Class::Func | Class::Var => true,
            Class::Keyword => a.kw == Kw::Select,
            _ => false,
        },
        None => false,
    };
    let prev = if i == 0 { None } else { c.get(i - 1) };
    if !arg_ok && !prev.is_some_and(|p| p.has(BREAKOUT)) {
        return false;
    }
    let Some(prev) = prev else {
        return true;
    };
    prev.is_logic()
        || prev.is_cmp()
        || prev.has(BREAKOUT)
        || matches!(
            prev.class,
            Class::Op | Class::LParen | Class::Comma | Class::Semi | Class::Str
        )
        || (prev.class == Class::Keyword
            && matches!(
                prev.kw,
                Kw::Select
                    | Kw::Then
                    | Kw::Else
                    | Kw::When
                    | Kw::Not
                    | Kw::Where
                    | Kw::Having
                    | Kw::From
                    | Kw::By
            ))
}

fn attack_call_context(c: &Ctx, i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let prev = &c.t[i - 1];
    prev.class != Class::Word
}

/// Database catalogues and dangerous procedures next to SQL syntax.
fn catalog(c: &Ctx, i: usize) -> Option<Hit> {
    let tok = &c.t[i];
    // The cheap condition first: most tokens of most values fail it.
    if !(c.sql_words || tok.class == Class::Func) {
        return None;
    }
    let text = c.text(tok);
    // Every catalog name has at least 7 bytes, so neither a shorter token nor any part of it
    // can be one (most words of any text end here, without a call).
    if text.len() < 7 || !names_catalog(text) {
        return None;
    }
    c.hit(CATALOG, i, i)
}

/// A token that is a catalog name, quoted or qualified (`` `sysobjects` ``,
/// `information_schema.tables`).
// Kept out of line: [`catalog`] runs on every word of a value and returns early for almost all
// of them, which is cheaper without this body's register saves.
#[inline(never)]
fn names_catalog(text: &[u8]) -> bool {
    // Quoted identifiers: `` `information_schema` ``, `[sysobjects]`.
    let text = text
        .strip_prefix(b"`")
        .or_else(|| text.strip_prefix(b"["))
        .map_or(text, |t| {
            t.strip_suffix(b"`")
                .or_else(|| t.strip_suffix(b"]"))
                .unwrap_or(t)
        });
    if !may_name_catalog(text) {
        return false;
    }
    // A name without a dot is its own only part: one lookup.
    is_catalog_name(text)
        || (text.contains(&b'.')
            && text
                .split(|&b| b == b'.')
                .filter(|p| !p.is_empty())
                .any(is_catalog_name))
}

/// `ORDER BY 3--`, `ORDER BY 1,2,3#`: column-count probing.
fn order_by(c: &Ctx, i: usize) -> Option<Hit> {
    let mut j = i + 2;
    if c.class(j) != Some(Class::Num) {
        return None;
    }
    while c.class(j + 1) == Some(Class::Comma) && c.class(j + 2) == Some(Class::Num) {
        j += 2;
    }
    let cut = c.get(j).is_some_and(|t| t.has(COMMENT_AFTER))
        || ((c.injection_context() || i == 0 || prev_is_operand_start(c, i))
            && c.terminated_after(j));
    if cut {
        return c.hit(ORDER_BY, i, j);
    }
    None
}

/// A literal operand: number, string, TRUE/FALSE/NULL.
fn literal(c: &Ctx, tok: &Token) -> Option<Literal> {
    match tok.class {
        Class::Num => Some(Literal::Num(parse_num(c.text(tok)))),
        Class::Str => {
            let text = c.text(tok);
            let q = *text.first()?;
            if tok.has(BREAKOUT) {
                return None;
            }
            let body = text.get(1..)?;
            let body = if tok.has(CLOSED) {
                body.get(..body.len().saturating_sub(1))?
            } else if c.breakout {
                body
            } else {
                return None;
            };
            if q != b'\'' && q != b'"' {
                return None;
            }
            Some(Literal::Str(body.to_vec()))
        }
        Class::Keyword => match tok.kw {
            Kw::True => Some(Literal::Num(Some(1.0))),
            Kw::False => Some(Literal::Num(Some(0.0))),
            Kw::Null => Some(Literal::Null),
            _ => None,
        },
        _ => None,
    }
}

#[derive(Debug, PartialEq)]
enum Literal {
    Num(Option<f64>),
    Str(Vec<u8>),
    Null,
}

fn parse_num(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    s.trim_end_matches(['e', 'E']).parse().ok()
}

/// Evaluates `a <op> b` for literal operands; `None` when it cannot tell.
fn compare(op: &[u8], a: &Literal, b: &Literal) -> Option<bool> {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Literal::Num(Some(x)), Literal::Num(Some(y))) => x.partial_cmp(y)?,
        (Literal::Str(x), Literal::Str(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
        (Literal::Null, Literal::Null) => Ordering::Equal,
        _ => return None,
    };
    let op = op.to_ascii_lowercase();
    Some(match op.as_slice() {
        b"=" | b"<=>" | b"like" | b"is" | b"regexp" | b"rlike" | b"sounds" => {
            ord == Ordering::Equal
        }
        b"!=" | b"<>" => ord != Ordering::Equal,
        b"<" => ord == Ordering::Less,
        b">" => ord == Ordering::Greater,
        b"<=" => ord != Ordering::Greater,
        b">=" => ord != Ordering::Less,
        _ => return None,
    })
}

/// After a boolean operator (or HAVING/WHERE/WHEN): `1=1`, `'a'='a`, `(1)=(1)`, `2>1`, `true`,
/// `not 0`, `a=a` … Comparisons of two literals fire when true; when false (`and 1=2`) or for a
/// bare truthy literal (`or 1`, `or true`), the value must also be shaped like an injection.
/// A boolean operator followed by a function call and a comparison (`and ascii(substr(…))>64`)
/// in an injection-shaped value is a blind-injection probe.
fn tautology(c: &Ctx, i: usize) -> Option<Hit> {
    let mut j = i + 1;
    let mut negated = false;
    while c.class(j) == Some(Class::LParen) {
        j += 1;
    }
    if c.is_kw(j, Kw::Not) || c.is_op(j, b"!") {
        negated = true;
        j += 1;
    }
    // Parentheses and unary signs around the operand: `(1)`, `+1`, `-(8)`.
    let mut signed = false;
    while c.class(j) == Some(Class::LParen) || c.is_op(j, b"+") || c.is_op(j, b"-") {
        signed |= c.class(j) == Some(Class::Op);
        j += 1;
    }
    let a_tok = c.get(j)?;
    let mut op_at = j + 1;
    while c.class(op_at) == Some(Class::RParen) {
        op_at += 1;
    }
    let shaped = c.injection_context() || prev_is_operand_start(c, i) || i == 0;
    let op_tok = c.get(op_at);
    // Comparison form.
    if let Some(op_tok) = op_tok.filter(|o| o.is_cmp() && o.kw != Kw::Between && o.kw != Kw::In) {
        let mut k = op_at + 1;
        if c.is_kw(k, Kw::Not) {
            k += 1;
        }
        while c.class(k) == Some(Class::LParen) || c.is_op(k, b"+") || c.is_op(k, b"-") {
            k += 1;
        }
        let b_tok = c.get(k)?;
        let op_text = c.text(op_tok);
        if let (Some(a), Some(b)) = (literal(c, a_tok), literal(c, b_tok)) {
            let truth = compare(op_text, &a, &b);
            // `IS` only compares with NULL/TRUE/FALSE ("when 'term' is \"tmux\"" is prose).
            if op_tok.is_kw(Kw::Is)
                && !b_tok.is_kw(Kw::Null)
                && !b_tok.is_kw(Kw::True)
                && !b_tok.is_kw(Kw::False)
            {
                return None;
            }
            // WHERE/WHEN/HAVING are also English ("when '\\377' < 0", "where \"a\" != \"b\""):
            // after them only an injection-shaped value counts.
            let clause = c.t[i].class == Class::Keyword
                && matches!(c.t[i].kw, Kw::Where | Kw::When | Kw::Having)
                && !(i > 0 && c.is_kw(i - 1, Kw::Case));
            let case_when = i > 0 && c.is_kw(i - 1, Kw::Case);
            let loose = shaped || case_when || c.terminated_after(k);
            if clause && !c.injection_context() {
                return None;
            }
            if (truth == Some(true) && !negated) || loose {
                return c.hit(TAUTOLOGY, i, k);
            }
            return None;
        }
        // `AND 5650=CONVERT(INT,(…))#`: a literal compared with a call, cut off by a comment.
        if literal(c, a_tok).is_some()
            && b_tok.class == Class::Func
            && b_tok.has(TIGHT)
            && (c.injection_context()
                || prev_is_operand_start(c, i)
                || (i == 0 && c.lexed.any_comment))
        {
            return c.hit(BOOLEAN_PROBE, i, k);
        }
        // `or a=a` (identifiers) in an injection-shaped value.
        if a_tok.class == Class::Word
            && b_tok.class == Class::Word
            && c.text(a_tok).eq_ignore_ascii_case(c.text(b_tok))
            && op_text == b"="
            && c.injection_context()
        {
            return c.hit(TAUTOLOGY, i, k);
        }
    }
    // Bare truthy literal: `or 1`, `or true`, `or not 0`, and `or '1` closed by the application.
    let bare = match literal(c, a_tok) {
        Some(Literal::Num(Some(v))) => {
            Some((v, c.text(a_tok) == b"1" || a_tok.class == Class::Keyword))
        }
        Some(Literal::Str(body)) if body == b"1" => Some((1.0, true)),
        _ => None,
    };
    // ("or -1" ends many prose sentences about return values: signs only count in comparisons.)
    if let Some((v, canonical)) = bare.filter(|_| !signed) {
        let truthy = (v != 0.0) != negated && canonical;
        if truthy
            && c.terminated_after(j)
            && (c.injection_context() || a_tok.has(COMMENT_AFTER) || prev_is_operand_start(c, i))
        {
            return c.hit(TAUTOLOGY, i, j);
        }
    }
    // Blind probe: `1 and ascii(substring(user(),1,1))>64`, `' and length(database())=8--`.
    if (prev_is_operand_start(c, i) || c.injection_context())
        && a_tok.class == Class::Func
        && a_tok.has(TIGHT)
    {
        let mut depth = 0usize;
        for k in j + 1..c.t.len().min(j + 64) {
            match c.t[k].class {
                Class::LParen => depth += 1,
                Class::RParen => {
                    if depth <= 1 {
                        // The call closed: a comparison must follow.
                        let next = c.get(k + 1);
                        // The call closed: a comparison with a literal must follow (`)>64`).
                        let operand = c.get(k + 2);
                        if next.is_some_and(|n| n.class == Class::Cmp || n.is_kw(Kw::Like))
                            && operand.is_some_and(|o| literal(c, o).is_some())
                        {
                            return c.hit(BOOLEAN_PROBE, i, k + 1);
                        }
                        return None;
                    }
                    depth -= 1;
                }
                _ => {}
            }
        }
    }
    None
}

/// `pg_sleep(5)`, `dbms_lock.sleep(5)`: names no prose uses, with a numeric argument.
fn unambiguous_delay(c: &Ctx, i: usize) -> bool {
    let name = c.text(&c.t[i]).to_ascii_lowercase();
    name != b"sleep"
        && c.t[i].has(TIGHT)
        && c.class(i + 1) == Some(Class::LParen)
        && c.class(i + 2) == Some(Class::Num)
        && c.class(i + 3) == Some(Class::RParen)
}

/// `IF(1=2,…)`, `IIF(2510=9436,…)`, `IF((6681=9099),SELECT …)`: a conditional whose test compares
/// two literals — sqlmap's boolean probes.
fn conditional_probe(c: &Ctx, i: usize) -> Option<Hit> {
    let name = c.text(&c.t[i]).to_ascii_lowercase();
    if !matches!(name.as_slice(), b"if" | b"iif" | b"ifnull" | b"nullif") || !c.t[i].has(TIGHT) {
        return None;
    }
    let mut j = i + 1;
    while c.class(j) == Some(Class::LParen) {
        j += 1;
    }
    let (a, op, b) = (c.get(j)?, c.get(j + 1)?, c.get(j + 2)?);
    (literal(c, a).is_some() && op.class == Class::Cmp && literal(c, b).is_some()).then_some(())?;
    c.hit(BOOLEAN_PROBE, i, j + 2)
}

/// `version()`, `user()`, `database(` cut off — identity probes in an expression position.
fn info_call(c: &Ctx, i: usize) -> bool {
    if !c.t[i].has(TIGHT) || c.class(i + 1) != Some(Class::LParen) {
        return false;
    }
    let empty = matches!(c.class(i + 2), None | Some(Class::RParen));
    if !empty {
        return false;
    }
    // The call is an operand: nothing or an operator follows (`version():` in prose does not).
    let after = c.get(i + 3);
    let operand_end = empty_close(c, i)
        && after.is_none_or(|a| {
            a.is_cmp()
                || a.is_logic()
                || a.class == Class::Semi
                || a.class == Class::RParen
                || a.class == Class::Comma
                || (a.class == Class::Op && !matches!(c.text(a), b":" | b"::"))
        });
    if i == 0 {
        return operand_end || c.class(i + 2).is_none();
    }
    let prev = &c.t[i - 1];
    if c.text(prev) == b"::" {
        // `Git::version()`: a method, not SQL.
        return false;
    }
    // (`->` is a JSON operator in PostgreSQL but a method arrow in Perl/PHP prose.)
    prev.is_logic()
        || (prev.is_cmp() && !c.text(prev).starts_with(b"-"))
        || prev.has(BREAKOUT)
        || matches!(
            prev.class,
            Class::LParen | Class::Comma | Class::Op | Class::Semi
        )
        || (prev.class == Class::Keyword
            && matches!(
                prev.kw,
                Kw::Select | Kw::Union | Kw::Where | Kw::Having | Kw::Then
            ))
}

/// `` x AS `alias` FROM ``, `1234 AS "alias" FROM t`: the tail of a select list. Prose has
/// "known as \"Bud\" from", so a double-quoted alias needs a number before `AS`.
fn alias_from(c: &Ctx, i: usize) -> Option<Hit> {
    let alias = c.get(i + 1)?;
    if !c.is_kw(i + 2, Kw::From) {
        return None;
    }
    let text = c.text(alias);
    let backtick = alias.class == Class::Word && text.first() == Some(&b'`');
    let quoted_after_number = alias.class == Class::Str
        && text.first() == Some(&b'"')
        && i > 0
        && c.class(i - 1) == Some(Class::Num);
    (backtick || quoted_after_number).then_some(())?;
    c.hit(STATEMENT, i, i + 2)
}

/// `'x'!='y`: the whole value compares two literals and leaves a quote for the application to
/// close — a tautology written for a quoted context.
fn leading_comparison(c: &Ctx) -> Option<Hit> {
    if c.breakout || c.t.len() != 3 {
        return None;
    }
    let (a, op, b) = (&c.t[0], &c.t[1], &c.t[2]);
    if a.class != Class::Str
        || !a.has(CLOSED)
        || !op.is_cmp()
        || b.class != Class::Str
        || b.has(CLOSED)
    {
        return None;
    }
    let body = |t: &Token| {
        let s = c.text(t);
        let inner = s.get(1..).unwrap_or(&[]);
        if t.has(CLOSED) {
            inner
                .get(..inner.len().saturating_sub(1))
                .unwrap_or(&[])
                .to_vec()
        } else {
            inner.to_vec()
        }
    };
    let truth = compare(c.text(op), &Literal::Str(body(a)), &Literal::Str(body(b)));
    (truth == Some(true)).then_some(())?;
    c.hit(TAUTOLOGY, 0, 2)
}

/// `f()` with nothing between the parentheses.
fn empty_close(c: &Ctx, i: usize) -> bool {
    c.class(i + 1) == Some(Class::LParen) && c.class(i + 2) == Some(Class::RParen)
}

/// MySQL's `1.e(` / `1.e.tables` trick: a number with a bare exponent glued to `(` or a name
/// makes the parser skip it, hiding keywords from naive filters.
fn numeric_bypass(c: &Ctx, i: usize) -> Option<Hit> {
    let tok = &c.t[i];
    let text = c.text(tok);
    // `1.e`: digits, a dot and a bare exponent (a version such as `2.0e` is not it).
    let bare_exponent = text.len() >= 3
        && (text.ends_with(b".e") || text.ends_with(b".E"))
        && text.first().is_some_and(u8::is_ascii_digit);
    if !bare_exponent {
        return None;
    }
    let next = c.input.get(tok.end).copied();
    if matches!(next, Some(b'(' | b'.' | b')' | b',')) {
        return c.hit(NUMERIC_BYPASS, i, i);
    }
    None
}

/// The operator at `i` follows a value that opens the input: `1 or …`, `1) or (…`, `-1 or`.
fn prev_is_operand_start(c: &Ctx, i: usize) -> bool {
    let mut k = i;
    while k > 0 && c.class(k - 1) == Some(Class::RParen) {
        k -= 1;
    }
    if k == 0 {
        return false;
    }
    let prev = &c.t[k - 1];
    let starts = k - 1 == 0 || (k - 1 == 1 && c.is_op(0, b"-"));
    (prev.class == Class::Num && starts) || prev.has(BREAKOUT)
}
