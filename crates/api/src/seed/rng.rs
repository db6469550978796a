//! The generator both histories draw from.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded, portable generator (ChaCha8): the same seed gives the same numbers on every
/// platform and build. It is a `rand` generator (`rand::Rng`'s methods apply), with the few
/// draws the histories use written out.
pub struct SeedRng(ChaCha8Rng);

impl SeedRng {
    pub fn seed_from_u64(seed: u64) -> SeedRng {
        SeedRng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// Uniform in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        let width = (high - low + 1).max(1) as f64;
        low + ((self.unit() * width) as i64).min(high - low)
    }

    /// True with probability `probability`.
    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// An index into `weights`, with probability proportional to its weight.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut target = self.unit() * total;
        for (index, weight) in weights.iter().enumerate() {
            if target < *weight {
                return index;
            }
            target -= weight;
        }
        weights.len().saturating_sub(1)
    }

    /// A Poisson-distributed count with mean `lambda` (Knuth's method, for small `lambda`).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        let limit = (-lambda).exp();
        let mut product = self.unit();
        let mut count = 0;
        while product > limit {
            count += 1;
            product *= self.unit();
        }
        count
    }
}

impl RngCore for SeedRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.0.try_fill_bytes(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draws_stay_in_their_ranges() {
        let mut rng = SeedRng::seed_from_u64(7);
        for _ in 0..10_000 {
            assert!(rng.below(3) < 3);
            let value = rng.range(-2, 2);
            assert!((-2..=2).contains(&value));
            assert!(rng.weighted(&[0.0, 1.0, 0.0]) == 1);
        }
        let mean = (0..10_000).map(|_| rng.poisson(3.0)).sum::<u32>() as f64 / 10_000.0;
        assert!((2.8..3.2).contains(&mean), "{mean}");
    }

    #[test]
    fn one_seed_gives_one_sequence() {
        let draws = |seed| {
            let mut rng = SeedRng::seed_from_u64(seed);
            (0..8).map(|_| rng.range(0, 1_000_000)).collect::<Vec<_>>()
        };
        assert_eq!(draws(11), draws(11));
        assert_ne!(draws(11), draws(12));
    }
}
