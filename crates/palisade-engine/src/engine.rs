//! The compiled engine and per-request transactions.
//!
//! Compilation groups rules by transform pipeline into *views*. Each view has one Aho-Corasick
//! automaton over the literals of all its rules (ASCII case-insensitive); a leaf is transformed
//! once per view, scanned once, and only the rules whose literals hit (plus the few without
//! literals) run their regex or detector. Regexes are `regex`-crate automata: linear time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::config::{EngineConfig, MAX_HITS};
use crate::decode::{self, Limits, Sink};
use crate::detect;
use crate::error::RuleError;
use crate::leaf::{FieldKind, Leaf, Location};
use crate::request::{decoded_path, host_is_ip, split_target, RequestHead, TargetForm};
use crate::rule::{parse_source, Matcher, Rule, RuleSource};
use crate::signal::Signal;
use crate::transform::{apply_all, Transform};
use crate::user::{Exclusion, UserRules};
use crate::verdict::{mask_snippet, RuleHit, Verdict};

/// One transform pipeline and the rules that match through it.
#[derive(Debug)]
struct View {
    transforms: Vec<Transform>,
    names: Vec<&'static str>,
    ac: Option<AhoCorasick>,
    /// Pattern id → rule indexes.
    pattern_rules: Vec<Vec<u32>>,
    /// Rules without literals: candidates for every leaf in their targets.
    always: Vec<u32>,
    /// Union of the rules' location masks.
    mask: u32,
    /// Union of the rules' field masks.
    field_mask: u8,
    /// Header names any rule targets (empty + `all_headers` = every header).
    all_headers: bool,
    header_names: Vec<String>,
}

/// A compiled, immutable rule engine. `Send + Sync`: share it in an `Arc` and swap it atomically
/// when rules change.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    views: Vec<View>,
    signal_rules: Vec<Vec<u32>>,
    exclusions: Vec<Exclusion>,
    config: EngineConfig,
    version: String,
}

fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Engine {
    /// Compiles rulesets plus user rules and exclusions for a configuration. Rules above the
    /// configured paranoia level and rules disabled by a global exclusion are left out.
    pub fn compile(
        sources: &[RuleSource],
        user: &UserRules,
        config: &EngineConfig,
    ) -> Result<Engine, RuleError> {
        config.validate()?;
        let mut all: Vec<Rule> = Vec::new();
        let mut seen: HashMap<u32, String> = HashMap::new();
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for src in sources {
            hash = fnv1a(hash, src.name.as_bytes());
            hash = fnv1a(hash, src.yaml.as_bytes());
            for rule in parse_source(&src.name, &src.yaml)? {
                if let Some(prev) = seen.insert(rule.id, src.name.to_string()) {
                    return Err(RuleError::new(
                        &src.name,
                        format!("duplicate rule id (also in {prev})"),
                    )
                    .rule(rule.id)
                    .key("id")
                    .at_line(crate::error::line_of_rule_id(&src.yaml, rule.id)));
                }
                all.push(rule);
            }
        }
        for rule in &user.rules {
            if let Some(prev) = seen.insert(rule.id, crate::user::USER_SOURCE.to_string()) {
                return Err(RuleError::new(
                    crate::user::USER_SOURCE,
                    format!("rule id already used in {prev}"),
                )
                .rule(rule.id)
                .key("id"));
            }
            all.push(rule.clone());
        }
        for ex in &user.exclusions {
            for id in &ex.rule_ids {
                if !seen.contains_key(id) {
                    return Err(RuleError::new(
                        crate::user::USER_SOURCE,
                        format!("rule {id} does not exist"),
                    )
                    .key(&format!("exclusions[{}].rule", ex.index))
                    .at_line(ex.line));
                }
            }
        }
        let globally_disabled = |r: &Rule| {
            user.exclusions
                .iter()
                .any(|e| e.is_global() && e.covers_rule(r.id, &r.category))
        };
        let rules: Vec<Rule> = all
            .into_iter()
            .filter(|r| r.paranoia <= config.paranoia && !globally_disabled(r))
            .collect();

        // Group pattern rules by pipeline.
        let mut views: Vec<View> = Vec::new();
        let mut literal_sets: Vec<(Vec<String>, HashMap<String, usize>)> = Vec::new();
        let mut signal_rules: Vec<Vec<u32>> = vec![Vec::new(); Signal::ALL.len()];
        for (idx, rule) in rules.iter().enumerate() {
            let idx = idx as u32;
            let literals = match &rule.matcher {
                Matcher::Signal(s) => {
                    signal_rules[s.index()].push(idx);
                    continue;
                }
                Matcher::Pattern { literals, .. } => literals,
            };
            let vi = match views.iter().position(|v| v.transforms == rule.transforms) {
                Some(vi) => vi,
                None => {
                    views.push(View {
                        transforms: rule.transforms.clone(),
                        names: rule.transforms.iter().map(|t| t.name()).collect(),
                        ac: None,
                        pattern_rules: Vec::new(),
                        always: Vec::new(),
                        mask: 0,
                        field_mask: 0,
                        all_headers: false,
                        header_names: Vec::new(),
                    });
                    literal_sets.push((Vec::new(), HashMap::new()));
                    views.len() - 1
                }
            };
            let view = &mut views[vi];
            view.mask |= rule.targets.mask;
            view.field_mask |= rule.field_mask;
            view.all_headers |= rule.targets.all_headers;
            for h in &rule.targets.header_names {
                if !view.header_names.contains(h) {
                    view.header_names.push(h.clone());
                }
            }
            if literals.is_empty() {
                view.always.push(idx);
                continue;
            }
            let (pats, index) = &mut literal_sets[vi];
            for lit in literals {
                let key = lit.to_ascii_lowercase();
                let pid = *index.entry(key.clone()).or_insert_with(|| {
                    pats.push(key);
                    view.pattern_rules.push(Vec::new());
                    pats.len() - 1
                });
                if !view.pattern_rules[pid].contains(&idx) {
                    view.pattern_rules[pid].push(idx);
                }
            }
        }
        for (view, (pats, _)) in views.iter_mut().zip(literal_sets) {
            if pats.is_empty() {
                continue;
            }
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&pats)
                .map_err(|e| RuleError::new("rulesets", format!("literal automaton: {e}")))?;
            view.ac = Some(ac);
        }
        let version = format!("{}+{:016x}", env!("CARGO_PKG_VERSION"), hash);
        let mut exclusions: Vec<Exclusion> = user
            .exclusions
            .iter()
            .filter(|e| !e.is_global())
            .cloned()
            .collect();
        exclusions.shrink_to_fit();
        Ok(Engine {
            rules,
            views,
            signal_rules,
            exclusions,
            config: config.clone(),
            version,
        })
    }

    /// Compiles the embedded rulesets with no user rules at the given config.
    pub fn with_embedded(config: &EngineConfig) -> Result<Engine, RuleError> {
        Engine::compile(crate::embedded_rulesets(), &UserRules::empty(), config)
    }

    /// Number of active rules (after paranoia and global exclusions).
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Number of views (distinct transform pipelines) — one literal scan per view per leaf.
    pub fn view_count(&self) -> usize {
        self.views.len()
    }

    /// Ruleset version for logs: crate version + hash of every rule source.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The configuration this engine was compiled for.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Whether a body of this content type is worth buffering: `false` for binary media
    /// (images, PDF, archives, octet-stream), `true` otherwise (including no content type).
    pub fn wants_body(&self, content_type: Option<&[u8]>) -> bool {
        decode::body_kind(content_type) != decode::BodyKind::Binary
    }

    /// Starts inspecting one request.
    pub fn transaction(&self) -> Transaction<'_> {
        Transaction {
            engine: self,
            verdict: Verdict::default(),
            fired: Vec::new(),
            cands: Vec::new(),
            active_exclusions: Vec::new(),
            leaves: 0,
            signals_seen: 0,
        }
    }
}

/// Inspection state for one request. Reuse is not needed: creating one does not allocate.
#[derive(Debug)]
pub struct Transaction<'e> {
    engine: &'e Engine,
    verdict: Verdict,
    /// Rule indexes already scored.
    fired: Vec<u32>,
    /// Candidate scratch: (rule index, literal match range).
    cands: Vec<(u32, Range<usize>)>,
    active_exclusions: Vec<usize>,
    leaves: usize,
    signals_seen: u64,
}

