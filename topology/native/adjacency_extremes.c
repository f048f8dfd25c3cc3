/* The largest two and the smallest eigenvalue of each 0/1 symmetric matrix of a stack.
 *
 * Each matrix is reduced to a symmetric tridiagonal one by Householder reflections (float64,
 * updating the lower triangle only), whose three wanted eigenvalues are then found by multisection: four points
 * split each eigenvalue's interval into five, the eigenvalues below every point counted by Sturm
 * sequences run as three interleaved four-lane vectors, until no point fits inside an interval.
 * How it is used and tested: docs/large-graphs.md, "Small graphs in bulk".
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef double v4 __attribute__((vector_size(32)));
typedef int64_t v4i __attribute__((vector_size(32)));
#define POINTS 4
#define WANTED 3

/* Householder reduction of symmetric a (n x n, overwritten) to diagonal d (n) and off-diagonal
 * e (n - 1); v and p are scratch of n. */
static void tridiagonalize(double *a, int64_t n, double *d, double *e, double *v, double *p) {
    for (int64_t k = 0; k + 2 < n; k++) {
        int64_t m = n - k - 1;
        double norm2 = 0.0;
        for (int64_t i = 0; i < m; i++) {
            v[i] = a[(k + 1 + i) * n + k]; /* column k below the diagonal, from the lower triangle */
            norm2 += v[i] * v[i];
        }
        d[k] = a[k * n + k];
        if (norm2 == 0.0) {
            e[k] = 0.0;
            continue;
        }
        double alpha = v[0] > 0 ? -sqrt(norm2) : sqrt(norm2);
        double vnorm2 = norm2 - v[0] * v[0] + (v[0] - alpha) * (v[0] - alpha);
        e[k] = alpha;
        v[0] -= alpha;
        double tau = 2.0 / vnorm2, pv = 0.0;
        double *b = a + (k + 1) * n + (k + 1); /* the trailing block; its lower triangle is kept */
        for (int64_t i = 0; i < m; i++) p[i] = 0.0;
        for (int64_t i = 0; i < m; i++) { /* p = B v from the lower triangle: row i and column i */
            const double *row = b + i * n;
            double s = 0.0, vi = v[i];
            for (int64_t j = 0; j < i; j++) {
                s += row[j] * v[j];
                p[j] += row[j] * vi;
            }
            p[i] += s + row[i] * vi;
        }
        for (int64_t i = 0; i < m; i++) {
            p[i] *= tau;
            pv += p[i] * v[i];
        }
        double half = 0.5 * tau * pv;
        for (int64_t i = 0; i < m; i++) p[i] -= half * v[i];
        for (int64_t i = 0; i < m; i++) { /* B -= v p' + p v', lower triangle only */
            double *row = b + i * n;
            double vi = v[i], pi = p[i];
            for (int64_t j = 0; j <= i; j++) row[j] -= vi * p[j] + pi * v[j];
        }
    }
    if (n >= 2) {
        d[n - 2] = a[(n - 2) * n + n - 2];
        e[n - 2] = a[(n - 1) * n + n - 2];
    }
    d[n - 1] = a[(n - 1) * n + n - 1];
}

/* c[t][j]: eigenvalues of (d, e2 = e^2) below x[t][j], by Sturm sequences (a zero pivot is
 * replaced by a tiny one, as in LAPACK's bisection). */
static void count_below(const double *d, const double *e2, int64_t n, const v4 x[WANTED], v4i c[WANTED]) {
    const v4 tiny = {1e-300, 1e-300, 1e-300, 1e-300};
    v4 q[WANTED];
    for (int t = 0; t < WANTED; t++) {
        q[t] = d[0] - x[t];
        c[t] = -(v4i)(q[t] < 0.0);
    }
    for (int64_t i = 1; i < n; i++) {
        double di = d[i], ei = e2[i - 1];
        for (int t = 0; t < WANTED; t++) {
            v4i zero = (v4i)(q[t] == 0.0);
            q[t] = (v4)(((v4i)q[t] & ~zero) | ((v4i)tiny & zero));
            q[t] = di - x[t] - ei / q[t];
            c[t] -= (v4i)(q[t] < 0.0);
        }
    }
}

/* The ranks[t]-th smallest eigenvalues (0-based) of (d, e2) inside [lo, hi], into out[t]. */
static void multisect(const double *d, const double *e2, int64_t n, const int64_t ranks[WANTED], double lo0,
                      double hi0, double *out) {
    double lo[WANTED], hi[WANTED];
    for (int t = 0; t < WANTED; t++) lo[t] = lo0, hi[t] = hi0;
    for (int round = 0; round < 200; round++) {
        v4 x[WANTED];
        v4i c[WANTED];
        int open = 0;
        for (int t = 0; t < WANTED; t++) {
            double step = (hi[t] - lo[t]) / (POINTS + 1);
            for (int j = 0; j < POINTS; j++) x[t][j] = lo[t] + step * (j + 1);
            if (x[t][0] > lo[t] && x[t][POINTS - 1] < hi[t]) open = 1;
            else x[t] = (v4){lo[t], lo[t], lo[t], lo[t]};  /* converged: counted, not used */
        }
        if (!open) break;
        count_below(d, e2, n, x, c);
        for (int t = 0; t < WANTED; t++) {
            if (!(x[t][0] > lo[t])) continue;
            double below = lo[t], above = hi[t];
            for (int j = 0; j < POINTS; j++) {
                if (c[t][j] > ranks[t]) {
                    above = x[t][j];
                    break;
                }
                below = x[t][j];
            }
            lo[t] = below, hi[t] = above;
        }
    }
    for (int t = 0; t < WANTED; t++) out[t] = 0.5 * (lo[t] + hi[t]);
}

/* out[3 g .. 3 g + 2] = lambda_1, lambda_2, lambda_n of matrix g of the (count, n, n) stack;
 * n >= 2. Returns 0, or 1 if out of memory. */
int adjacency_extremes(const uint8_t *stack, int64_t count, int64_t n, double *out) {
    double *a = malloc(n * n * sizeof(double)), *scratch = malloc(5 * n * sizeof(double));
    if (!a || !scratch) {
        free(a);
        free(scratch);
        return 1;
    }
    double *d = scratch, *e = d + n, *e2 = e + n, *v = e2 + n, *p = v + n;
    const int64_t ranks[WANTED] = {n - 1, n - 2, 0};
    for (int64_t g = 0; g < count; g++) {
        for (int64_t i = 0; i < n * n; i++) a[i] = stack[g * n * n + i];
        tridiagonalize(a, n, d, e, v, p);
        double lo = INFINITY, hi = -INFINITY; /* Gershgorin bounds of the tridiagonal matrix */
        for (int64_t i = 0; i < n; i++) {
            double radius = (i > 0 ? fabs(e[i - 1]) : 0.0) + (i + 1 < n ? fabs(e[i]) : 0.0);
            lo = fmin(lo, d[i] - radius);
            hi = fmax(hi, d[i] + radius);
        }
        double margin = 4 * 2.220446049250313e-16 * fmax(fabs(lo), fabs(hi)) + 1e-300;
        for (int64_t i = 0; i + 1 < n; i++) e2[i] = e[i] * e[i];
        multisect(d, e2, n, ranks, lo - margin, hi + margin, out + WANTED * g);
    }
    free(a);
    free(scratch);
    return 0;
}
