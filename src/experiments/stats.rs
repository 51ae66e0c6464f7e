//! Confidence intervals for means of independent replications (Student t).

/// Two-sided 97.5 % quantiles of Student's t for 1 to 30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The 0.975 quantile of Student's t with `df` degrees of freedom (the multiplier of a 95 %
/// two-sided interval): the table up to 30, then the Cornish–Fisher expansion around the
/// normal quantile, within 2·10⁻⁴ of the exact value above 30.
pub fn t975(df: u32) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T975[df as usize - 1],
        _ => {
            let z: f64 = 1.959_963_984_540_054;
            let n = f64::from(df);
            z + (z.powi(3) + z) / (4.0 * n)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * n * n)
                + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z)
                    / (384.0 * n.powi(3))
        }
    }
}

/// Mean and 95 % confidence half-width of independent samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanCi {
    /// The sample mean.
    pub mean: f64,
    /// Half-width of the 95 % interval (`t · s / √n`); `None` with fewer than two samples.
    pub half_width: Option<f64>,
    /// How many samples.
    pub n: usize,
}

impl MeanCi {
    /// The mean and interval of `xs`.
    pub fn of(xs: &[f64]) -> Self {
        let n = xs.len();
        if n == 0 {
            return Self {
                mean: 0.0,
                half_width: None,
                n,
            };
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let half_width = (n >= 2).then(|| {
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t975(u32::try_from(n - 1).unwrap_or(u32::MAX)) * (var / n as f64).sqrt()
        });
        Self {
            mean,
            half_width,
            n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables_and_join_the_normal() {
        assert_eq!(t975(1), 12.706);
        assert_eq!(t975(30), 2.042);
        // Exact values: t(0.975; 40) = 2.0211, 60: 2.0003, 120: 1.9799, 1000: 1.9623.
        for (df, exact) in [(40, 2.0211), (60, 2.0003), (120, 1.9799), (1000, 1.9623)] {
            assert!((t975(df) - exact).abs() < 2e-4, "df {df}: {}", t975(df));
        }
        assert!((t975(u32::MAX) - 1.95996).abs() < 1e-4);
    }

    #[test]
    fn an_interval_is_t_times_the_standard_error() {
        let ci = MeanCi::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(ci.mean, 2.5);
        // s² = 5/3, se = √(5/12), t(3) = 3.182.
        let hw = ci.half_width.unwrap();
        assert!((hw - 3.182 * (5.0f64 / 12.0).sqrt()).abs() < 1e-12);
        assert_eq!(MeanCi::of(&[7.0]).half_width, None);
    }
}
