//! Bar charts drawn on the server as SVG, with no script: each chart has a title and a
//! description for screen readers, and the page shows the same figures in a table beside it.

use std::fmt::Write;

/// One set of bars: its name (in the key) and a CSS class that colours it.
pub struct Series<'a> {
    pub name: &'a str,
    pub class: &'a str,
    pub values: Vec<u32>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Grouped bars, one group per label, one bar per series, scaled to the largest value. `id`
/// names the chart's title, unique on the page.
pub fn bars(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    const HEIGHT: u32 = 160;
    const BAR: u32 = 10;
    const GAP: u32 = 12;
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let group = BAR * u32::try_from(series.len()).unwrap_or(1) + GAP;
    let width = group * u32::try_from(labels.len()).unwrap_or(0) + 40;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {width} {}" role="img" aria-labelledby="{id}"><title id="{id}">{}</title>"#,
        HEIGHT + 40,
        escape(title),
        id = escape(id)
    );
    let _ = write!(
        svg,
        r#"<line class="chart__axis" x1="30" y1="{HEIGHT}" x2="{width}" y2="{HEIGHT}"/><text class="chart__tick" x="26" y="{HEIGHT}" text-anchor="end">0</text><text class="chart__tick" x="26" y="12" text-anchor="end">{top}</text>"#
    );
    for (n, label) in (0u32..).zip(labels) {
        let x0 = 34 + n * group;
        for (k, s) in (0u32..).zip(series) {
            let value = s.values.get(n as usize).copied().unwrap_or(0);
            let h = value * (HEIGHT - 10) / top;
            let _ = write!(
                svg,
                r#"<rect class="{}" x="{}" y="{}" width="{BAR}" height="{h}"><title>{}: {value}</title></rect>"#,
                escape(s.class),
                x0 + k * BAR,
                HEIGHT - h,
                escape(&format!("{label}, {}", s.name))
            );
        }
        let _ = write!(
            svg,
            r#"<text class="chart__tick" x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x0 + group / 2 - GAP / 2,
            HEIGHT + 16,
            escape(label)
        );
    }
    for (k, s) in (0u32..).zip(series) {
        let y = HEIGHT + 34;
        let x = 34 + k * 110;
        let _ = write!(
            svg,
            r#"<rect class="{}" x="{x}" y="{}" width="10" height="10"/><text class="chart__tick" x="{}" y="{y}">{}</text>"#,
            escape(s.class),
            y - 9,
            x + 14,
            escape(s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_largest_value_and_text_is_escaped() {
        let svg = bars(
            "c1",
            "Held & planned",
            &["Sep".to_owned(), "Oct".to_owned()],
            &[
                Series {
                    name: "Planned",
                    class: "chart__planned",
                    values: vec![4, 2],
                },
                Series {
                    name: "Held",
                    class: "chart__held",
                    values: vec![2, 0],
                },
            ],
        );
        assert!(svg.contains("<title id=\"c1\">Held &amp; planned</title>"));
        // The largest bar is the full 150 units; half of it 75; none 0.
        assert!(
            svg.contains("height=\"150\"><title>Sep, Planned: 4</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("height=\"75\"><title>Sep, Held: 2</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("height=\"0\"><title>Oct, Held: 0</title>"),
            "{svg}"
        );
        assert_eq!(
            svg.matches("<rect").count(),
            4 + 2,
            "four bars and two keys"
        );
    }
}
