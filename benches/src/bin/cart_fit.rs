//! Times xai's CART on a CSV dataset (for `tools/bench_cart.py`, beside scikit-learn):
//! `cart_fit FILE.csv [criterion] [repeats]` prints one JSON line with the fastest fit's
//! seconds (reading the CSV is not timed), the depth and the leaf count.

use std::time::Instant;
use xai_nn::Dataset;
use xai_passive::rules::{Cart, Criterion};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: cart_fit FILE.csv [gini|entropy] [repeats]")?;
    let criterion = match args.get(2).map(String::as_str) {
        Some("entropy") => Criterion::Entropy,
        _ => Criterion::Gini,
    };
    let repeats: usize = args.get(3).map_or(Ok(3), |r| r.parse())?;
    let data = Dataset::from_csv_path(std::path::Path::new(path))?;
    let cart = Cart {
        criterion,
        ..Cart::default()
    };
    let mut best = f64::INFINITY;
    let mut tree = None;
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        let t = cart.fit_classes(&data.x, &data.y, data.num_classes, None)?;
        best = best.min(t0.elapsed().as_secs_f64());
        tree = Some(t);
    }
    let tree = tree.ok_or("no fit")?;
    println!(
        "{{\"seconds\": {best:.4}, \"depth\": {}, \"leaves\": {}, \"threads\": {}}}",
        tree.depth(),
        tree.leaves(),
        rayon::current_num_threads()
    );
    Ok(())
}
