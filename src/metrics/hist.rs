//! Histogram conventions shared by every metric: precision, units, and recording that grows
//! the histogram instead of clamping.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Significant digits of every latency histogram: values are exact to 0.1%.
pub const SIGFIG: u8 = 3;

/// Nano-dollars per dollar: the unit of the cost-per-conversation histogram.
pub const NANO_USD_PER_USD: f64 = 1e9;

/// A new empty auto-resizing histogram with [`SIGFIG`] significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // 3 is within the 0..=5 digits hdrhistogram accepts, so this cannot fail.
    Histogram::new(SIGFIG).expect("3 significant digits is a valid HDR precision")
}

/// Records `value` in an auto-resizing histogram. (`saturating_record` would clamp to the
/// histogram's current top instead of growing it.)
pub fn record<T: hdrhistogram::Counter>(h: &mut Histogram<T>, value: u64) {
    if h.record(value).is_err() {
        // Only a count overflow gets here; keeping the sample at the top beats losing it.
        h.saturating_record(value);
    }
}

/// Microseconds in a duration, rounded to the nearest as `calls.csv` writes them (so a
/// histogram built from the CSV's latencies is the run's own), saturating (a histogram value).
pub fn duration_us(d: Duration) -> u64 {
    u64::try_from((d.as_nanos() + 500) / 1000).unwrap_or(u64::MAX)
}
