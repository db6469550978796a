//! Generated histories: the demo (a living month driven through the real server, for people to
//! try the product) and the synthetic benchmark stores (millions of entries written straight into
//! the database). Both are deterministic: they draw every choice from [`SeedRng`] seeded with a
//! fixed number, so the same options give the same history.

pub mod demo;
mod rng;
pub mod synthetic;

pub use rng::SeedRng;
