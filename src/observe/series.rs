//! What the scrapes of a run found: every kept series' values at each scrape's time, the
//! scrapes that failed by kind, and what the report makes of them (gauges as mean, max and
//! last; counters as increase and per-second rates, across restarts; the server's token
//! counters beside ours).
//!
//! Memory is one value per kept series per scrape, like the run's per-second timeline; past
//! [`MAX_SERIES`] distinct series, new ones are counted and dropped.

use std::collections::BTreeMap;

use super::parse::{Kind, Sample};
use super::settings::TOKEN_COUNTERS;

/// Most distinct series kept (a vLLM page has a few hundred with every histogram bucket; the
/// sums, counts, counters and gauges are far fewer).
pub const MAX_SERIES: usize = 2000;

/// One series: a metric name and its labels.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesKey {
    /// Metric name.
    pub name: String,
    /// `key="value"` pairs, sorted, comma-joined.
    pub labels: String,
}

/// One series' values.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Counter or gauge.
    pub kind: Kind,
    /// `(seconds since the run's start, value)`, in time order.
    pub points: Vec<(f64, f64)>,
}

/// A metric's figures over the run, its label sets summed (as PromQL's `sum(metric)`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MetricFigures {
    /// Gauge: its mean over the scrapes; counter: its mean rate per second over the run.
    pub mean: f64,
    /// Gauge: its largest value; counter: its largest rate between two scrapes.
    pub max: f64,
    /// Gauge: the last value; counter: the rate between the last two scrapes.
    pub last: f64,
    /// Counter: its increase from the first scrape to the last (restarts counted as from
    /// zero); gauge: `None`.
    pub increase: Option<f64>,
}

/// The server's own token counts over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerTokens {
    /// The prompt-token counter read.
    pub prompt_metric: String,
    /// The generation-token counter read.
    pub generation_metric: String,
    /// Its increase over the run.
    pub prompt_tokens: f64,
    /// Its increase over the run.
    pub generation_tokens: f64,
}

/// Everything the scrapes of one run found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerMetrics {
    /// Where the page was (a URL redacted of secrets, or `embedded mock`).
    pub source: String,
    /// Scrape interval, seconds.
    pub interval_s: f64,
    /// Every kept series.
    pub series: BTreeMap<SeriesKey, Series>,
    /// Scrapes that gave samples.
    pub scrapes_ok: u64,
    /// Scrapes that failed, by kind (`connect`, `timeout`, `status`, `broken`, `too_large`,
    /// `parse`, `empty`).
    pub failures: BTreeMap<String, u64>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Samples of series past [`MAX_SERIES`], not kept.
    pub dropped_samples: u64,
    /// When the last scrape that gave samples was taken.
    last_scrape_s: Option<f64>,
}

impl ServerMetrics {
    /// A store for scrapes of `source` every `interval_s` seconds.
    pub fn new(source: String, interval_s: f64) -> Self {
        ServerMetrics {
            source,
            interval_s,
            ..ServerMetrics::default()
        }
    }

    /// Adds one scrape's samples, taken `t` seconds after the run's start. A counter that
    /// first appears after the first scrape (a server publishes a model's counters once it
    /// served that model) is given a 0 at the scrape before: it did not exist, so none of its
    /// count is older than the run.
    pub fn add_scrape(&mut self, t: f64, samples: Vec<Sample>) {
        self.scrapes_ok += 1;
        let before = self.last_scrape_s.replace(t);
        for s in samples {
            let key = SeriesKey {
                name: s.name,
                labels: s.labels,
            };
            if let Some(series) = self.series.get_mut(&key) {
                series.points.push((t, s.value));
            } else if self.series.len() < MAX_SERIES {
                let mut points = Vec::new();
                if let (Kind::Counter, Some(b)) = (s.kind, before) {
                    points.push((b, 0.0));
                }
                points.push((t, s.value));
                self.series.insert(
                    key,
                    Series {
                        kind: s.kind,
                        points,
                    },
                );
            } else {
                self.dropped_samples += 1;
            }
        }
    }

    /// Counts one failed scrape.
    pub fn add_failure(&mut self, kind: &str, message: String) {
        *self.failures.entry(kind.to_string()).or_default() += 1;
        self.last_error = Some(message);
    }

    /// Failed scrapes.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// The metric names kept, each with its kind.
    pub fn metric_names(&self) -> BTreeMap<&str, Kind> {
        self.series
            .iter()
            .map(|(k, s)| (k.name.as_str(), s.kind))
            .collect()
    }

