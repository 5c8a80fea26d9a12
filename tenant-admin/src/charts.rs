//! Charts drawn on the server as SVG: no script, no network, readable in both languages (the
//! titles come from the catalog; each chart also says what it shows as text for screen readers).

use std::fmt::Write;

/// A bar chart of `bars` (label, value), `title` as its accessible name.
pub fn bars(title: &str, bars: &[(String, i64)]) -> String {
    bars_shown(title, bars, |v| v.to_string())
}

/// A bar chart whose values are shown as `shown` writes them (amounts in the reader's format).
pub fn bars_shown(title: &str, bars: &[(String, i64)], shown: impl Fn(i64) -> String) -> String {
    const WIDTH: i64 = 600;
    const HEIGHT: i64 = 180;
    const BASE: i64 = 150;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let n = i64::try_from(bars.len()).unwrap_or(1).max(1);
    let slot = WIDTH / n;
    let bar = (slot * 3 / 4).max(1);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        escape(title)
    );
    let _ = write!(svg, "<title>{}</title>", escape(title));
    for (i, (label, value)) in bars.iter().enumerate() {
        let i = i64::try_from(i).unwrap_or(0);
        // Nothing below the line: a negative value (none expected) draws no bar.
        let h = value.max(&0).saturating_mul(BASE - 20) / max;
        let x = i * slot + (slot - bar) / 2;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{h}\" fill=\"#0b5cad\"><title>{}: {}</title></rect>",
            BASE - h,
            escape(label),
            escape(&shown(*value))
        );
        // Labels under every bar when they fit, else under every few.
        let every = (n / 12).max(1);
        if i % every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#1b1f24\">{}</text>",
                x + bar / 2,
                BASE + 16,
                escape(label)
            );
        }
    }
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{BASE}\" x2=\"{WIDTH}\" y2=\"{BASE}\" stroke=\"#4a5360\"/></svg>"
    );
    svg
}

/// How many of `values` fall into each of `buckets` equal ranges from the least to the most:
/// (the range's lower end, count).
pub fn histogram(values: &[i64], buckets: usize) -> Vec<(i64, i64)> {
    let (Some(&lo), Some(&hi)) = (values.iter().min(), values.iter().max()) else {
        return Vec::new();
    };
    let buckets = buckets.max(1);
    let span = i128::from(hi) - i128::from(lo) + 1;
    let n = i128::try_from(buckets).unwrap_or(1);
    let width = ((span + n - 1) / n).max(1);
    let mut counts = vec![0i64; buckets];
    for v in values {
        let at = (i128::from(*v) - i128::from(lo)) / width;
        if let Some(c) = usize::try_from(at).ok().and_then(|i| counts.get_mut(i)) {
            *c += 1;
        }
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let start = i128::from(lo) + width * i128::try_from(i).unwrap_or(0);
            (i64::try_from(start).unwrap_or(i64::MAX), c)
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_every_value_once() {
        let h = histogram(&[0, 1, 2, 10, 10, 100], 4);
        assert_eq!(h.len(), 4);
        assert_eq!(h.iter().map(|(_, c)| c).sum::<i64>(), 6);
        assert_eq!(h[0], (0, 5));
        assert_eq!(h[3].1, 1);
        assert!(histogram(&[], 4).is_empty());
        assert_eq!(histogram(&[5, 5], 3)[0], (5, 2));
    }

    #[test]
    fn charts_escape_their_words_and_scale_to_the_largest() {
        let svg = bars("A <b> & c", &[("x\"".to_owned(), 5), ("y".to_owned(), 10)]);
        assert!(svg.contains("aria-label=\"A &lt;b&gt; &amp; c\""));
        assert!(svg.contains("height=\"130\""), "{svg}");
        assert!(svg.contains("height=\"65\""), "{svg}");
        assert!(!svg.contains("x\""));
    }
}
