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

const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

/** Natural log of the gamma function (Lanczos, g = 7; ~15 significant digits for x > 0). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
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

/** Newton steps before giving up on convergence; from the starting point below 3 to 8 suffice. */
const MAX_NEWTON_STEPS = 60;

/**
 * The lowest rate not yet ruled out at `level` after `k` of `n`: the left end of the
 * confidence sequence. 0 when nothing is ruled out (including n = 0).
 *
 * The guard asks for these bounds several times a tick, so they are found by Newton's method on
 * g(u) = log M_n(e^u) − log(1/level), u = log p, rather than by bisection. g is convex in u
 * (−k·u is linear, −(n−k)·log(1 − e^u) is convex), so Newton started left of the root moves
 * monotonically towards it and never passes it: every iterate, and so the answer even if it were
 * cut short, is at or below the true bound, the conservative side. The start is where g's
 * asymptote as u → −∞, the line log B(k+1, n−k+1) − log(1/level) − k·u, crosses zero: g lies on
 * or above that line, so g ≥ 0 there, which puts it left of the root.
 */
export function lowerConfidenceBound(n: number, k: number, level: number): number {
  if (n <= 0 || k <= 0) return 0;
  const c = logBeta(k + 1, n - k + 1) - Math.log(1 / level);
  const rest = n - k;
  let u = c / k;
  for (let i = 0; i < MAX_NEWTON_STEPS; i++) {
    const oneMinusP = -Math.expm1(u);
    const g = c - k * u - (rest > 0 ? rest * Math.log(oneMinusP) : 0);
    const slope = -k + (rest > 0 ? (rest * Math.exp(u)) / oneMinusP : 0);
    // g ≤ 0 means u is on (or, by rounding, a hair past) the root; slope ≥ 0 cannot happen left of it.
    if (!(g > 0) || !(slope < 0)) break;
    const step = g / slope;
    u -= step;
    if (-step <= 1e-14 * Math.max(1, Math.abs(u))) break;
  }
  // The set always holds k/n (M_n(k/n) ≤ 1); the min keeps that true through rounding too.
  return Math.min(Math.exp(u), k / n);
}

/**
 * The highest rate not yet ruled out at `level` after `k` of `n`: the right end. 1 when n = 0.
 * M_n is symmetric under p ↔ 1 − p with k ↔ n − k, so this is one minus the lowest failure
 * rate not ruled out; that bound is conservative (low), so this one is too (high).
 */
export function upperConfidenceBound(n: number, k: number, level: number): number {
  if (n <= 0 || k >= n) return 1;
  return Math.max(1 - lowerConfidenceBound(n, n - k, level), k / n);
}

/**
 * Whether rate `p` is already ruled out at `level` after `k` of `n`, i.e. lies outside the
 * confidence sequence. One evaluation of M_n, so a caller can often settle a question about a
 * bound without computing the bound.
 */
export function rulesOut(n: number, k: number, p: number, level: number): boolean {
  return logMixtureMartingale(n, k, p) >= Math.log(1 / level);
}