    /// A metric's label sets summed at each scrape: `(t, value)` for gauges; for counters,
    /// `(t, rate per second since the scrape before)`, restarts read as from zero.
    pub fn summed(&self, name: &str) -> Vec<(f64, f64)> {
        let mut kind = Kind::Gauge;
        // Per scrape time: the sum, keyed by the time's bits (all series of one scrape share
        // its time).
        let mut at: BTreeMap<u64, f64> = BTreeMap::new();
        for (key, series) in self.series.range(range_of(name)) {
            debug_assert_eq!(key.name, name);
            kind = series.kind;
            match series.kind {
                Kind::Gauge => {
                    for &(t, v) in &series.points {
                        *at.entry(t.to_bits()).or_default() += v;
                    }
                }
                Kind::Counter => {
                    for w in series.points.windows(2) {
                        *at.entry(w[1].0.to_bits()).or_default() += increment(w[0].1, w[1].1);
                    }
                }
            }
        }
        let mut points: Vec<(f64, f64)> = at
            .into_iter()
            .map(|(t, v)| (f64::from_bits(t), v))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        if kind == Kind::Counter {
            // Increments to rates over the time since the scrape before.
            let times = self.scrape_times(name);
            for p in points.iter_mut() {
                // Sorted times: a search, not a scan (an hour at 1 s is 3,600 points).
                let i = times.partition_point(|t| *t < p.0);
                let before = if i > 0 { times[i - 1] } else { p.0 };
                let dt = p.0 - before;
                p.1 = if dt > 0.0 { p.1 / dt } else { 0.0 };
            }
        }
        points
    }

    /// The times `name` was scraped (any of its label sets).
    fn scrape_times(&self, name: &str) -> Vec<f64> {
        let mut times: Vec<f64> = self
            .series
            .range(range_of(name))
            .flat_map(|(_, s)| s.points.iter().map(|p| p.0))
            .collect();
        times.sort_by(f64::total_cmp);
        times.dedup();
        times
    }

    /// A counter's increase over the run, its label sets summed; `None` when absent.
    pub fn increase(&self, name: &str) -> Option<f64> {
        let mut found = false;
        let mut total = 0.0;
        for (_, series) in self.series.range(range_of(name)) {
            found = true;
            total += series
                .points
                .windows(2)
                .map(|w| increment(w[0].1, w[1].1))
                .sum::<f64>();
        }
        found.then_some(total)
    }

    /// A metric's figures (see [`MetricFigures`]); `None` when it was never scraped.
    pub fn figures(&self, name: &str) -> Option<MetricFigures> {
        let kind = self.series.range(range_of(name)).next()?.1.kind;
        let points = self.summed(name);
        match kind {
            Kind::Gauge => {
                let n = points.len().max(1) as f64;
                Some(MetricFigures {
                    mean: points.iter().map(|p| p.1).sum::<f64>() / n,
                    max: points.iter().map(|p| p.1).fold(f64::MIN, f64::max).max(0.0),
                    last: points.last().map_or(0.0, |p| p.1),
                    increase: None,
                })
            }
            Kind::Counter => {
                let increase = self.increase(name).unwrap_or(0.0);
                let times = self.scrape_times(name);
                let span = match (times.first(), times.last()) {
                    (Some(a), Some(b)) if b > a => b - a,
                    _ => 0.0,
                };
                Some(MetricFigures {
                    mean: if span > 0.0 { increase / span } else { 0.0 },
                    max: points.iter().map(|p| p.1).fold(0.0, f64::max),
                    last: points.last().map_or(0.0, |p| p.1),
                    increase: Some(increase),
                })
            }
        }
    }

    /// The server's token counts over the run, from the first pair of
    /// [`TOKEN_COUNTERS`] that was scraped.
    pub fn tokens(&self) -> Option<ServerTokens> {
        TOKEN_COUNTERS.iter().find_map(|(p, g)| {
            Some(ServerTokens {
                prompt_tokens: self.increase(p)?,
                generation_tokens: self.increase(g)?,
                prompt_metric: p.to_string(),
                generation_metric: g.to_string(),
            })
        })
    }
}

/// The keys of one metric name, whatever its labels.
fn range_of(name: &str) -> std::ops::RangeInclusive<SeriesKey> {
    SeriesKey {
        name: name.to_string(),
        labels: String::new(),
    }..=SeriesKey {
        name: name.to_string(),
        labels: "\u{10FFFF}".to_string(),
    }
}

