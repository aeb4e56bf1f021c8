//! The latency model: a base delay perturbed by a seeded jitter distribution.
//!
//! A reply of `n` tokens takes `ttft` until its first token and `per_token` between tokens,
//! each delay jittered on its own. Streaming replies really wait between chunks; non-streaming
//! replies wait the sum before answering, so both take the same time for the same draws.

use std::time::Duration;

use crate::config::{Jitter, ModelSettings};
use crate::rng::SplitMix;

/// `base` perturbed by `jitter` of size `ratio × base`; never negative.
pub fn jittered(base: Duration, jitter: Jitter, ratio: f64, rng: &mut SplitMix) -> Duration {
    if base.is_zero() || ratio == 0.0 {
        return base;
    }
    let b = base.as_secs_f64();
    let scale = ratio * b;
    let secs = match jitter {
        Jitter::None => b,
        Jitter::Uniform => b + scale * (2.0 * rng.next_f64() - 1.0),
        Jitter::Normal => b + scale * rng.normal(),
        Jitter::Exponential => b - scale * (1.0 - rng.next_f64()).ln(),
    };
    Duration::from_secs_f64(secs.clamp(0.0, 1e6))
}

/// Time to the first token.
pub fn first_token(s: &ModelSettings, rng: &mut SplitMix) -> Duration {
    jittered(s.ttft, s.jitter, s.jitter_ratio, rng)
}

/// One gap between two tokens.
pub fn token_gap(s: &ModelSettings, rng: &mut SplitMix) -> Duration {
    jittered(s.per_token, s.jitter, s.jitter_ratio, rng)
}

/// Total time of a non-streaming reply of `tokens` tokens: first token, then a gap per
/// further token.
pub fn total(s: &ModelSettings, tokens: u64, rng: &mut SplitMix) -> Duration {
    let mut t = first_token(s, rng);
    if !s.per_token.is_zero() {
        for _ in 1..tokens {
            t += token_gap(s, rng);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_ms(jitter: Jitter, ratio: f64) -> (f64, f64, f64) {
        let mut rng = SplitMix::new(11);
        let base = Duration::from_millis(100);
        let xs: Vec<f64> = (0..20_000)
            .map(|_| jittered(base, jitter, ratio, &mut rng).as_secs_f64() * 1e3)
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let min = xs.iter().cloned().fold(f64::MAX, f64::min);
        let max = xs.iter().cloned().fold(f64::MIN, f64::max);
        (mean, min, max)
    }

    #[test]
    fn distributions_have_the_documented_shape() {
        assert_eq!(mean_ms(Jitter::None, 0.5), (100.0, 100.0, 100.0));
        let (mean, min, max) = mean_ms(Jitter::Uniform, 0.2);
        assert!(
            (mean - 100.0).abs() < 1.0 && min >= 80.0 && max <= 120.0,
            "{mean} {min} {max}"
        );
        let (mean, min, _) = mean_ms(Jitter::Normal, 0.1);
        assert!((mean - 100.0).abs() < 1.0 && min >= 0.0, "{mean}");
        let (mean, min, _) = mean_ms(Jitter::Exponential, 0.3);
        assert!((mean - 130.0).abs() < 2.0 && min >= 100.0, "{mean} {min}");
    }

    #[test]
    fn total_is_first_token_plus_gaps() {
        let s = ModelSettings {
            ttft: Duration::from_millis(200),
            per_token: Duration::from_millis(10),
            jitter: Jitter::None,
            ..ModelSettings::default()
        };
        assert_eq!(
            total(&s, 5, &mut SplitMix::new(0)),
            Duration::from_millis(240)
        );
        assert_eq!(
            total(&ModelSettings::instant(), 500, &mut SplitMix::new(0)),
            Duration::ZERO
        );
    }
}
