//! Charts rendered on the server as inline SVG: no chart library, nothing to load, and the
//! same numbers are printed beside them in a table. One chart type covers the analysis
//! page: horizontal bars, each split into coloured segments (one segment for a plain bar).

use super::layout::raw;
use maud::Markup;
use std::fmt::Write;

/// One bar: its label, its segments (value and CSS colour class), and the text at its end.
pub struct Bar {
    pub label: String,
    pub segments: Vec<(f64, &'static str)>,
    pub note: String,
}

const WIDTH: f64 = 640.0;
const LABEL: f64 = 170.0;
const NOTE: f64 = 110.0;
const ROW: f64 = 30.0;

/// Escapes text for SVG content and attributes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Shortens a label to fit the label column.
fn fit(s: &str) -> String {
    if s.chars().count() > 22 {
        format!("{}…", s.chars().take(21).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// A horizontal bar chart; bars are scaled to the largest total (or to `max` if given).
pub fn bars(id: &str, title: &str, summary: &str, bars: &[Bar], max: Option<f64>) -> Markup {
    let largest = max.unwrap_or_else(|| {
        bars.iter()
            .map(|b| b.segments.iter().map(|(v, _)| v).sum::<f64>())
            .fold(0.0, f64::max)
    });
    let span = WIDTH - LABEL - NOTE;
    let height = ROW * bars.len().max(1) as f64 + 8.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" id="{id}" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="{id}-t {id}-d" preserveAspectRatio="xMinYMin meet"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(summary)
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="0" y="20" class="muted">No data yet</text>"#
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = i as f64 * ROW + 4.0;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" class="label" text-anchor="end">{}</text>"#,
            LABEL - 8.0,
            y + 17.0,
            esc(&fit(&bar.label))
        );
        let _ = write!(
            svg,
            r#"<rect x="{LABEL}" y="{y}" width="{span}" height="22" class="track" rx="3"/>"#
        );
        let mut x = LABEL;
        for (value, class) in &bar.segments {
            if *value <= 0.0 || largest <= 0.0 {
                continue;
            }
            let w = (value / largest * span).max(1.0);
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y}" width="{w:.1}" height="22" class="{class}"><title>{value}</title></rect>"#
            );
            x += w;
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" class="note">{}</text>"#,
            WIDTH - NOTE + 8.0,
            y + 17.0,
            esc(&bar.note)
        );
    }
    svg.push_str("</svg>");
    raw(svg)
}

/// Colour classes for categories (versions) in a fixed order.
pub const PALETTE: [&str; 8] = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scaled() {
        let svg = bars(
            "x",
            "T<",
            "d",
            &[
                Bar {
                    label: "<script>".into(),
                    segments: vec![(10.0, "ok")],
                    note: "10".into(),
                },
                Bar {
                    label: "b".into(),
                    segments: vec![(5.0, "ok"), (5.0, "bad")],
                    note: "10".into(),
                },
            ],
            None,
        )
        .into_string();
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
        assert!(svg.contains("T&lt;"));
        assert!(svg.contains(r#"width="360.0""#), "{svg}");
    }
}
