//! Short, fixed-size time series kept by the sampler, and the least-squares
//! fit the queue detector reads from them.

use std::collections::VecDeque;

/// Samples `(t, values)` with `t` in seconds since the doctor was built.
/// Holds at most `cap` points; older ones fall off.
#[derive(Debug, Clone)]
pub(crate) struct Series<const N: usize> {
    points: VecDeque<(f64, [f64; N])>,
    cap: usize,
}

impl<const N: usize> Series<N> {
    pub(crate) fn new(cap: usize) -> Self {
        Series {
            points: VecDeque::with_capacity(cap.min(4096)),
            cap: cap.max(2),
        }
    }

    pub(crate) fn push(&mut self, t: f64, values: [f64; N]) {
        if self.points.len() == self.cap {
            self.points.pop_front();
        }
        self.points.push_back((t, values));
    }

    /// The points no older than `window` seconds before the newest.
    pub(crate) fn window(&self, window: f64) -> Vec<(f64, [f64; N])> {
        let Some(&(last, _)) = self.points.back() else {
            return Vec::new();
        };
        self.points
            .iter()
            .filter(|(t, _)| last - t <= window + 1e-9)
            .copied()
            .collect()
    }
}

/// Least-squares line through `(x, y)`: slope and R².
pub(crate) fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = if syy <= 0.0 {
        0.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    Some((slope, r2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straight_line_fits_exactly() {
        let pts: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64, 5.0 + 990.0 * i as f64))
            .collect();
        let (slope, r2) = fit(&pts).unwrap();
        assert!((slope - 990.0).abs() < 1e-9 && (r2 - 1.0).abs() < 1e-9);
        assert!(fit(&pts[..1]).is_none());
        let flat: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, 3.0)).collect();
        assert_eq!(fit(&flat), Some((0.0, 0.0)));
    }

    #[test]
    fn a_series_keeps_its_window_and_its_cap() {
        let mut s = Series::<1>::new(3);
        for i in 0..5 {
            s.push(i as f64, [i as f64]);
        }
        assert_eq!(s.window(100.0).len(), 3);
        assert_eq!(s.window(1.0).len(), 2);
    }
}
