//! Inline SVG charts (no script, no external assets).

use std::fmt::Write as _;

use crate::html::escape;

/// One bar of a time chart: label (tooltip and axis), total, highlighted part.
pub(crate) struct TimeBar {
    pub label: String,
    pub total: u64,
    pub highlighted: u64,
}

/// A round number ≥ `max` for the y axis.
fn nice_ceiling(max: u64) -> u64 {
    if max <= 5 {
        return 5;
    }
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= max {
        magnitude *= 10;
    }
    for step in [1, 2, 5, 10] {
        let candidate = magnitude.saturating_mul(step);
        if candidate >= max {
            return candidate;
        }
    }
    max
}

/// Vertical bars over time: grey totals with the highlighted share (blocks) in red.
pub(crate) fn time_chart(bars: &[TimeBar], total_label: &str, highlight_label: &str) -> String {
    let (w, h, left, bottom, top) = (960.0f64, 260.0f64, 56.0f64, 36.0f64, 28.0f64);
    let plot_w = w - left - 12.0;
    let plot_h = h - bottom - top;
    let max = nice_ceiling(
        bars.iter()
            .map(|b| b.total.max(b.highlighted))
            .max()
            .unwrap_or(0),
    );
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(&format!("{total_label} and {highlight_label} over time"))
    );
    for i in 0..=4 {
        let v = max * i / 4;
        let y = top + plot_h - plot_h * (i as f64) / 4.0;
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" class=\"grid\"/>",
            w - 12.0
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{v}</text>",
            left - 6.0,
            y + 4.0
        );
    }
    if !bars.is_empty() {
        let slot = plot_w / bars.len() as f64;
        let bar_w = (slot * 0.8).max(1.0);
        for (i, b) in bars.iter().enumerate() {
            let x = left + slot * i as f64 + (slot - bar_w) / 2.0;
            let th = plot_h * b.total as f64 / max as f64;
            let hh = plot_h * b.highlighted as f64 / max as f64;
            let tip = escape(&format!(
                "{}: {} {total_label}, {} {highlight_label}",
                b.label, b.total, b.highlighted
            ));
            let _ = write!(s, "<g><title>{tip}</title>");
            let _ = write!(s, "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{th:.1}\" class=\"bar-total\"/>", top + plot_h - th);
            if b.highlighted > 0 {
                let _ = write!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" class=\"bar-hl\"/>",
                    top + plot_h - hh,
                    hh.max(1.5)
                );
            }
            s.push_str("</g>");
        }
        let label_at = |i: usize| left + slot * i as f64 + slot / 2.0;
        let mut shown = vec![0, bars.len() / 2, bars.len() - 1];
        shown.dedup();
        for i in shown {
            let anchor = if i == 0 {
                "start"
            } else if i == bars.len() - 1 {
                "end"
            } else {
                "middle"
            };
            let x = if i == 0 {
                left
            } else if i == bars.len() - 1 {
                w - 12.0
            } else {
                label_at(i)
            };
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"{anchor}\">{}</text>",
                h - 12.0,
                escape(&bars[i].label)
            );
        }
    } else {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"middle\">no data</text>",
            w / 2.0,
            h / 2.0
        );
    }
    let _ = write!(
        s,
        "<rect x=\"{left}\" y=\"6\" width=\"12\" height=\"12\" class=\"bar-total\"/><text x=\"{:.1}\" y=\"16\" class=\"legend\">{}</text>",
        left + 16.0,
        escape(total_label)
    );
    let _ = write!(
        s,
        "<rect x=\"{:.1}\" y=\"6\" width=\"12\" height=\"12\" class=\"bar-hl\"/><text x=\"{:.1}\" y=\"16\" class=\"legend\">{}</text>",
        left + 130.0,
        left + 146.0,
        escape(highlight_label)
    );
    s.push_str("</svg>");
    s
}

/// Horizontal bars: one row per (label, count), longest first as given.
pub(crate) fn bar_list(rows: &[(String, u64)], class: &str) -> String {
    if rows.is_empty() {
        return "<p class=\"muted\">None in this period.</p>".to_owned();
    }
    let row_h = 26.0f64;
    let (w, label_w) = (460.0f64, 150.0f64);
    let h = row_h * rows.len() as f64 + 4.0;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let mut s = String::new();
    let _ = write!(s, "<svg class=\"bars\" viewBox=\"0 0 {w} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">");
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 2.0;
        let bw = ((w - label_w - 60.0) * *n as f64 / max as f64).max(2.0);
        let short: String = label.chars().take(22).collect();
        let _ = write!(
            s,
            "<g><title>{}: {n}</title><text x=\"{:.1}\" y=\"{:.1}\" class=\"label\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" class=\"{class}\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"count\">{n}</text></g>",
            escape(label),
            label_w - 8.0,
            y + 17.0,
            escape(&short),
            y + 4.0,
            row_h - 8.0,
            label_w + bw + 6.0,
            y + 17.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn axis_ceilings_are_round() {
        assert_eq!(nice_ceiling(0), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(450), 500);
        assert_eq!(nice_ceiling(1000), 1000);
        assert_eq!(nice_ceiling(1001), 2000);
    }

    #[test]
    fn charts_escape_labels_and_draw_every_bar() {
        let bars: Vec<TimeBar> = (0..10)
            .map(|i| TimeBar {
                label: format!("<t{i}>"),
                total: i * 10,
                highlighted: i,
            })
            .collect();
        let svg = time_chart(&bars, "requests", "blocked");
        assert_eq!(
            svg.matches("class=\"bar-total\"").count(),
            10 + 1,
            "10 bars + legend"
        );
        assert!(svg.contains("&lt;t0&gt;") && !svg.contains("<t0>"));
        let list = bar_list(&[("sqli".into(), 5), ("<x>".into(), 1)], "bar-cat");
        assert!(list.contains("&lt;x&gt;") && list.matches("class=\"bar-cat\"").count() == 2);
        assert!(bar_list(&[], "c").contains("None"));
    }
}