fn lowercase_name(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

impl<'e> Transaction<'e> {
    /// Inspects method, path, query, headers and cookies.
    pub fn inspect_head(&mut self, head: &RequestHead<'_>) {
        let (form, path, query) = split_target(head.target);
        if !self.engine.exclusions.is_empty() {
            let p = decoded_path(path);
            self.active_exclusions = self
                .engine
                .exclusions
                .iter()
                .enumerate()
                .filter(|(_, e)| e.applies_to_request(head.method, &p))
                .map(|(i, _)| i)
                .collect();
        }
        self.leaf(Leaf {
            location: Location::Method,
            name: "",
            value: head.method.as_bytes(),
            field: FieldKind::Generic,
        });
        if form == TargetForm::Invalid {
            self.signal(Signal::InvalidTarget, Location::Path, "");
        }
        if path.iter().any(|&b| b < 0x20 || b == 0x7f) {
            self.signal(Signal::PathControlChar, Location::Path, "");
        }
        self.leaf(Leaf {
            location: Location::Path,
            name: "",
            value: path,
            field: FieldKind::Generic,
        });
        if let Some(q) = query {
            decode::form::decode_form(q, Location::Query, self);
        }
        let mut host_seen = false;
        let mut content_lengths: Option<&[u8]> = None;
        let mut transfer_encoding = false;
        for &(name, value) in head.headers {
            let lname = lowercase_name(name);
            if value.iter().any(|&b| b == b'\r' || b == b'\n') {
                self.signal(Signal::HeaderNewline, Location::Header, &lname);
            }
            match lname.as_ref() {
                "host" => {
                    host_seen = true;
                    if host_is_ip(value) {
                        self.signal(Signal::HostIsIp, Location::Header, "host");
                    }
                }
                "content-length" => {
                    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                        self.signal(
                            Signal::InvalidContentLength,
                            Location::Header,
                            "content-length",
                        );
                    }
                    if content_lengths.is_some_and(|prev| prev != value) {
                        self.signal(Signal::AmbiguousLength, Location::Header, "content-length");
                    }
                    content_lengths = Some(value);
                }
                "transfer-encoding" => transfer_encoding = true,
                // Upload helpers send the file name in a header; it is a file name to the rules.
                "x-filename" | "x-file-name" | "x_filename" | "x.filename"
                | "x-upload-filename" | "x_file_name" | "x.file_name" => {
                    self.leaf(Leaf {
                        location: Location::Filename,
                        name: &lname,
                        value,
                        field: FieldKind::Generic,
                    });
                }
                "cookie" => {
                    self.cookies(value);
                    continue;
                }
                _ => {}
            }
            self.leaf(Leaf {
                location: Location::Header,
                name: &lname,
                value,
                field: FieldKind::Generic,
            });
        }
        if content_lengths.is_some() && transfer_encoding {
            self.signal(
                Signal::AmbiguousLength,
                Location::Header,
                "transfer-encoding",
            );
        }
        if !host_seen && form != TargetForm::Absolute {
            self.signal(Signal::MissingHost, Location::Header, "host");
        }
    }

    fn cookies(&mut self, header: &[u8]) {
        for pair in header.split(|&b| b == b';') {
            let pair = decode::trim(pair);
            if pair.is_empty() {
                continue;
            }
            let (n, v) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &b""[..]),
            };
            let name = String::from_utf8_lossy(n);
            self.leaf(Leaf {
                location: Location::CookieName,
                name: &name,
                value: n,
                field: FieldKind::Generic,
            });
            let value = crate::transform::url_decode::url_decode_once(v, false);
            self.leaf(Leaf {
                location: Location::Cookie,
                name: &name,
                value: &value,
                field: FieldKind::Generic,
            });
        }
    }

    /// Inspects a buffered body (up to `max_inspect_body` bytes), decoded by its content type.
    pub fn inspect_body(&mut self, content_type: Option<&[u8]>, body: &[u8]) {
        let body = &body[..body.len().min(self.engine.config.max_inspect_body)];
        if body.is_empty() {
            return;
        }
        let kind = decode::body_kind(content_type);
        let limits = Limits {
            max_depth: self.engine.config.max_depth,
            inspect_file_contents: self.engine.config.inspect_file_contents,
        };
        decode::decode_body(kind, content_type.unwrap_or(b""), body, limits, self);
    }

    /// The verdict so far (complete after `inspect_head` and, if any, `inspect_body`).
    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }

    /// Consumes the transaction, returning the verdict.
    pub fn into_verdict(self) -> Verdict {
        self.verdict
    }

    fn excluded(&self, rule: &Rule, target: &str) -> bool {
        self.active_exclusions.iter().any(|&i| {
            let e = &self.engine.exclusions[i];
            e.covers_rule(rule.id, &rule.category) && e.covers_target(target)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        rule_idx: u32,
        leaf: &Leaf<'_>,
        value: &[u8],
        range: Range<usize>,
        transforms: &[&'static str],
        detector: Option<&'static str>,
    ) {
        let engine = self.engine;
        let rule = &engine.rules[rule_idx as usize];
        let target = leaf.target_name();
        if self.excluded(rule, &target) {
            return;
        }
        if !self.fired.contains(&rule_idx) {
            self.fired.push(rule_idx);
            self.verdict.score = self.verdict.score.saturating_add(rule.score);
            self.verdict.blocked = self.verdict.score >= engine.config.anomaly_threshold;
        }
        if self.verdict.hits.len() < MAX_HITS
            && !self
                .verdict
                .hits
                .iter()
                .any(|h| h.rule_id == rule.id && h.target == target)
        {
            self.verdict.hits.push(RuleHit {
                rule_id: rule.id,
                category: rule.category.clone(),
                paranoia: rule.paranoia,
                score: rule.score,
                target,
                snippet: mask_snippet(value, range),
                transforms: transforms.to_vec(),
                message: rule.name.clone(),
                detector,
            });
        }
    }

    fn eval_leaf(&mut self, leaf: &Leaf<'_>) {
        let engine = self.engine;
        let value = &leaf.value[..leaf.value.len().min(engine.config.max_leaf_len)];
        let loc_bit = leaf.location.bit();
        let mut cands = std::mem::take(&mut self.cands);
        for view in &engine.views {
            if view.mask & loc_bit == 0 || view.field_mask & leaf.field.bit() == 0 {
                continue;
            }
            if leaf.location == Location::Header
                && !view.all_headers
                && !view.header_names.iter().any(|h| h == leaf.name)
            {
                continue;
            }
            let v = apply_all(&view.transforms, value);
            cands.clear();
            if let Some(ac) = &view.ac {
                for m in ac.find_overlapping_iter(v.as_ref()) {
                    for &r in &view.pattern_rules[m.pattern().as_usize()] {
                        if !cands.iter().any(|(c, _)| *c == r) {
                            cands.push((r, m.start()..m.end()));
                        }
                    }
                }
            }
            for &r in &view.always {
                cands.push((r, 0..0));
            }
            for (r, lit_range) in cands.drain(..) {
                let rule = &engine.rules[r as usize];
                if !rule.targets.matches(leaf.location, leaf.name)
                    || rule.field_mask & leaf.field.bit() == 0
                {
                    continue;
                }
                let Matcher::Pattern {
                    regex,
                    unless,
                    detector,
                    ..
                } = &rule.matcher
                else {
                    continue;
                };
                let mut range = lit_range;
                if let Some(re) = regex {
                    match re.find(&v) {
                        Some(m) => range = m.range(),
                        None => continue,
                    }
                }
                if unless.as_ref().is_some_and(|u| u.is_match(&v)) {
                    continue;
                }
                let mut fingerprint = None;
                if let Some(d) = detector {
                    let text = String::from_utf8_lossy(&v);
                    match detect::run(*d, &text) {
                        Some(f) => {
                            if matches!(text, Cow::Borrowed(_)) {
                                range = f.span;
                            }
                            fingerprint = Some(f.fingerprint);
                        }
                        None => continue,
                    }
                }
                self.record(r, leaf, &v, range, &view.names, fingerprint);
            }
        }
        self.cands = cands;
    }
}

impl Sink for Transaction<'_> {
    fn leaf(&mut self, leaf: Leaf<'_>) {
        self.leaves += 1;
        if self.leaves > self.engine.config.max_leaves {
            if self.leaves == self.engine.config.max_leaves + 1 {
                self.signal(Signal::LeafLimit, leaf.location, "");
            }
            return;
        }
        let markup = matches!(
            leaf.field,
            FieldKind::Generic | FieldKind::FreeText | FieldKind::Narrative
        ) && !matches!(
            leaf.location,
            Location::Header | Location::Path | Location::Method | Location::ArgName
        ) && crate::fields::looks_like_markup(leaf.value);
        if !markup {
            self.eval_leaf(&leaf);
            return;
        }
        // Rich text: markup rules on the markup, free-text rules on its text content.
        self.eval_leaf(&Leaf {
            field: FieldKind::Narrative,
            ..leaf
        });
        let text = crate::fields::markup_text(leaf.value);
        self.eval_leaf(&Leaf {
            value: &text,
            field: FieldKind::FreeText,
            ..leaf
        });
    }

    fn signal(&mut self, signal: Signal, location: Location, name: &str) {
        let bit = 1u64 << signal.index();
        if self.signals_seen & bit != 0 {
            return;
        }
        self.signals_seen |= bit;
        let engine = self.engine;
        let leaf = Leaf {
            location,
            name,
            value: b"",
            field: FieldKind::Generic,
        };
        for &r in &engine.signal_rules[signal.index()] {
            self.record(r, &leaf, b"", 0..0, &[], Some(signal.name()));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const RULES: &str = r#"
defaults:
  category: test
  targets: [args, path]
  transforms: [url_decode, lowercase]
rules:
  - id: 1
    name: union select
    literals: [union]
    regex: 'union\s+(all\s+)?select'
  - id: 2
    name: passwd
    literals: [etc/passwd]
    transforms: [url_decode, normalize_path]
  - id: 3
    category: ua
    score: 3
    targets: ["headers:user-agent"]
    literals: [sqlmap]
  - id: 4
    name: unless veto
    literals: ["<script"]
    unless: 'nonce='
  - id: 5
    category: proto
    score: 2
    signal: json_malformed
  - id: 6
    paranoia: 2
    literals: [select]
"#;

    fn engine(user: &str) -> Engine {
        let src = [RuleSource::new("t.yml", RULES)];
        let u = UserRules::from_palisade_yml(user).unwrap();
        Engine::compile(&src, &u, &EngineConfig::default()).unwrap()
    }

    fn run(
        e: &Engine,
        target: &[u8],
        headers: &[(&str, &[u8])],
        body: Option<(&[u8], &[u8])>,
    ) -> Verdict {
        let mut tx = e.transaction();
        let mut h: Vec<(&str, &[u8])> = vec![("Host", b"example.org")];
        h.extend_from_slice(headers);
        tx.inspect_head(&RequestHead {
            method: "GET",
            target,
            headers: &h,
        });
        if let Some((ct, b)) = body {
            tx.inspect_body(Some(ct), b);
        }
        tx.into_verdict()
    }

    fn ids(v: &Verdict) -> Vec<u32> {
        v.hits.iter().map(|h| h.rule_id).collect()
    }

    #[test]
    fn literal_plus_regex_confirm() {
        let e = engine("");
        let v = run(&e, b"/?q=1%20UNION%20SELECT%20x", &[], None);
        assert!(v.blocked);
        assert_eq!(ids(&v), vec![1]);
        assert_eq!(v.hits[0].target, "args:q");
        assert_eq!(v.hits[0].transforms, vec!["url_decode", "lowercase"]);
        // Literal alone without the regex shape does not fire.
        let v = run(&e, b"/?q=labor%20union", &[], None);
        assert!(!v.blocked && v.hits.is_empty());
    }

    #[test]
    fn separate_view_for_path_transforms() {
        let e = engine("");
        let v = run(&e, b"/static/..%5c..%5cetc%5cpasswd", &[], None);
        assert_eq!(ids(&v), vec![2]);
        assert_eq!(v.hits[0].target, "path");
    }

    #[test]
    fn header_target_and_score_below_threshold() {
        let e = engine("");
        let v = run(&e, b"/", &[("User-Agent", b"sqlmap/1.7")], None);
        assert_eq!(ids(&v), vec![3]);
        assert_eq!(v.score, 3);
        assert!(!v.blocked);
        assert_eq!(v.hits[0].target, "headers:user-agent");
    }

    #[test]
    fn unless_vetoes() {
        let e = engine("");
        assert_eq!(ids(&run(&e, b"/?a=%3Cscript%3E", &[], None)), vec![4]);
        assert!(run(&e, b"/?a=%3Cscript%20nonce=1%3E", &[], None)
            .hits
            .is_empty());
    }

    #[test]
    fn signal_rules_fire_on_decoder_findings() {
        let e = engine("");
        let v = run(&e, b"/", &[], Some((b"application/json", b"{bad")));
        assert_eq!(ids(&v), vec![5]);
        assert_eq!(v.hits[0].detector, Some("json_malformed"));
    }

    #[test]
    fn paranoia_gates_rules() {
        let e = engine("");
        assert_eq!(e.rule_count(), 5);
        let src = [RuleSource::new("t.yml", RULES)];
        let cfg = EngineConfig {
            paranoia: 2,
            ..EngineConfig::default()
        };
        let e2 = Engine::compile(&src, &UserRules::empty(), &cfg).unwrap();
        assert_eq!(e2.rule_count(), 6);
        assert_eq!(ids(&run(&e2, b"/?q=select", &[], None)), vec![6]);
    }

    #[test]
    fn json_body_leaves_named_by_path() {
        let e = engine("");
        let v = run(
            &e,
            b"/",
            &[],
            Some((b"application/json", br#"{"a":{"b":"1 union select 2"}}"#)),
        );
        assert_eq!(ids(&v), vec![1]);
        assert_eq!(v.hits[0].target, "json:$.a.b");
    }

    #[test]
    fn exclusions_scope_by_path_method_target() {
        let e = engine("exclusions:\n  - rule: 1\n    path: /search\n    targets: [\"args:q\"]\n");
        assert!(run(&e, b"/search?q=union%20select", &[], None)
            .hits
            .is_empty());
        assert_eq!(
            ids(&run(&e, b"/search?other=union%20select", &[], None)),
            vec![1]
        );
        assert_eq!(
            ids(&run(&e, b"/elsewhere?q=union%20select", &[], None)),
            vec![1]
        );
    }

    #[test]
    fn global_exclusion_removes_rule() {
        let e = engine("exclusions:\n  - rule: 1\n");
        assert_eq!(e.rule_count(), 4);
        assert!(run(&e, b"/?q=union%20select", &[], None).hits.is_empty());
    }

    #[test]
    fn user_rule_virtual_patch() {
        let e = engine("rules:\n  - id: 900001\n    category: vpatch\n    targets: [path]\n    literals: [/cgi-bin/legacy.pl]\n");
        assert_eq!(
            ids(&run(&e, b"/cgi-bin/legacy.pl", &[], None)),
            vec![900001]
        );
    }

    #[test]
    fn unknown_exclusion_rule_rejected() {
        let src = [RuleSource::new("t.yml", RULES)];
        let u = UserRules::from_palisade_yml("exclusions:\n  - rule: 4242\n").unwrap();
        let err = Engine::compile(&src, &u, &EngineConfig::default()).unwrap_err();
        assert!(err.to_string().contains("4242"), "{err}");
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn duplicate_ids_rejected() {
        let src = [
            RuleSource::new("a.yml", RULES),
            RuleSource::new("b.yml", RULES),
        ];
        let err = Engine::compile(&src, &UserRules::empty(), &EngineConfig::default()).unwrap_err();
        assert!(err.message.contains("a.yml"), "{err}");
    }

    #[test]
    fn engine_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
    }
}
