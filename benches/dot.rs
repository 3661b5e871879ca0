//! Message data on the way out: `proto::dot::Encoder` (DATA: CRLF normalisation and
//! dot-stuffing; BDAT: line endings only) over 1 MiB inputs pushed in 64 KiB chunks, as a
//! message streams from a file; and `unstuff_line`, what a server and the POP3 client do to
//! each received line. Throughput in input bytes.
//!
//! `cargo bench --bench dot` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mailtalk::proto::dot::{unstuff_line, DataLine, Encoder, Stuffing};

const SIZE: usize = 1 << 20;
const CHUNK: usize = 64 * 1024;

/// `line` repeated up to exactly [`SIZE`] bytes.
fn repeat(line: &[u8]) -> Vec<u8> {
    line.iter().copied().cycle().take(SIZE).collect()
}

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let text = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempo";
    let mut lf = text.to_vec();
    lf.push(b'\n');
    let mut crlf = text.to_vec();
    crlf.extend_from_slice(b"\r\n");
    let mut dots = b".".to_vec();
    dots.extend_from_slice(&lf);
    vec![
        ("lf-lines", repeat(&lf)),
        ("crlf-lines", repeat(&crlf)),
        ("dot-lines", repeat(&dots)),
        ("one-long-line", vec![b'x'; SIZE]),
    ]
}

fn encode(c: &mut Criterion) {
    let inputs = inputs();
    for (mode, stuffing) in [("data", Stuffing::Dots), ("bdat", Stuffing::None)] {
        let mut g = c.benchmark_group(format!("encoder/{mode}"));
        g.throughput(Throughput::Bytes(SIZE as u64));
        for (name, input) in &inputs {
            let mut out = Vec::with_capacity(SIZE * 2);
            g.bench_with_input(BenchmarkId::from_parameter(name), input, |b, input| {
                b.iter(|| {
                    out.clear();
                    let mut e = Encoder::new(stuffing);
                    for chunk in input.chunks(CHUNK) {
                        e.push(black_box(chunk), &mut out);
                    }
                    e.finish(&mut out);
                    black_box(out.len())
                })
            });
        }
        g.finish();
    }
}

fn unstuff(c: &mut Criterion) {
    let mut g = c.benchmark_group("unstuff_line");
    g.throughput(Throughput::Bytes(SIZE as u64));
    for (name, input) in inputs() {
        if name == "one-long-line" {
            continue;
        }
        // The lines as a receiver sees them: stuffed, split at their line ends.
        let wire = mailtalk::proto::dot::stuff(&input);
        let lines: Vec<&[u8]> = wire
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for line in &lines {
                    if let DataLine::Content { bytes, .. } = unstuff_line(black_box(line)) {
                        n += bytes.len();
                    }
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, encode, unstuff);
criterion_main!(benches);
