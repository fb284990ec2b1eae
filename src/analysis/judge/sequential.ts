/**
 * Always-valid (time-uniform) confidence sequences for a Bernoulli rate, from the beta-binomial
 * mixture martingale. For a fixed p, after n trials with k successes,
 *
 *   M_n(p) = B(k+1, n−k+1) / (p^k (1−p)^(n−k))      (uniform Beta(1,1) mixing prior)
 *
 * is a nonnegative martingale with mean 1 when the true rate is p, so by Ville's inequality
 * P(∃n: M_n(p) ≥ 1/level) ≤ level. The set {p : M_n(p) < 1/level} is therefore a confidence
 * interval that holds simultaneously at every n: it may be looked at after every request or every
 * second, forever, without inflating the error rate. It is an interval because log M_n is convex
 * in p, and it always contains the observed rate k/n.
 */

/** Natural log of the gamma function (Lanczos, g = 7; ~15 significant digits for x > 0). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/** log M_n(p) for k successes in n trials. */
export function logMixtureMartingale(n: number, k: number, p: number): number {
  const logLik = (k > 0 ? k * Math.log(p) : 0) + (n - k > 0 ? (n - k) * Math.log(1 - p) : 0);
  return logBeta(k + 1, n - k + 1) - logLik;
}

const ITERATIONS = 40;

/**
 * The lowest rate not yet ruled out at `level` after `k` of `n`: the left end of the
 * confidence sequence. 0 when nothing is ruled out (including n = 0).
 */
export function lowerConfidenceBound(n: number, k: number, level: number): number {
  if (n <= 0 || k <= 0) return 0;
  const threshold = Math.log(1 / level);
  const phat = k / n;
  // M is decreasing on (0, p̂]: find where it crosses the threshold.
  let lo = 0;
  let hi = phat;
  for (let i = 0; i < ITERATIONS; i++) {
    const mid = (lo + hi) / 2;
    if (logMixtureMartingale(n, k, mid) >= threshold) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The highest rate not yet ruled out at `level` after `k` of `n`: the right end. 1 when n = 0. */
export function upperConfidenceBound(n: number, k: number, level: number): number {
  if (n <= 0 || k >= n) return 1;
  const threshold = Math.log(1 / level);
  let lo = k / n;
  let hi = 1;
  for (let i = 0; i < ITERATIONS; i++) {
    const mid = (lo + hi) / 2;
    if (logMixtureMartingale(n, k, mid) >= threshold) hi = mid;
    else lo = mid;
  }
  return hi;
}