/// A counter's increment between two readings: a drop means it restarted from zero.
fn increment(before: f64, after: f64) -> f64 {
    if after >= before {
        after - before
    } else {
        after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, labels: &str, kind: Kind, value: f64) -> Sample {
        Sample {
            name: name.into(),
            labels: labels.into(),
            kind,
            value,
        }
    }

    #[test]
    fn gauges_sum_their_label_sets() {
        let mut m = ServerMetrics::new("x".into(), 1.0);
        m.add_scrape(
            0.0,
            vec![
                s("q", "a=\"1\"", Kind::Gauge, 1.0),
                s("q", "a=\"2\"", Kind::Gauge, 2.0),
            ],
        );
        m.add_scrape(
            1.0,
            vec![
                s("q", "a=\"1\"", Kind::Gauge, 5.0),
                s("q", "a=\"2\"", Kind::Gauge, 4.0),
            ],
        );
        assert_eq!(m.summed("q"), vec![(0.0, 3.0), (1.0, 9.0)]);
        let f = m.figures("q").unwrap();
        assert_eq!((f.mean, f.max, f.last, f.increase), (6.0, 9.0, 9.0, None));
    }

    #[test]
    fn counters_are_rates_and_survive_a_restart() {
        let mut m = ServerMetrics::new("x".into(), 1.0);
        for (t, v) in [(0.0, 100.0), (1.0, 110.0), (3.0, 150.0), (4.0, 5.0)] {
            m.add_scrape(t, vec![s("c_total", "", Kind::Counter, v)]);
        }
        // Increments 10, 40, then a restart: 5 from zero.
        assert_eq!(m.increase("c_total"), Some(55.0));
        assert_eq!(
            m.summed("c_total"),
            vec![(1.0, 10.0), (3.0, 20.0), (4.0, 5.0)]
        );
        let f = m.figures("c_total").unwrap();
        assert_eq!(
            (f.mean, f.max, f.last, f.increase),
            (55.0 / 4.0, 20.0, 5.0, Some(55.0))
        );
        assert_eq!(m.increase("absent"), None);
        assert_eq!(m.figures("absent"), None);
    }

    #[test]
    fn a_counter_born_during_the_run_counts_from_zero() {
        let mut m = ServerMetrics::new("x".into(), 1.0);
        m.add_scrape(0.0, vec![s("up", "", Kind::Gauge, 1.0)]);
        m.add_scrape(1.0, vec![s("c_total", "model=\"a\"", Kind::Counter, 7.0)]);
        m.add_scrape(2.0, vec![s("c_total", "model=\"a\"", Kind::Counter, 9.0)]);
        assert_eq!(m.increase("c_total"), Some(9.0));
        // But a counter present at the first scrape counts from its value there.
        let mut m = ServerMetrics::new("x".into(), 1.0);
        m.add_scrape(0.0, vec![s("c_total", "", Kind::Counter, 7.0)]);
        m.add_scrape(1.0, vec![s("c_total", "", Kind::Counter, 9.0)]);
        assert_eq!(m.increase("c_total"), Some(2.0));
    }

    #[test]
    fn token_counters_are_found_by_server() {
        let mut m = ServerMetrics::new("x".into(), 1.0);
        m.add_scrape(
            0.0,
            vec![
                s("llamacpp:prompt_tokens_total", "", Kind::Counter, 10.0),
                s("llamacpp:tokens_predicted_total", "", Kind::Counter, 1.0),
            ],
        );
        m.add_scrape(
            2.0,
            vec![
                s("llamacpp:prompt_tokens_total", "", Kind::Counter, 110.0),
                s("llamacpp:tokens_predicted_total", "", Kind::Counter, 21.0),
            ],
        );
        let t = m.tokens().unwrap();
        assert_eq!(t.prompt_metric, "llamacpp:prompt_tokens_total");
        assert_eq!((t.prompt_tokens, t.generation_tokens), (100.0, 20.0));
    }

    #[test]
    fn series_past_the_bound_are_counted_not_kept() {
        let mut m = ServerMetrics::new("x".into(), 1.0);
        let many: Vec<Sample> = (0..MAX_SERIES + 3)
            .map(|i| s("g", &format!("i=\"{i}\""), Kind::Gauge, 1.0))
            .collect();
        m.add_scrape(0.0, many);
        assert_eq!(m.series.len(), MAX_SERIES);
        assert_eq!(m.dropped_samples, 3);
    }
}
