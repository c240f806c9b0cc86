//! A Zipfian sampler by rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion
//! to generate variates from monotone discrete distributions", 1996), specialised to the
//! exponent s = 1: P(k) ∝ 1/k for k in 1..=n. Setting up for a new n costs one logarithm, so the
//! population may grow between samples (the mixed workload inserts keys as it runs).
//!
//! With h(x) = 1/x, the integral H(x) = ln x and its inverse exp(u) make the method exact.

/// Samples ranks 1..=n with probability proportional to 1/rank.
#[derive(Debug, Clone, Copy, Default)]
pub struct Zipf1;

/// H(1.5) - h(1): the lower end of the area the uniform variate is drawn from.
const H_X1: f64 = 0.405_465_108_108_164_4 - 1.0; // ln(1.5) - 1
/// The acceptance shortcut threshold 2 - H⁻¹(H(2.5) - h(2)) = 2 - 2.5·e^(-1/2).
const S: f64 = 2.0 - 2.5 * 0.606_530_659_712_633_4;

impl Zipf1 {
    /// One rank in 1..=n (n ≥ 1).
    pub fn sample(&self, rng: &mut fastrand::Rng, n: u64) -> u64 {
        assert!(n >= 1, "zipf over an empty population");
        let h_n = (n as f64 + 0.5).ln();
        loop {
            let u = h_n + rng.f64() * (H_X1 - h_n);
            let x = u.exp();
            let k = (x + 0.5).floor().clamp(1.0, n as f64);
            if k - x <= S || u >= (k + 0.5).ln() - 1.0 / k {
                return k as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_follow_one_over_k() {
        let n = 1000u64;
        let draws = 400_000usize;
        let mut rng = fastrand::Rng::with_seed(42);
        let mut counts = vec![0u64; n as usize + 1];
        for _ in 0..draws {
            let k = Zipf1.sample(&mut rng, n);
            assert!((1..=n).contains(&k));
            counts[k as usize] += 1;
        }
        let harmonic: f64 = (1..=n).map(|k| 1.0 / k as f64).sum();
        for k in [1u64, 2, 3, 10, 100] {
            let expected = draws as f64 / (k as f64 * harmonic);
            let got = counts[k as usize] as f64;
            let err = (got - expected).abs() / expected;
            assert!(err < 0.05, "rank {k}: got {got}, expected {expected:.0}");
        }
    }

    #[test]
    fn population_of_one() {
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..100 {
            assert_eq!(Zipf1.sample(&mut rng, 1), 1);
        }
    }
}
