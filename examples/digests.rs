//! Digest throughput on this CPU, for bench/apply.sh and docs/benchmarks.md: every digest
//! backend the transfer path could use, over the same buffer in 1 MiB updates (as the hashing
//! thread gets them), interleaved rounds, medians.
//!
//!   cargo run --release --example digests [MiB, default 512] [rounds, default 3]

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map_or(512, |a| a.parse().expect("MiB"));
    let rounds: usize = args.next().map_or(3, |a| a.parse().expect("rounds"));
    // Not all zeros, so nothing can shortcut; the content does not matter to a digest.
    let data: Vec<u8> = (0..mib << 20)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
        .collect();
    type Run = fn(&[u8]) -> Vec<u8>;
    let runs: [(&str, Run); 4] = [
        ("sha256 aws-lc", |d| aws(&aws_lc_rs::digest::SHA256, d)),
        ("sha512 aws-lc", |d| aws(&aws_lc_rs::digest::SHA512, d)),
        ("sha256 sha2", |d| rust::<sha2::Sha256>(d)),
        ("sha512 sha2", |d| rust::<sha2::Sha512>(d)),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    for _ in 0..rounds {
        for (i, (_, run)) in runs.iter().enumerate() {
            let t = Instant::now();
            std::hint::black_box(run(&data));
            times[i].push(t.elapsed().as_secs_f64());
        }
    }
    for ((name, _), mut t) in runs.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        let s = t[t.len() / 2];
        println!(
            "{name:<14} {:>6.0} MiB/s  {:.2} s/GiB",
            mib as f64 / s,
            s * 1024.0 / mib as f64
        );
    }
}

fn aws(algo: &'static aws_lc_rs::digest::Algorithm, data: &[u8]) -> Vec<u8> {
    let mut c = aws_lc_rs::digest::Context::new(algo);
    for chunk in data.chunks(1 << 20) {
        c.update(chunk);
    }
    c.finish().as_ref().to_vec()
}

fn rust<D: sha2::Digest>(data: &[u8]) -> Vec<u8> {
    let mut h = D::new();
    for chunk in data.chunks(1 << 20) {
        h.update(chunk);
    }
    h.finalize().to_vec()
}
