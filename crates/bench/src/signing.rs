//! `signing`: what one chain-head signature costs the writer. Every append transaction signs
//! each project's new head once (whatever the number of entries it appends), so the cost of
//! signing at a given capture rate is this figure times the append transactions per second.

use std::time::Instant;

use clap::Args;

use auditlog_api::entry::checkpoint::ChainSigner;

#[derive(Debug, Args)]
pub struct SigningArgs {
    /// Signatures to time.
    #[arg(long, default_value_t = 20_000)]
    pub signatures: u32,
}

pub fn run(args: SigningArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.signatures > 0, "--signatures must be at least 1");
    let signer = ChainSigner::from_seed([7; 32], &[])?;
    let hash = "ab".repeat(32);
    // Warm up, then time signing and checking apart.
    for seq in 0..1_000 {
        std::hint::black_box(signer.sign_head(1, seq, &hash, seq));
    }
    let started = Instant::now();
    let mut last = (String::new(), String::new());
    for seq in 0..i64::from(args.signatures) {
        last = std::hint::black_box(signer.sign_head(1, seq, &hash, 1_764_000_000_000_000 + seq));
    }
    let sign_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(args.signatures);
    let message = auditlog_api::entry::checkpoint::head_message(
        1,
        i64::from(args.signatures) - 1,
        &hash,
        1_764_000_000_000_000 + i64::from(args.signatures) - 1,
    );
    let started = Instant::now();
    for _ in 0..args.signatures {
        anyhow::ensure!(
            signer.verifies(&message, &last.0, &last.1),
            "a signature fails"
        );
    }
    let verify_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(args.signatures);
    println!(
        "signing a chain head: {sign_us:.1} µs; checking one: {verify_us:.1} µs ({} signatures, one thread)",
        args.signatures
    );
    Ok(())
}
