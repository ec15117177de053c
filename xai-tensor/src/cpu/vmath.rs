//! Vectorizable f32 `exp`, `tanh` and `sigmoid`: branch-free scalar formulas (selects, not
//! jumps; integer bit tricks, no float→int casts) that LLVM turns into SIMD loops, and slice
//! kernels that run them with AVX2 where the CPU has it. Every operation is a plain IEEE
//! `+ − × ÷` (no fused multiply-add), so the SSE2 and AVX2 loops give the same bits: results
//! do not depend on the machine.
//!
//! - exp (Cody & Waite range reduction): x = n·ln2 + r with n = round(x/ln2) and
//!   |r| ≤ ln2/2, e^x = 2ⁿ · P(r), P the degree-7 Taylor polynomial of e^r (truncation error
//!   below 6·10⁻⁹ relative). Results below f32's smallest normal number (x < −87.34) flush to
//!   0; above 88.72 it is +∞.
//! - tanh: the odd Taylor series through x¹⁵ for |x| < 0.5 (where 1 − 2/(e^{2|x|} + 1) would
//!   cancel), else sign(x)·(1 − 2/(e^{2|x|} + 1)).
//! - sigmoid: 1/(1 + e^{−|x|}) for x ≥ 0, e^{−|x|}/(1 + e^{−|x|}) below (no overflow).
//!
//! Measured against f64 over every 64th f32 in the test ranges (tests below), the largest
//! errors are 1.2 units in the last place for exp, 2.1 for tanh and 2.7 for sigmoid (libm's
//! are below 1).

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so that n·LN2_HI is exact for |n| ≤ 2⁸ (Cody & Waite).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5·2²³: adding it rounds to an integer, which then sits in the low mantissa bits.
const ROUNDER: f32 = 12_582_912.0;
const EXP_HI: f32 = 88.722_84;
const EXP_LO: f32 = -87.336_55;

/// e^x in f32 (see the module docs).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    // A NaN runs through harmlessly (no float→int casts) and is returned at the end.
    let xc = x.clamp(EXP_LO, EXP_HI);
    let t = xc * LOG2E + ROUNDER;
    let n = t - ROUNDER;
    let ni = (t.to_bits() as i32).wrapping_sub(ROUNDER.to_bits() as i32);
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2ⁿ as 2^min(n, 127)·(1 or 2): n reaches 128 just below the overflow threshold.
    let n1 = ni.min(127);
    let scale = f32::from_bits(((n1 + 127) << 23) as u32);
    let twice = if ni > 127 { 2.0 } else { 1.0 };
    let y = p * scale * twice;
    let y = if x > EXP_HI { f32::INFINITY } else { y };
    let y = if x < EXP_LO { 0.0 } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// tanh x in f32 (see the module docs).
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let x2 = x * x;
    // Taylor coefficients of tanh: −1/3, 2/15, −17/315, 62/2835, −1382/155925, …
    let small = x
        * (1.0
            + x2 * (-1.0 / 3.0
                + x2 * (2.0 / 15.0
                    + x2 * (-17.0 / 315.0
                        + x2 * (62.0 / 2835.0
                            + x2 * (-1382.0 / 155_925.0
                                + x2 * (21_844.0 / 6_081_075.0
                                    + x2 * (-929_569.0 / 638_512_875.0))))))));
    let big = (1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0)).copysign(x);
    if a < 0.5 {
        small
    } else {
        big
    }
}

/// The logistic function 1/(1 + e^{−x}) in f32 (see the module docs).
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_f32(-x.abs());
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 {
        s
    } else if x.is_nan() {
        x
    } else {
        e * s
    }
}

/// `out[i] = f(v[i])`, with an AVX2 copy of the loop where the CPU has AVX2.
macro_rules! slice_kernel {
    ($name:ident, $f:ident) => {
        pub(crate) fn $name(v: &[f32], out: &mut [f32]) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn wide(v: &[f32], out: &mut [f32]) {
                    for (o, &x) in out.iter_mut().zip(v) {
                        *o = $f(x);
                    }
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above).
                    return unsafe { wide(v, out) };
                }
            }
            for (o, &x) in out.iter_mut().zip(v) {
                *o = $f(x);
            }
        }
    };
}

slice_kernel!(exp_slice, exp_f32);
slice_kernel!(tanh_slice, tanh_f32);
slice_kernel!(sigmoid_slice, sigmoid_f32);

#[cfg(test)]
mod tests {
    use super::*;

    /// Units in the last place between an f32 result and the f64 truth.
    fn ulps(got: f32, want: f64) -> f64 {
        if got as f64 == want {
            return 0.0;
        }
        let w = want as f32;
        let ulp = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        (got as f64 - want).abs() / ulp
    }

    /// Every 64th f32 bit pattern with |x| in [lo, hi], both signs.
    fn sweep(lo: f32, hi: f32) -> impl Iterator<Item = f32> {
        (lo.to_bits()..=hi.to_bits())
            .step_by(64)
            .map(f32::from_bits)
            .flat_map(|x| [x, -x])
    }

    fn max_ulps(xs: impl Iterator<Item = f32>, f: fn(f32) -> f32, g: fn(f64) -> f64) -> f64 {
        xs.map(|x| ulps(f(x), g(x as f64))).fold(0.0, f64::max)
    }

    #[test]
    fn exp_is_within_two_ulps_and_handles_the_edges() {
        // Both signs up to the flush-to-zero threshold, then the positive side up to overflow.
        let near_overflow = sweep(87.3, 88.72).filter(|x| *x > 0.0);
        let e = max_ulps(sweep(1e-30, 87.33).chain(near_overflow), exp_f32, f64::exp);
        assert!(e <= 2.0, "max error {e} ulps");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(-88.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_and_sigmoid_are_within_a_few_ulps() {
        let t = max_ulps(sweep(1e-30, 12.0), tanh_f32, f64::tanh);
        assert!(t <= 3.0, "tanh max error {t} ulps");
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(tanh_f32(100.0), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        let logistic = |x: f64| 1.0 / (1.0 + (-x).exp());
        let s = max_ulps(sweep(1e-30, 80.0), sigmoid_f32, logistic);
        assert!(s <= 3.0, "sigmoid max error {s} ulps");
        assert_eq!(sigmoid_f32(0.0), 0.5);
        assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
        assert_eq!(sigmoid_f32(f32::NEG_INFINITY), 0.0);
        assert!(sigmoid_f32(f32::NAN).is_nan());
    }

    #[test]
    fn the_avx2_and_plain_loops_give_the_same_bits() {
        let v: Vec<f32> = sweep(1e-6, 20.0).step_by(97).collect();
        let mut fast = vec![0.0; v.len()];
        tanh_slice(&v, &mut fast);
        let plain: Vec<f32> = v.iter().map(|&x| tanh_f32(x)).collect();
        assert_eq!(
            fast.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            plain.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}
